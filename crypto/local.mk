noinst_LIBRARIES += crypto/libcairn_crypto.a
crypto_libcairn_crypto_a_SOURCES = crypto/crypto.h crypto/key.c crypto/keyfile.c \
	crypto/aead.h crypto/aead.c crypto/idhash.h crypto/idhash.c crypto/namehash.c

# The OpenSSL sealing path gives libsodium's XChaCha20-Poly1305 bytes exactly.
check_PROGRAMS += tests/unit/test-aead
TESTS += tests/unit/test-aead
tests_unit_test_aead_LDADD = $(CAIRN_LIBS)

# Content-id algorithms: known answers computed outside cairn, fallback, names, threads.
check_PROGRAMS += tests/unit/test-idalg
TESTS += tests/unit/test-idalg
tests_unit_test_idalg_LDADD = $(CAIRN_LIBS)
