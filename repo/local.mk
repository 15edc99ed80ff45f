noinst_LIBRARIES += repo/libcairn_repo.a
repo_libcairn_repo_a_SOURCES = repo/repo.h repo/repo-internal.h repo/admin.h repo/admin.c repo/aside.c repo/backend.h repo/backend.c \
	repo/backend_local.c repo/blob.c repo/idx.c repo/idx_dup.c repo/index_dup.c repo/index_file.c \
	repo/lock.c \
	repo/object.c repo/pack.c repo/packhdr.c repo/packread.c repo/repo.c repo/snapshot.c repo/tree.c

# Tests of the format's guarantees (docs/format.md "What a reader checks"). Test builds
# (configure --enable-test-hooks) tell the suites so through CAIRN_TEST_HOOKS.
if TEST_HOOKS
AM_TESTS_ENVIRONMENT += export CAIRN_TEST_HOOKS=1;
endif
REPO_UNIT = tests/unit/test-kdf-bounds tests/unit/test-pack-verify tests/unit/test-tree-names \
	tests/unit/test-blob-type tests/unit/test-idx tests/unit/test-index-cut
check_PROGRAMS += $(REPO_UNIT)
# Blobs indexed twice and hostile index files (repo/idx_dup.c, repo/index_dup.c).
check_PROGRAMS += tests/unit/test-idx-dup
TESTS += tests/unit/test-idx-dup
tests_unit_test_idx_dup_LDADD = $(CAIRN_LIBS)
TESTS += $(REPO_UNIT)
tests_unit_test_kdf_bounds_LDADD = $(CAIRN_LIBS)
tests_unit_test_pack_verify_LDADD = $(CAIRN_LIBS)
tests_unit_test_tree_names_LDADD = $(CAIRN_LIBS)
tests_unit_test_blob_type_LDADD = $(CAIRN_LIBS)
tests_unit_test_idx_LDADD = $(CAIRN_LIBS)
tests_unit_test_index_cut_LDADD = $(CAIRN_LIBS)
REPO_E2E = tests/e2e/repo-names.sh tests/e2e/repo-locks.sh tests/e2e/repo-init-race.sh \
	tests/e2e/repo-deep.sh
TESTS += $(REPO_E2E)
EXTRA_DIST += $(REPO_E2E)
# Blobs indexed in two packs (a lost pack stored again), odd entries in index/.
REPO_DUP_E2E = tests/e2e/faults-dup-lost-pack.sh tests/e2e/faults-dup-index-aside.sh
TESTS += $(REPO_DUP_E2E)
EXTRA_DIST += $(REPO_DUP_E2E)

# Format versions 1 and 2 end to end; setconfig seals hostile configs for it.
check_PROGRAMS += tests/tools/setconfig
tests_tools_setconfig_LDADD = $(CAIRN_LIBS)
TESTS += tests/e2e/format-v2.sh
EXTRA_DIST += tests/e2e/format-v2.sh tests/e2e/format-v2-ids.py
