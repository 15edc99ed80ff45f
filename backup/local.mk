noinst_LIBRARIES += backup/libcairn_backup.a
backup_libcairn_backup_a_SOURCES = backup/backup.h backup/backup-internal.h backup/backup.c \
	backup/file.c backup/hashpool.c backup/meta.c backup/open.c backup/queue.c backup/rootname.c backup/stdin.c backup/walk.c

# util/wq.c, the bounded work queue every pipeline stage uses.
check_PROGRAMS += tests/unit/test-wq
TESTS += tests/unit/test-wq
tests_unit_test_wq_LDADD = $(CAIRN_LIBS)

# The walker against entries swapped between stat and open (root: mknod).
check_PROGRAMS += tests/unit/test-walk
TESTS += tests/unit/test-walk
tests_unit_test_walk_LDADD = $(CAIRN_LIBS)

# The pipeline stops soon after a worker error or a cancel (root: a small tmpfs).
check_PROGRAMS += tests/unit/test-pipeline
TESTS += tests/unit/test-pipeline
tests_unit_test_pipeline_LDADD = $(CAIRN_LIBS)

# backup_stream_*: feed sizes do not move cuts, only producer status 0 writes a snapshot.
check_PROGRAMS += tests/unit/test-stream
TESTS += tests/unit/test-stream
tests_unit_test_stream_LDADD = $(CAIRN_LIBS)

# cairn backup --stdin / --stdin-from-command end to end (round trip, dedup, failing
# producers, Ctrl-C, peak RSS of 1 GiB).
TESTS += tests/e2e/backup-stdin.sh tests/e2e/backup-roots.sh
EXTRA_DIST += tests/e2e/backup-stdin.sh tests/e2e/backup-roots.sh
# Blobs waiting for an index file are bounded by count (small-files backups, repo/blob.c).
check_PROGRAMS += tests/unit/test-index-bound
TESTS += tests/unit/test-index-bound
tests_unit_test_index_bound_LDADD = $(CAIRN_LIBS)
# The file reader's steps, window slides and hash batches never move a cut or an id.
check_PROGRAMS += tests/unit/test-chunkread
TESTS += tests/unit/test-chunkread
tests_unit_test_chunkread_LDADD = $(CAIRN_LIBS)
# bk_submit waits for room before it copies a chunk, gives up on a cancel, accounts bytes.
check_PROGRAMS += tests/unit/test-inflight
TESTS += tests/unit/test-inflight
tests_unit_test_inflight_LDADD = $(CAIRN_LIBS)
