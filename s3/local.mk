# s3/: the S3 store behind repo/backend.h: SigV4 signer, XML replies, configuration,
# HTTP engine, multipart, store operations.
noinst_LIBRARIES += s3/libcairn_s3.a
s3_libcairn_s3_a_SOURCES = s3/s3.h s3/backend_s3.c s3/s3-internal.h s3/s3conf.c s3/s3creds.c s3/s3http.c \
	s3/s3multi.c s3/s3resume.c s3/s3xml.c s3/s3xml.h \
	s3/sigv4.c s3/sigv4.h

check_PROGRAMS += tests/unit/test-sigv4 tests/unit/test-s3xml tests/unit/test-s3conf \
	tests/unit/test-s3delete tests/unit/test-s3resume
TESTS += tests/unit/test-sigv4 tests/unit/test-s3xml tests/unit/test-s3conf tests/unit/test-s3delete \
	tests/unit/test-s3resume
tests_unit_test_s3resume_LDADD = $(CAIRN_LIBS)
tests_unit_test_s3delete_LDADD = $(CAIRN_LIBS)
tests_unit_test_s3conf_LDADD = $(CAIRN_LIBS)
tests_unit_test_sigv4_LDADD = $(CAIRN_LIBS)
tests_unit_test_s3xml_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/vectors/sigv4 tests/s3/botosign.py tests/s3/deps.sh

# Backend-level test against real servers, driven by tests/e2e/s3-backend.sh.
check_PROGRAMS += tests/s3/test-s3-backend
tests_s3_test_s3_backend_LDADD = $(CAIRN_LIBS)
TESTS += tests/e2e/s3-backend.sh
EXTRA_DIST += tests/e2e/s3-backend.sh tests/s3/swift.sh tests/s3/s3rver.sh tests/s3/faultproxy.py
TESTS += tests/e2e/s3-roundtrip.sh
EXTRA_DIST += tests/e2e/s3-roundtrip.sh bench/s3.sh
