/* Owns the unkeyed hash that names stored objects (packs, index files, snapshots, locks):
 * BLAKE2b-256 in format 1, SHA-256 in format 2. SHA-256 runs through OpenSSL (SHA-NI where
 * the CPU has it), libsodium's software SHA-256 when OpenSSL cannot serve: same bytes. */
#include "crypto/crypto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

struct name_hash {
	enum key_name_alg alg;
	EVP_MD_CTX *md; /* SHA-256 through OpenSSL; NULL: libsodium's */
	bool failed;    /* an OpenSSL step failed: the name would be wrong */
	crypto_generichash_state b2;
	crypto_hash_sha256_state s2;
};

static const char *const names[_KEY_NAME_ALG_MAX] = {
	[KEY_NAME_BLAKE2B_256] = "blake2b-256",
	[KEY_NAME_SHA256] = "sha256",
};

const char *key_name_alg_name(enum key_name_alg a)
{
	return a > 0 && a < _KEY_NAME_ALG_MAX ? names[a] : NULL;
}

int key_name_alg_from_name(const char *name, enum key_name_alg *ret)
{
	for (int a = 1; a < _KEY_NAME_ALG_MAX; a++)
		if (name && strcmp(name, names[a]) == 0) {
			*ret = (enum key_name_alg)a;
			return 0;
		}
	return -EOPNOTSUPP;
}

struct name_hash *name_hash_new(enum key_name_alg a)
{
	struct name_hash *h;

	if (!key_name_alg_name(a))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->alg = a;
	if (a == KEY_NAME_BLAKE2B_256) {
		crypto_generichash_init(&h->b2, NULL, 0, KEY_ID_BYTES);
		return h;
	}
	h->md = EVP_MD_CTX_new();
	if (h->md && EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->md);
		h->md = NULL;
	}
	if (!h->md)
		crypto_hash_sha256_init(&h->s2);
	return h;
}

void name_hash_update(struct name_hash *h, const void *p, size_t n)
{
	if (h->alg == KEY_NAME_BLAKE2B_256)
		crypto_generichash_update(&h->b2, p, n);
	else if (!h->md)
		crypto_hash_sha256_update(&h->s2, p, n);
	else if (EVP_DigestUpdate(h->md, p, n) != 1)
		h->failed = true;
}

int name_hash_final(struct name_hash *h, uint8_t out[KEY_ID_BYTES])
{
	int rc = 0;

	if (h->alg == KEY_NAME_BLAKE2B_256)
		crypto_generichash_final(&h->b2, out, KEY_ID_BYTES);
	else if (!h->md)
		crypto_hash_sha256_final(&h->s2, out);
	else if (h->failed || EVP_DigestFinal_ex(h->md, out, NULL) != 1)
		rc = -EIO;
	EVP_MD_CTX_free(h->md);
	free(h);
	return rc;
}

void name_hash(enum key_name_alg a, const void *p, size_t n, uint8_t out[KEY_ID_BYTES])
{
	if (a == KEY_NAME_SHA256) {
		if (EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) != 1)
			crypto_hash_sha256(out, p, n);
		return;
	}
	crypto_generichash(out, KEY_ID_BYTES, p, n, NULL, 0);
}
