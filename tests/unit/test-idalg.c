/* Content-id and object-name algorithm selection: known answers for both algorithms over a fixed master key
 * (computed independently with Python's hashlib/hmac from the crypto_kdf subkey, see
 * below), the libsodium fallback agreeing with OpenSSL, names, and threads sharing a key.
 *
 * The expected values come from:
 *   master = bytes(range(32))
 *   kdf(i) = blake2b(b'', digest_size=32, key=master, salt=le64(i) + 0^8,
 *                    person=b'cairnkey' + 0^8)            (libsodium's crypto_kdf)
 *   data(n) = bytes((i * 7 + 3) & 0xff for i in range(n))
 *   hmac-sha256: hmac.new(kdf(4), data(n), sha256); blake2b-256: blake2b(data(n),
 *   digest_size=32, key=kdf(2)).
 * Object names: hashlib.sha256 and hashlib.blake2b(digest_size=32) of "abc" and data(65537). */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/idhash.h"
#include "tests/tap.h"
#include "util/hex.h"

static const struct {
	size_t n;
	const char *hmac, *b2;
} kat[] = {
	{ 0, "61e744a40c9142590f4578e6248a907c14c082e1dd31d308fdd915182ad2ea45",
	  "177cdcd3f1aef6b58cac675c518c056902db0b2fd40af67e4d36aad36514b96a" },
	{ 3, "94f032886906e94f4a2d34bc51cc6a8d67b6a9cd3b7be9f21137b10d39786b94",
	  "2f00e4deb018a046e6b583fe8b4f938d19b01eb41a452ab122dfefeadf33b04f" },
	{ 512, "d1de372bf9b14d25bcf980d6ce6f28a93680b91ea6021ade2b165553f9385655",
	  "49f51102d4013321a575e5d5da4300644bdaca330c793f0c60f5bb9b3449c79e" },
	{ 4096, "4bcf91ada9fd7b2df9e93174f384d888611df923aed16eb77d78b577475d1369",
	  "f1c8064390b1e847f540b65e05ffb937f2c330cf8ffd1325cf00c6ff50631f0a" },
	{ 65537, "fe4bd05e697214a0d0a184c536835c3a7047cf712871b6d881d09dd4e5f5f061",
	  "bebf70226d6a7fa518cc72c14d7b3b1e574149523ec411d0d9183e27392c3586" },
};

#define BIG 65537
static uint8_t data[BIG];

static bool hex_is(const uint8_t got[KEY_ID_BYTES], const char *want)
{
	char hex[2 * KEY_ID_BYTES + 1];

	hex_encode(got, KEY_ID_BYTES, hex);
	if (strcmp(hex, want) != 0)
		tap_diag("got %s", hex);
	return strcmp(hex, want) == 0;
}

/* Object names, one-shot and streamed in uneven pieces. */
static void names(void)
{
	static const struct {
		enum key_name_alg a;
		const char *abc, *big;
	} v[] = {
		{ KEY_NAME_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "ad8b370d36508e55e3c9cd44667a6e36e35955d0ff9f8fe59805bb18c2db5dd8" },
		{ KEY_NAME_BLAKE2B_256,
		  "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
		  "2cbf7bf7254bbf693239f9713faf3ae9a4c08072b356d84fbdeb45c90e0bef98" },
	};
	enum key_name_alg a = _KEY_NAME_ALG_INVALID;
	uint8_t out[KEY_ID_BYTES];

	for (size_t i = 0; i < 2; i++) {
		const char *n = key_name_alg_name(v[i].a);
		struct name_hash *h;
		size_t off = 0, step = 1;

		name_hash(v[i].a, "abc", 3, out);
		ok(hex_is(out, v[i].abc), "%s of \"abc\" is the known answer", n);
		name_hash(v[i].a, data, BIG, out);
		ok(hex_is(out, v[i].big), "%s of 65537 bytes is the known answer", n);
		h = name_hash_new(v[i].a);
		while (h && off < BIG) {
			size_t k = BIG - off < step ? BIG - off : step;

			name_hash_update(h, data + off, k);
			off += k;
			step = step * 3 + 1;
		}
		ok(h && name_hash_final(h, out) == 0 && hex_is(out, v[i].big),
		   "%s streamed in uneven pieces gives the same name", n);
		ok(key_name_alg_from_name(n, &a) == 0 && a == v[i].a, "the name %s", n);
	}
	is_int(key_name_alg_from_name("md5", &a), -EOPNOTSUPP, "names: md5 is unknown");
	is_int(key_name_alg_from_name("SHA256", &a), -EOPNOTSUPP, "names: compared exactly");
	ok(!name_hash_new((enum key_name_alg)9), "no streaming hash outside the enum");
}

