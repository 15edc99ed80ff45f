/* Owns the master key and its subkeys (crypto_kdf), content ids and AEAD framing. */
#include "crypto/crypto.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/idhash.h"
#include "util/banned.h"

struct key {
	uint8_t master[KEY_BYTES];
	uint8_t enc[KEY_BYTES];
	uint8_t id[KEY_BYTES];
	uint8_t gear[KEY_BYTES];
	/* Format 2's id key: its own subkey, so no key is ever used by two hash functions. */
	uint8_t id_hmac[KEY_BYTES];
	enum key_id_alg id_alg;
	struct idhash hmac;
};

enum { SUBKEY_ENC = 1, SUBKEY_ID = 2, SUBKEY_GEAR = 3, SUBKEY_ID_HMAC = 4 };
static const char *const id_alg_names[_KEY_ID_ALG_MAX] = {
	[KEY_ID_BLAKE2B_256] = "blake2b-256",
	[KEY_ID_HMAC_SHA256] = "hmac-sha256",
};
static const char kdf_ctx[crypto_kdf_CONTEXTBYTES] = "cairnkey";

int key_from_master(const uint8_t master[KEY_BYTES], struct key **ret)
{
	struct key *k;

	if (sodium_init() < 0)
		return -EIO;
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	memset(k, 0, sizeof(*k));
	k->id_alg = KEY_ID_BLAKE2B_256;
	memcpy(k->master, master, KEY_BYTES);
	if (crypto_kdf_derive_from_key(k->enc, KEY_BYTES, SUBKEY_ENC, kdf_ctx, master) < 0 ||
	    crypto_kdf_derive_from_key(k->id, KEY_BYTES, SUBKEY_ID, kdf_ctx, master) < 0 ||
	    crypto_kdf_derive_from_key(k->gear, KEY_BYTES, SUBKEY_GEAR, kdf_ctx, master) < 0) {
		key_free(k);
		return -EIO;
	}
	*ret = k;
	return 0;
}

int key_generate(struct key **ret)
{
	uint8_t *m;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	m = sodium_malloc(KEY_BYTES);
	if (!m)
		return -ENOMEM;
	randombytes_buf(m, KEY_BYTES);
	r = key_from_master(m, ret);
	sodium_free(m);
	return r;
}

void key_free(struct key *k)
{
	if (!k)
		return;
	idhash_free(&k->hmac);
		sodium_free(k); /* sodium_free wipes before unmapping */
}

const uint8_t *key_master(const struct key *k)
{
	return k->master;
}

const uint8_t *key_chunker_seed(const struct key *k)
{
	return k->gear;
}

const char *key_id_alg_name(enum key_id_alg a)
{
	return a > 0 && a < _KEY_ID_ALG_MAX ? id_alg_names[a] : NULL;
}

int key_id_alg_from_name(const char *name, enum key_id_alg *ret)
{
	for (int a = 1; a < _KEY_ID_ALG_MAX; a++)
		if (name && strcmp(name, id_alg_names[a]) == 0) {
			*ret = (enum key_id_alg)a;
			return 0;
		}
	return -EOPNOTSUPP;
}

int key_set_id_alg(struct key *k, enum key_id_alg a)
{
	if (!key_id_alg_name(a))
		return -EINVAL;
	if (a == KEY_ID_HMAC_SHA256 && k->id_alg != a) {
		if (crypto_kdf_derive_from_key(k->id_hmac, KEY_BYTES, SUBKEY_ID_HMAC, kdf_ctx,
		                               k->master) < 0)
			return -EIO;
		idhash_init(&k->hmac, k->id_hmac);
	}
	if (a != KEY_ID_HMAC_SHA256)
		idhash_free(&k->hmac);
	k->id_alg = a;
	return 0;
}

enum key_id_alg key_get_id_alg(const struct key *k)
{
	return k->id_alg;
}

void key_blob_id(const struct key *k, const void *data, size_t n, uint8_t out[KEY_ID_BYTES])
{
	if (k->id_alg == KEY_ID_HMAC_SHA256)
		idhash_hmac(&k->hmac, k->id_hmac, data, n, out);
	else
	crypto_generichash(out, KEY_ID_BYTES, data, n, k->id, KEY_BYTES);
}

int key_seal(const struct key *k, enum key_domain d, const void *pt, size_t n, uint8_t *out)
{
	uint8_t ad = (uint8_t)d;

	if (n > SIZE_MAX - KEY_SEAL_OVERHEAD)
		return -EOVERFLOW;
	randombytes_buf(out, KEY_NONCE_BYTES);
	aead_seal(k->enc, out, &ad, 1, pt, n, out + KEY_NONCE_BYTES);
	return 0;
}

int key_open(const struct key *k, enum key_domain d, const void *ct, size_t n, uint8_t *out)
{
	const uint8_t *c = ct;
	uint8_t ad = (uint8_t)d;

	if (n < KEY_SEAL_OVERHEAD)
		return -EBADMSG;
	if (aead_open(k->enc, c, &ad, 1, c + KEY_NONCE_BYTES, n - KEY_NONCE_BYTES, out) < 0)
		return -EBADMSG;
	return 0;
}
