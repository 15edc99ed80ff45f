# S3 backend: SigV4 signer, XML replies, HTTP engine, backend ops.
libcairn_a_SOURCES += repo/backend_s3.c repo/sigv4.c repo/sigv4.h

check_PROGRAMS += tests/unit/test-sigv4
TESTS += tests/unit/test-sigv4
tests_unit_test_sigv4_LDADD = $(CAIRN_LIBS)
EXTRA_DIST += tests/vectors/sigv4 tests/s3/botosign.py tests/s3/deps.sh
