# Test tools (tests/tools/): mktree makes deterministic trees with every file and metadata
# kind, treecmp compares two trees entry by entry; the e2e suites below are built on them.
check_PROGRAMS += tests/tools/mktree tests/tools/treecmp
tests_tools_mktree_SOURCES = tests/tools/mktree.c tests/tools/mktree-kinds.c \
	tests/tools/mktree.h tests/tools/tt.c tests/tools/tt.h
tests_tools_mktree_LDADD = $(CAIRN_LIBS) -lacl
tests_tools_treecmp_SOURCES = tests/tools/treecmp.c tests/tools/treecmp-entry.c \
	tests/tools/treecmp.h tests/tools/tt.c tests/tools/tt.h
tests_tools_treecmp_LDADD = $(CAIRN_LIBS) -lacl

# Each suite needs root for its full coverage (devices, owners, mounts); as a user the
# root-only parts are reported as SKIP.
TESTS += tests/e2e/treecmp.sh tests/e2e/roundtrip.sh tests/e2e/metadata.sh \
	tests/e2e/badinput.sh tests/e2e/crash.sh
EXTRA_DIST += tests/e2e/lib.sh tests/e2e/treecmp.sh tests/tools/deps.sh \
	tests/e2e/roundtrip.sh tests/e2e/metadata.sh tests/e2e/badinput.sh tests/e2e/crash.sh
