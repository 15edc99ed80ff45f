/* XChaCha20-Poly1305 (IETF) in libsodium's byte format, computed through OpenSSL where it
 * can be (crypto/ internal: key.c's sealing uses it). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* out receives ciphertext || 16-byte tag; pt may equal out (in place). */
void aead_seal(const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ad, size_t adlen,
               const void *pt, size_t n, uint8_t *out);
/* ct is ciphertext || tag (n bytes); out receives n - 16 bytes. 0, or -1 when forged,
 * corrupt or short (out then holds zeros, never unauthenticated bytes). */
int aead_open(const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ad, size_t adlen,
              const uint8_t *ct, size_t n, uint8_t *out);
