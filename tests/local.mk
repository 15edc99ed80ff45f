# Unit tests: one binary per source file, TAP through automake's driver.
UNIT_TESTS = tests/unit/test-fastcdc tests/unit/test-key tests/unit/test-tree \
	tests/unit/test-repo
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)
tests_unit_test_fastcdc_LDADD = $(CAIRN_LIBS)
tests_unit_test_key_LDADD = $(CAIRN_LIBS)
tests_unit_test_tree_LDADD = $(CAIRN_LIBS)
tests_unit_test_repo_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/tap.h tests/unit/test-repo-fixture.h
# The pack header iterator against sound and hostile headers (repo/packhdr.c).
check_PROGRAMS += tests/unit/test-pack-header
TESTS += tests/unit/test-pack-header
tests_unit_test_pack_header_LDADD = $(CAIRN_LIBS)
# A pack we write ends at PACK_WRITE_BLOBS blobs (repo/pack.c).
check_PROGRAMS += tests/unit/test-pack-cut
TESTS += tests/unit/test-pack-cut
tests_unit_test_pack_cut_LDADD = $(CAIRN_LIBS)
# The chunker's lane search and resumable cuts against the plain loop (chunker/scan.c).
check_PROGRAMS += tests/unit/test-chunker-scan
TESTS += tests/unit/test-chunker-scan
tests_unit_test_chunker_scan_LDADD = $(CAIRN_LIBS)
include tests/tools/tools.mk

# Parser fuzz targets: every seed of tests/fuzz/corpus/<name> must decode, and
# deterministic mutations of each must not crash, on every `make check`; `--enable-fuzz`
# (clang) also builds libFuzzer binaries over the same targets.
# (automake needs the program names spelled out)
FUZZ_TARGETS = tests/fuzz/fuzz-tree tests/fuzz/fuzz-keyfile tests/fuzz/fuzz-packheader \
	tests/fuzz/fuzz-index tests/fuzz/fuzz-snapshot tests/fuzz/fuzz-s3xml \
	tests/fuzz/fuzz-kubeconfig tests/fuzz/fuzz-watch tests/fuzz/fuzz-lock \
	tests/fuzz/fuzz-config tests/fuzz/fuzz-duration tests/fuzz/fuzz-cron tests/fuzz/fuzz-kubeobj
check_PROGRAMS += $(FUZZ_TARGETS) tests/fuzz/mkseeds
TESTS += $(FUZZ_TARGETS)
FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz-main.c
FUZZ_REPO = tests/fuzz/scratch-repo.c tests/fuzz/scratch-repo.h
tests_fuzz_fuzz_tree_SOURCES = tests/fuzz/fuzz-tree.c $(FUZZ_COMMON)
tests_fuzz_fuzz_keyfile_SOURCES = tests/fuzz/fuzz-keyfile.c $(FUZZ_COMMON)
tests_fuzz_fuzz_packheader_SOURCES = tests/fuzz/fuzz-packheader.c $(FUZZ_REPO) $(FUZZ_COMMON)
tests_fuzz_fuzz_index_SOURCES = tests/fuzz/fuzz-index.c $(FUZZ_REPO) $(FUZZ_COMMON)
tests_fuzz_fuzz_snapshot_SOURCES = tests/fuzz/fuzz-snapshot.c $(FUZZ_REPO) $(FUZZ_COMMON)
tests_fuzz_fuzz_s3xml_SOURCES = tests/fuzz/fuzz-s3xml.c $(FUZZ_COMMON)
tests_fuzz_fuzz_kubeconfig_SOURCES = tests/fuzz/fuzz-kubeconfig.c $(FUZZ_COMMON)
tests_fuzz_fuzz_watch_SOURCES = tests/fuzz/fuzz-watch.c $(FUZZ_COMMON)
tests_fuzz_fuzz_lock_SOURCES = tests/fuzz/fuzz-lock.c $(FUZZ_REPO) $(FUZZ_COMMON)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c $(FUZZ_REPO) $(FUZZ_COMMON)
tests_fuzz_fuzz_duration_SOURCES = tests/fuzz/fuzz-duration.c $(FUZZ_COMMON)
tests_fuzz_fuzz_cron_SOURCES = tests/fuzz/fuzz-cron.c $(FUZZ_COMMON)
tests_fuzz_fuzz_kubeobj_SOURCES = tests/fuzz/fuzz-kubeobj.c $(FUZZ_COMMON)
tests_fuzz_fuzz_tree_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_keyfile_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_packheader_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_index_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_snapshot_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_s3xml_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_kubeconfig_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_watch_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_lock_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_config_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_duration_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_cron_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_kubeobj_LDADD = $(CAIRN_LIBS)
tests_fuzz_mkseeds_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/fuzz-entry.c
if ENABLE_FUZZ
noinst_PROGRAMS = tests/fuzz/libfuzzer-tree tests/fuzz/libfuzzer-keyfile \
	tests/fuzz/libfuzzer-packheader tests/fuzz/libfuzzer-index tests/fuzz/libfuzzer-snapshot \
	tests/fuzz/libfuzzer-s3xml tests/fuzz/libfuzzer-kubeconfig tests/fuzz/libfuzzer-watch
