/* Owns the HMAC-SHA-256 (RFC 2104) behind format 2's content ids: precomputed pad states in
 * OpenSSL, libsodium's crypto_auth_hmacsha256 when OpenSSL cannot serve a call. */
#include "crypto/idhash.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "util/banned.h"

static EVP_MD_CTX *pad_state(const uint8_t key[32], uint8_t x)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t pad[64];
	int ok;

	if (!c)
		return NULL;
	/* A 32-byte key is shorter than the 64-byte block: used as is, zero-padded. */
	memset(pad, x, sizeof(pad));
	for (size_t i = 0; i < 32; i++)
		pad[i] ^= key[i];
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(c, pad, sizeof(pad)) == 1;
	sodium_memzero(pad, sizeof(pad));
	if (!ok) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}

void idhash_init(struct idhash *h, const uint8_t key[32])
{
	h->inner = pad_state(key, 0x36);
	h->outer = pad_state(key, 0x5c);
	if (!h->inner || !h->outer)
		idhash_free(h);
}

/* 0 done, -1 OpenSSL could not do it. */
static int ossl_hmac(const struct idhash *h, const void *p, size_t n, uint8_t out[32])
{
	EVP_MD_CTX *c;
	uint8_t ih[32];
	int ok;

	if (!h->inner || !h->outer)
		return -1;
	c = EVP_MD_CTX_new();
	if (!c)
		return -1;
	ok = EVP_MD_CTX_copy_ex(c, h->inner) == 1 && EVP_DigestUpdate(c, p, n) == 1 &&
	     EVP_DigestFinal_ex(c, ih, NULL) == 1 && EVP_MD_CTX_copy_ex(c, h->outer) == 1 &&
	     EVP_DigestUpdate(c, ih, sizeof(ih)) == 1 && EVP_DigestFinal_ex(c, out, NULL) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

void idhash_hmac(const struct idhash *h, const uint8_t key[32], const void *p, size_t n,
                 uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	if (ossl_hmac(h, p, n, out) == 0)
		return;
	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, p, n);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void idhash_free(struct idhash *h)
{
	EVP_MD_CTX_free(h->inner);
	EVP_MD_CTX_free(h->outer);
	h->inner = h->outer = NULL;
}
