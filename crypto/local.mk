noinst_LIBRARIES += crypto/libcairn_crypto.a
crypto_libcairn_crypto_a_SOURCES = crypto/crypto.h crypto/key.c crypto/keyfile.c
