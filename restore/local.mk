noinst_LIBRARIES += restore/libcairn_restore.a
restore_libcairn_restore_a_SOURCES = restore/restore.h restore/restore-internal.h restore/restore.c \
	restore/dir.c restore/hardlink.c restore/meta.c restore/name.c restore/fetch.c restore/file.c restore/reap.c restore/trees.c \
	restore/verify.c restore/same.c restore/partials.c restore/rootnames.c restore/space.c

# Restore against forged and damaged repositories (forge writes snapshots with names a
# backup never makes).
check_PROGRAMS += tests/tools/forge
tests_tools_forge_LDADD = $(CAIRN_LIBS)
TESTS += tests/e2e/restore-names.sh tests/e2e/restore-partial.sh tests/e2e/restore-s3.sh
EXTRA_DIST += tests/e2e/restore-names.sh tests/e2e/restore-partial.sh tests/e2e/restore-s3.sh
RESTORE_UNIT_TESTS = tests/unit/test-restore-fail tests/unit/test-restore-special \
	tests/unit/test-restore-devices tests/unit/test-restore-runs \
	tests/unit/test-restore-privileges
check_PROGRAMS += $(RESTORE_UNIT_TESTS)
TESTS += $(RESTORE_UNIT_TESTS)
tests_unit_test_restore_fail_LDADD = $(CAIRN_LIBS)
tests_unit_test_restore_special_LDADD = $(CAIRN_LIBS)
tests_unit_test_restore_devices_LDADD = $(CAIRN_LIBS)
tests_unit_test_restore_runs_LDADD = $(CAIRN_LIBS)
tests_unit_test_restore_privileges_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/unit/test-restore-fixture.h
# cairn restore --overwrite if-changed.
TESTS += tests/e2e/restore-overwrite.sh
EXTRA_DIST += tests/e2e/restore-overwrite.sh
# The free-space check before a restore writes (a real 8 MiB tmpfs as the target).
TESTS += tests/e2e/restore-space.sh
EXTRA_DIST += tests/e2e/restore-space.sh
# Restore from S3 (Swift): one ranged GET per pack across batch cuts; cut pack GETs fail
# cleanly.
TESTS += tests/e2e/s3restore-gets.sh
EXTRA_DIST += tests/e2e/s3restore-gets.sh

# The set of names seen at a snapshot root (and the mount's set of forged folders named).
check_PROGRAMS += tests/unit/test-rootnames
TESTS += tests/unit/test-rootnames
tests_unit_test_rootnames_LDADD = $(CAIRN_LIBS)