static bool id_is(const struct key *k, size_t n, const char *want)
{
	uint8_t id[KEY_ID_BYTES];
	char hex[2 * KEY_ID_BYTES + 1];

	key_blob_id(k, data, n, id);
	hex_encode(id, sizeof(id), hex);
	if (strcmp(hex, want) != 0)
		tap_diag("got %s", hex);
	return strcmp(hex, want) == 0;
}

struct worker {
	const struct key *k;
	int bad;
};

/* Many threads hash with one key at once (the backup's hash pool does). */
static void *hash_many(void *p)
{
	struct worker *w = p;

	for (int i = 0; i < 200; i++)
		for (size_t j = 0; j < sizeof(kat) / sizeof(kat[0]); j++)
			if (!id_is(w->k, kat[j].n, kat[j].hmac))
				w->bad++;
	return NULL;
}

int main(void)
{
	uint8_t master[KEY_BYTES], sub[KEY_BYTES], id[KEY_ID_BYTES], want[KEY_ID_BYTES];
	struct idhash none = { NULL, NULL };
	struct key *k = NULL;
	enum key_id_alg a = _KEY_ID_ALG_INVALID;

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < BIG; i++)
		data[i] = (uint8_t)((i * 7 + 3) & 0xff);
	for (int i = 0; i < KEY_BYTES; i++)
		master[i] = (uint8_t)i;
	ok(key_from_master(master, &k) == 0, "a key from a fixed master");
	is_int(key_get_id_alg(k), KEY_ID_BLAKE2B_256, "a key starts with format 1's ids");
	for (size_t j = 0; j < sizeof(kat) / sizeof(kat[0]); j++)
		ok(id_is(k, kat[j].n, kat[j].b2), "blake2b-256 id of %zu bytes is the known answer",
		   kat[j].n);
	is_int(key_set_id_alg(k, KEY_ID_HMAC_SHA256), 0, "select hmac-sha256");
	is_int(key_get_id_alg(k), KEY_ID_HMAC_SHA256, "selected");
	for (size_t j = 0; j < sizeof(kat) / sizeof(kat[0]); j++)
		ok(id_is(k, kat[j].n, kat[j].hmac),
		   "hmac-sha256 id of %zu bytes is the known answer", kat[j].n);

	/* The fallback (no OpenSSL state) gives the same bytes from the same subkey. */
	ok(crypto_kdf_derive_from_key(sub, sizeof(sub), 4, "cairnkey", master) == 0, "subkey 4");
	idhash_hmac(&none, sub, data, 4096, id);
	ok(hex_decode(kat[3].hmac, want, sizeof(want)) == 0 && !memcmp(id, want, sizeof(id)),
	   "libsodium's fallback agrees with OpenSSL");

	{
		struct worker w[4] = { { k, 0 }, { k, 0 }, { k, 0 }, { k, 0 } };
		pthread_t t[4];
		int bad = 0;

		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, hash_many, &w[i]);
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			bad += w[i].bad;
		}
		is_int(bad, 0, "four threads sharing the key get the known answers");
	}

	is_int(key_set_id_alg(k, KEY_ID_BLAKE2B_256), 0, "back to blake2b-256");
	ok(id_is(k, 512, kat[2].b2), "and the ids are format 1's again");
	is_int(key_set_id_alg(k, (enum key_id_alg)7), -EINVAL, "an id algorithm out of range");
	is_int(key_set_id_alg(k, (enum key_id_alg)0), -EINVAL, "zero is no algorithm");

	ok(key_id_alg_from_name("hmac-sha256", &a) == 0 && a == KEY_ID_HMAC_SHA256,
	   "the name hmac-sha256");
	ok(key_id_alg_from_name("blake2b-256", &a) == 0 && a == KEY_ID_BLAKE2B_256,
	   "the name blake2b-256");
	is_int(key_id_alg_from_name("md5", &a), -EOPNOTSUPP, "md5 is unknown");
	is_int(key_id_alg_from_name("HMAC-SHA256", &a), -EOPNOTSUPP, "names are exact");
	is_int(key_id_alg_from_name("hmac-sha256 ", &a), -EOPNOTSUPP, "no trailing space");
	is_int(key_id_alg_from_name("", &a), -EOPNOTSUPP, "the empty name");
	is_int(key_id_alg_from_name(NULL, &a), -EOPNOTSUPP, "no name");
	ok(!key_id_alg_name((enum key_id_alg)0) && !key_id_alg_name(_KEY_ID_ALG_MAX),
	   "no name outside the enum");
	key_free(k);
	names();
	return tap_done();
}
