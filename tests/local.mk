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
