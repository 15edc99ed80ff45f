noinst_LIBRARIES += restore/libcairn_restore.a
restore_libcairn_restore_a_SOURCES = restore/restore.h restore/restore-internal.h restore/restore.c \
	restore/hardlink.c restore/meta.c restore/pool.c restore/verify.c
