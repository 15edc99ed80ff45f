# Unit tests: one binary per source file, TAP through automake's driver.
UNIT_TESTS = tests/unit/test-fastcdc tests/unit/test-key tests/unit/test-tree \
	tests/unit/test-repo
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)
tests_unit_test_fastcdc_LDADD = $(CAIRN_LIBS)
tests_unit_test_key_LDADD = $(CAIRN_LIBS)
tests_unit_test_tree_LDADD = $(CAIRN_LIBS)
tests_unit_test_repo_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/tap.h
include tests/tools/tools.mk

# Parser fuzz targets: replayed over their corpus (plus deterministic mutations) on every
# `make check`; `--enable-fuzz` (clang) also builds libFuzzer binaries.
FUZZ_TARGETS = tests/fuzz/fuzz-tree tests/fuzz/fuzz-keyfile
check_PROGRAMS += $(FUZZ_TARGETS) tests/fuzz/mkseeds
tests_fuzz_fuzz_tree_SOURCES = tests/fuzz/fuzz-tree.c tests/fuzz/fuzz-main.c
tests_fuzz_fuzz_tree_LDADD = $(CAIRN_LIBS)
tests_fuzz_fuzz_keyfile_SOURCES = tests/fuzz/fuzz-keyfile.c tests/fuzz/fuzz-main.c
tests_fuzz_fuzz_keyfile_LDADD = $(CAIRN_LIBS)
tests_fuzz_mkseeds_LDADD = $(CAIRN_LIBS)
TESTS += tests/fuzz/replay-tree.sh tests/fuzz/replay-keyfile.sh
EXTRA_DIST += tests/fuzz/replay-tree.sh tests/fuzz/replay-keyfile.sh tests/fuzz/corpus
if ENABLE_FUZZ
noinst_PROGRAMS = tests/fuzz/libfuzzer-tree tests/fuzz/libfuzzer-keyfile
tests_fuzz_libfuzzer_tree_SOURCES = tests/fuzz/fuzz-tree.c
tests_fuzz_libfuzzer_tree_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_libfuzzer_tree_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_tree_LDADD = $(CAIRN_LIBS)
tests_fuzz_libfuzzer_keyfile_SOURCES = tests/fuzz/fuzz-keyfile.c
tests_fuzz_libfuzzer_keyfile_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_libfuzzer_keyfile_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_libfuzzer_keyfile_LDADD = $(CAIRN_LIBS)
endif

TESTS += tests/e2e/repair-snapshots.sh
EXTRA_DIST += tests/e2e/repair-snapshots.sh

# The golden repository: written once by tests/golden/make-fixture.sh, read the same by
# every later build (byte-for-byte outputs in tests/golden/expect/).
TESTS += tests/golden/golden.sh
EXTRA_DIST += tests/golden/golden.sh tests/golden/make-fixture.sh tests/golden/repo \
	tests/golden/expect

TESTS += tests/e2e/hardening.sh
EXTRA_DIST += tests/e2e/hardening.sh

# Every suite runs through tests/run-suite.sh: a deadline (CAIRN_TEST_TIMEOUT), its own
# process group and TMPDIR, and nothing left running or mounted after it.
LOG_COMPILER = $(top_srcdir)/tests/run-suite.sh
SH_LOG_COMPILER = $(top_srcdir)/tests/run-suite.sh
EXTRA_DIST += tests/run-suite.sh
# scripts/test.sh compares the results it finds with this list: one log per suite.
print-test-logs:
	@echo $(TEST_LOGS)
.PHONY: print-test-logs
