/* HMAC-SHA-256 content ids computed through OpenSSL (SHA-NI / ARMv8 SHA where the CPU has
 * them), libsodium's software HMAC-SHA-256 as the fallback: the same bytes either way
 * (crypto/ internal: key.c's key_blob_id uses it). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* SHA-256 states after the key's inner and outer pad block, computed once per repository
 * open and copied per id: a fresh HMAC per blob re-hashes both pads (two extra blocks) and
 * allocates, which halves the rate at 512 bytes (bench/README.md, "Content ids"). Either
 * pointer NULL: OpenSSL could not serve, use the fallback. Read-only after init, so many
 * threads may hash with one at once. */
struct idhash {
	void *inner, *outer; /* EVP_MD_CTX */
};

/* Never fails: without OpenSSL's SHA-256 the fallback serves. */
void idhash_init(struct idhash *h, const uint8_t key[32]);
void idhash_hmac(const struct idhash *h, const uint8_t key[32], const void *p, size_t n,
                 uint8_t out[32]);
/* Wipes the states (OpenSSL clears a digest context's data when it frees it). */
void idhash_free(struct idhash *h);
