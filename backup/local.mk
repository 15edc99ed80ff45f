libcairn_a_SOURCES += backup/backup.h backup/backup-internal.h backup/backup.c \
	backup/file.c backup/hashpool.c backup/meta.c backup/queue.c backup/walk.c

# util/wq.c, the bounded work queue every pipeline stage uses.
check_PROGRAMS += tests/unit/test-wq
TESTS += tests/unit/test-wq
tests_unit_test_wq_LDADD = $(CAIRN_LIBS)
