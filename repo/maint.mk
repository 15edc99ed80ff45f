# Maintenance (forget, prune, repair, keys, stats, diff): sources listed here.
libcairn_a_SOURCES += repo/maint.h repo/forget.c repo/prune.c repo/keys.c repo/repair.c repo/repair_snapshots.c \
	repo/stats.c repo/diff.c

MAINT_UNIT = tests/unit/test-forget
check_PROGRAMS += $(MAINT_UNIT)
TESTS += $(MAINT_UNIT)
tests_unit_test_forget_LDADD = $(CAIRN_LIBS)

MAINT_E2E = tests/e2e/maint-prune.sh tests/e2e/maint-keys-check.sh tests/e2e/maint-misc.sh
TESTS += $(MAINT_E2E)
EXTRA_DIST += $(MAINT_E2E) bench/maint.sh docs/maintenance.md
