noinst_LIBRARIES += util/libcairn_util.a
util_libcairn_util_a_SOURCES = util/attr.h util/banned.h util/ckd.h \
	util/buf.c util/buf.h util/deepcall.c util/deepcall.h util/err.c util/err.h util/fsutil.c util/fsutil.h \
	util/hex.c util/hex.h util/log.c util/log.h util/vec.c util/vec.h util/wq.c util/wq.h

# util/vec.c, the one growth policy of append-one lists.
check_PROGRAMS += tests/unit/test-vec
TESTS += tests/unit/test-vec
tests_unit_test_vec_LDADD = $(CAIRN_LIBS)

# util/ckd.h, the saturating byte-total sum.
check_PROGRAMS += tests/unit/test-ckd
TESTS += tests/unit/test-ckd
tests_unit_test_ckd_LDADD = $(CAIRN_LIBS)
