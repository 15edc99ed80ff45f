# Maintenance (forget, prune, repair, keys, stats, diff): sources listed here.
noinst_LIBRARIES += maint/libcairn_maint.a
maint_libcairn_maint_a_SOURCES = maint/maint.h maint/maint-internal.h maint/check.c maint/blobset.c maint/progress.c maint/forget.c maint/prune.c maint/keys.c maint/repair.c maint/repair_snapshots.c \
	maint/stats.c maint/diff.c maint/ixwalk.c maint/segbounds.h maint/segbounds.c

MAINT_UNIT = tests/unit/test-forget tests/unit/test-idset tests/unit/test-maint-headers \
	tests/unit/test-segbounds
check_PROGRAMS += $(MAINT_UNIT)
TESTS += $(MAINT_UNIT)
tests_unit_test_forget_LDADD = $(CAIRN_LIBS)
tests_unit_test_idset_LDADD = $(CAIRN_LIBS)
tests_unit_test_maint_headers_LDADD = $(CAIRN_LIBS)
tests_unit_test_segbounds_LDADD = $(CAIRN_LIBS)

# Prune releases the loaded index before its sweep (maint/prune.c, repo_index_drop).
check_PROGRAMS += tests/unit/test-prune-index
TESTS += tests/unit/test-prune-index
tests_unit_test_prune_index_LDADD = $(CAIRN_LIBS)

MAINT_E2E = tests/e2e/maint-prune.sh tests/e2e/maint-keys-check.sh tests/e2e/maint-misc.sh \
	tests/e2e/maint-progress.sh tests/e2e/maint-check-index.sh tests/e2e/maint-damaged-pack.sh
TESTS += $(MAINT_E2E)
EXTRA_DIST += $(MAINT_E2E) bench/maint.sh docs/maintenance.md

# check reports what restore refuses as forged or corrupt (names, order, extents, links).
TESTS += tests/e2e/check-forged.sh
EXTRA_DIST += tests/e2e/check-forged.sh
# ... across tree segment boundaries too, where check skips a segment it checked already.
TESTS += tests/e2e/check-segments.sh
EXTRA_DIST += tests/e2e/check-segments.sh
