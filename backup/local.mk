noinst_LIBRARIES += backup/libcairn_backup.a
backup_libcairn_backup_a_SOURCES = backup/backup.h backup/backup-internal.h backup/backup.c \
	backup/file.c backup/hashpool.c backup/meta.c backup/queue.c backup/walk.c
