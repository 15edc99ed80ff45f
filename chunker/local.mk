noinst_LIBRARIES += chunker/libcairn_chunker.a
chunker_libcairn_chunker_a_SOURCES = chunker/chunker.h chunker/chunker-internal.h \
	chunker/fastcdc.c chunker/gear.c chunker/scan.c
