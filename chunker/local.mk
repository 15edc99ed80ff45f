libcairn_a_SOURCES += chunker/chunker.h chunker/fastcdc.c chunker/gear.c
