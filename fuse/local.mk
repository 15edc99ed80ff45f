# fuse: read-only libfuse3 view of snapshots (`cairn mount`), see docs/mount.md.
noinst_LIBRARIES += fuse/libcairn_fuse.a
fuse_libcairn_fuse_a_SOURCES = fuse/snapfs.h fuse/snapfs-internal.h fuse/snapfs.c fuse/fs.c \
	fuse/ops.c fuse/read.c fuse/inode.c fuse/dirlist.c fuse/layout.c fuse/extmap.c \
	fuse/blobcache.c fuse/forged.c fuse/dirstream.c fuse/dirindex.c

check_PROGRAMS += tests/unit/test-extmap tests/unit/test-blobcache tests/unit/test-layout \
	tests/unit/test-inode
TESTS += tests/unit/test-extmap tests/unit/test-blobcache tests/unit/test-layout \
	tests/unit/test-inode
tests_unit_test_extmap_LDADD = $(CAIRN_LIBS)
tests_unit_test_blobcache_LDADD = $(CAIRN_LIBS)
tests_unit_test_layout_LDADD = $(CAIRN_LIBS)
tests_unit_test_inode_LDADD = $(CAIRN_LIBS)

# Real FUSE mounts (root, /dev/fuse, fusermount3: tests/fuse/deps.sh installs the tools).
TESTS += tests/e2e/fuse-mount.sh
TESTS += tests/e2e/oddfiles-mount-seek.sh
EXTRA_DIST += tests/e2e/oddfiles-mount-seek.sh
TESTS += tests/e2e/mount-bigdir.sh
EXTRA_DIST += tests/e2e/mount-bigdir.sh tests/e2e/mount-lib.sh
EXTRA_DIST += tests/e2e/fuse-mount.sh tests/fuse/deps.sh bench/fuse.sh docs/mount.md

# read_open's failure path, with libfuse's reply calls replaced at link time.
check_PROGRAMS += tests/unit/test-read
TESTS += tests/unit/test-read
tests_unit_test_read_LDADD = $(CAIRN_LIBS)
tests_unit_test_read_LDFLAGS = -Wl,--wrap=fuse_req_userdata -Wl,--wrap=fuse_reply_open \
	-Wl,--wrap=fuse_reply_err
