# Maintenance commands (docs/maintenance.md).
libcairn_a_SOURCES += cli/cmd_forget.c cli/cmd_prune.c cli/cmd_key.c cli/cmd_stats.c \
	cli/cmd_diff.c cli/cmd_repair.c
