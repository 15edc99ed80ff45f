/* Owns the key-file format: the master key sealed under an Argon2id password key.
 * Cost parameters are stored in the file, bounded on read so a forged file cannot
 * make us allocate gigabytes. */
#include "crypto/crypto.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

#define KEYFILE_VERSION     1

void keyfile_params_default(struct keyfile_params *p)
{
#ifdef CAIRN_TEST_HOOKS
	/* Test builds only (configure --enable-test-hooks): a release binary has no way to
	 * write a cheap key file by accident of environment. */
	const char *fast = getenv("CAIRN_KDF_FAST");

	if (fast && fast[0] == '1') {
		p->opslimit = crypto_pwhash_OPSLIMIT_MIN;
		p->memlimit = 64 * 1024;
		return;
	}
#endif
	/* OWASP's recommended Argon2id minimum (m = 19 MiB, t = 2): the KDF runs at every
	 * open, and its memory is the peak RSS of a node agent's whole run. `cairn init
	 * --kdf-memory-mib/--kdf-iterations` raise it; the parameters live in the key file. */
	p->opslimit = 2;
	p->memlimit = 19ULL * 1024 * 1024;
}

static int derive(const char *pw, size_t pwlen, const uint8_t salt[crypto_pwhash_SALTBYTES],
		  const struct keyfile_params *p, uint8_t *out)
{
	if (crypto_pwhash(out, KEY_BYTES, pw, pwlen, salt, p->opslimit, (size_t)p->memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) < 0)
		return -ENOMEM;
	return 0;
}

static char *b64(const uint8_t *p, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(len);

	if (s)
		sodium_bin2base64(s, len, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static int unb64(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;

	if (!s || sodium_base642bin(out, n, s, strlen(s), NULL, &got, NULL,
				    sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    got != n)
		return -EBADMSG;
	return 0;
}

int keyfile_create(const struct key *k, const char *password, size_t pwlen,
		   const struct keyfile_params *p, const char *hostname, char **ret_json)
{
	uint8_t salt[crypto_pwhash_SALTBYTES], sealed[KEY_BYTES + KEY_SEAL_OVERHEAD];
	struct key *wrap = NULL;
	uint8_t *dk = NULL;
	char *s_salt = NULL, *s_data = NULL, *out = NULL;
	json_t *o = NULL;
	int r;

	if (p->opslimit > KEYFILE_MAX_OPSLIMIT || p->memlimit > KEYFILE_MAX_MEMLIMIT)
		return -E2BIG;
	dk = sodium_malloc(KEY_BYTES);
	if (!dk)
		return -ENOMEM;
	randombytes_buf(salt, sizeof(salt));
	r = derive(password, pwlen, salt, p, dk);
	if (r < 0)
		goto fail;
	/* The derived key is used as a master so the seal framing is the one used everywhere. */
	r = key_from_master(dk, &wrap);
	if (r < 0)
		goto fail;
	r = key_seal(wrap, KEY_DOMAIN_KEYFILE, key_master(k), KEY_BYTES, sealed);
	if (r < 0)
		goto fail;
	s_salt = b64(salt, sizeof(salt));
	s_data = b64(sealed, sizeof(sealed));
	r = -ENOMEM;
	if (!s_salt || !s_data)
		goto fail;
	o = json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:s, s:I}", "version", KEYFILE_VERSION, "kdf",
		      "argon2id", "opslimit", (json_int_t)p->opslimit, "memlimit",
		      (json_int_t)p->memlimit, "salt", s_salt, "data", s_data, "hostname",
		      hostname ? hostname : "", "created", (json_int_t)time(NULL));
	if (!o)
		goto fail;
	out = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!out)
		goto fail;
	*ret_json = out;
	r = 0;
fail:
	json_decref(o);
	free(s_salt);
	free(s_data);
	key_free(wrap);
	sodium_free(dk);
	return r;
}

int keyfile_unlock(const char *json, size_t n, const char *password, size_t pwlen,
		   struct key **ret)
{
	uint8_t salt[crypto_pwhash_SALTBYTES], sealed[KEY_BYTES + KEY_SEAL_OVERHEAD];
	struct keyfile_params p;
	struct key *wrap = NULL;
	uint8_t *dk = NULL, *master = NULL;
	const char *kdf = NULL, *s_salt = NULL, *s_data = NULL;
	json_int_t version = 0, ops = 0, mem = 0;
	json_t *o;
	int r = -EBADMSG;

	o = json_loadb(json, n, 0, NULL);
	if (!o)
		return -EBADMSG;
	if (json_unpack(o, "{s:I, s:s, s:I, s:I, s:s, s:s}", "version", &version, "kdf", &kdf,
			"opslimit", &ops, "memlimit", &mem, "salt", &s_salt, "data", &s_data) < 0)
		goto fail;
	r = -EOPNOTSUPP;
	if (version != KEYFILE_VERSION || strcmp(kdf, "argon2id") != 0)
		goto fail;
	r = -EBADMSG;
	if (ops < (json_int_t)crypto_pwhash_OPSLIMIT_MIN || mem < (json_int_t)crypto_pwhash_MEMLIMIT_MIN)
		goto fail;
	r = -E2BIG;
	if ((uint64_t)ops > KEYFILE_MAX_OPSLIMIT || (uint64_t)mem > KEYFILE_MAX_MEMLIMIT)
		goto fail;
	r = -EBADMSG;
	p.opslimit = (uint64_t)ops;
	p.memlimit = (uint64_t)mem;
	if (unb64(s_salt, salt, sizeof(salt)) < 0 || unb64(s_data, sealed, sizeof(sealed)) < 0)
		goto fail;
	r = -ENOMEM;
	dk = sodium_malloc(KEY_BYTES);
	master = sodium_malloc(KEY_BYTES);
	if (!dk || !master)
		goto fail;
	r = derive(password, pwlen, salt, &p, dk);
	if (r < 0)
		goto fail;
	r = key_from_master(dk, &wrap);
	if (r < 0)
		goto fail;
	if (key_open(wrap, KEY_DOMAIN_KEYFILE, sealed, sizeof(sealed), master) < 0) {
		r = -EKEYREJECTED;
		goto fail;
	}
	r = key_from_master(master, ret);
fail:
	key_free(wrap);
	if (dk)
		sodium_free(dk);
	if (master)
		sodium_free(master);
	json_decref(o);
	return r;
}