LIBFUZZER_FLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
LIBFUZZER_ENTRY = tests/fuzz/fuzz-entry.c tests/fuzz/fuzz.h
tests_fuzz_libfuzzer_tree_SOURCES = tests/fuzz/fuzz-tree.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_keyfile_SOURCES = tests/fuzz/fuzz-keyfile.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_packheader_SOURCES = tests/fuzz/fuzz-packheader.c $(FUZZ_REPO) $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_index_SOURCES = tests/fuzz/fuzz-index.c $(FUZZ_REPO) $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_snapshot_SOURCES = tests/fuzz/fuzz-snapshot.c $(FUZZ_REPO) $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_s3xml_SOURCES = tests/fuzz/fuzz-s3xml.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_kubeconfig_SOURCES = tests/fuzz/fuzz-kubeconfig.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_watch_SOURCES = tests/fuzz/fuzz-watch.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_tree_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_tree_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_tree_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_keyfile_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_keyfile_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_keyfile_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_packheader_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_packheader_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_packheader_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_index_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_index_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_index_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_snapshot_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_snapshot_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_snapshot_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_s3xml_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_s3xml_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_s3xml_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_kubeconfig_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_kubeconfig_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_kubeconfig_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_watch_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_watch_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_watch_LDADD = $(CAIRN_LIBS)
noinst_PROGRAMS += tests/fuzz/libfuzzer-lock tests/fuzz/libfuzzer-config \
	tests/fuzz/libfuzzer-duration tests/fuzz/libfuzzer-cron tests/fuzz/libfuzzer-kubeobj
tests_fuzz_libfuzzer_lock_SOURCES = tests/fuzz/fuzz-lock.c $(FUZZ_REPO) $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_config_SOURCES = tests/fuzz/fuzz-config.c $(FUZZ_REPO) $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_duration_SOURCES = tests/fuzz/fuzz-duration.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_cron_SOURCES = tests/fuzz/fuzz-cron.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_kubeobj_SOURCES = tests/fuzz/fuzz-kubeobj.c $(LIBFUZZER_ENTRY)
tests_fuzz_libfuzzer_lock_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_config_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_duration_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_cron_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_kubeobj_CFLAGS = $(LIBFUZZER_FLAGS)
tests_fuzz_libfuzzer_lock_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_config_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_duration_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_cron_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_kubeobj_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_lock_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_config_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_duration_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_cron_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_kubeobj_LDADD = $(CAIRN_LIBS)
endif

TESTS += tests/e2e/repair-snapshots.sh
EXTRA_DIST += tests/e2e/repair-snapshots.sh

# The golden repository: written once by tests/golden/make-fixture.sh, read the same by
# every later build (byte-for-byte outputs in tests/golden/expect/).
TESTS += tests/golden/golden.sh
EXTRA_DIST += tests/golden/golden.sh tests/golden/make-fixture.sh tests/golden/repo \
	tests/golden/expect

TESTS += tests/e2e/hardening.sh tests/e2e/faults-damage.sh tests/e2e/faults-tmp.sh \
	tests/e2e/faults-lost-pack.sh
EXTRA_DIST += tests/e2e/hardening.sh tests/e2e/faults-damage.sh tests/e2e/faults-tmp.sh \
	tests/e2e/faults-lost-pack.sh

# Hostile input end to end: a volume changing under the backup, a repository written by
# an attacker (hostile-obj seals what any holder of the key can write).
check_PROGRAMS += tests/fuzz/hostile-obj
tests_fuzz_hostile_obj_LDADD = $(CAIRN_LIBS)
TESTS += tests/e2e/hostile-repo.sh tests/e2e/hostile-volume.sh
EXTRA_DIST += tests/e2e/hostile-repo.sh tests/e2e/hostile-volume.sh

# Odd files of real volumes: preallocated database files.
TESTS += tests/e2e/oddfiles-prealloc.sh
EXTRA_DIST += tests/e2e/oddfiles-prealloc.sh

# Every suite runs through tests/run-suite.sh: a deadline (CAIRN_TEST_TIMEOUT), its own
# process group and TMPDIR, and nothing left running or mounted after it.
LOG_COMPILER = $(top_srcdir)/tests/run-suite.sh
SH_LOG_COMPILER = $(top_srcdir)/tests/run-suite.sh
EXTRA_DIST += tests/run-suite.sh
# scripts/test.sh compares the results it finds with this list: one log per suite.
print-test-logs:
	@echo $(TEST_LOGS)
.PHONY: print-test-logs

# Red-team suites: attacks and faults from a hostile pod, repository or caller.
TESTS += tests/e2e/redteam-volume.sh tests/e2e/redteam-mount.sh tests/e2e/redteam-cli.sh
EXTRA_DIST += tests/e2e/redteam-volume.sh tests/e2e/redteam-mount.sh tests/e2e/redteam-cli.sh
# Attacks from a hostile pod (backup), a forged repository (restore, mount) and a
# hostile target (restore), each asserting the safe behaviour.
TESTS += tests/e2e/attack-backup.sh tests/e2e/attack-mount.sh tests/e2e/attack-restore.sh
EXTRA_DIST += tests/e2e/attack-backup.sh tests/e2e/attack-mount.sh tests/e2e/attack-restore.sh

# The S3 client against a hostile or broken server (tests/s3/hostile.py).
TESTS += tests/e2e/s3hostile-server.sh
EXTRA_DIST += tests/e2e/s3hostile-server.sh tests/s3/hostile.py

# Shared subtrees: stats reads each distinct tree once, diff skips equal subtrees and
# streams (maint/stats.c, maint/diff.c); a forged 2^40-path tree bomb in both.
check_PROGRAMS += tests/unit/test-dagbomb
TESTS += tests/unit/test-dagbomb tests/e2e/dagbomb.sh
tests_unit_test_dagbomb_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/e2e/dagbomb.sh
