libcairn_a_SOURCES += crypto/crypto.h crypto/key.c crypto/keyfile.c
