libcairn_a_SOURCES += cli/cmd_maint.c
