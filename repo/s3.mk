# S3 backend: SigV4 signer, XML replies, MD5, configuration, HTTP engine, backend ops.
libcairn_a_SOURCES += repo/backend_s3.c repo/s3-internal.h repo/s3conf.c repo/s3http.c \
	repo/s3multi.c repo/s3md5.c repo/s3md5.h repo/s3xml.c repo/s3xml.h \
	repo/sigv4.c repo/sigv4.h

check_PROGRAMS += tests/unit/test-sigv4 tests/unit/test-s3xml tests/unit/test-s3md5
TESTS += tests/unit/test-sigv4 tests/unit/test-s3xml tests/unit/test-s3md5
tests_unit_test_sigv4_LDADD = $(CAIRN_LIBS)
tests_unit_test_s3xml_LDADD = $(CAIRN_LIBS)
tests_unit_test_s3md5_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/vectors/sigv4 tests/s3/botosign.py tests/s3/deps.sh

# Backend-level test against real servers, driven by tests/e2e/s3-backend.sh.
check_PROGRAMS += tests/s3/test-s3-backend
tests_s3_test_s3_backend_LDADD = $(CAIRN_LIBS)
TESTS += tests/e2e/s3-backend.sh
EXTRA_DIST += tests/e2e/s3-backend.sh tests/s3/swift.sh tests/s3/s3rver.sh tests/s3/faultproxy.py
TESTS += tests/e2e/s3-roundtrip.sh
EXTRA_DIST += tests/e2e/s3-roundtrip.sh bench/s3.sh
