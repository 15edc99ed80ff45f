/* Keys: sealing round trip, tamper and domain detection, key files, keyed ids. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "tests/tap.h"

int main(void)
{
	struct keyfile_params kp = { 1, 8192 };
	struct key *k = NULL, *k2 = NULL, *k3 = NULL;
	uint8_t pt[1000], ct[1000 + KEY_SEAL_OVERHEAD], out[1000], id1[32], id2[32];
	char *json = NULL;

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(pt, sizeof(pt));
	ok(key_generate(&k) == 0, "generate a master key");
	ok(key_seal(k, KEY_DOMAIN_BLOB, pt, sizeof(pt), ct) == 0, "seal");
	ok(key_open(k, KEY_DOMAIN_BLOB, ct, sizeof(ct), out) == 0 && !memcmp(out, pt, sizeof(pt)),
	   "open gives the plaintext back");
	ct[500] ^= 1;
	is_int(key_open(k, KEY_DOMAIN_BLOB, ct, sizeof(ct), out), -EBADMSG, "a flipped bit fails");
	ct[500] ^= 1;
	is_int(key_open(k, KEY_DOMAIN_INDEX, ct, sizeof(ct), out), -EBADMSG,
	       "the wrong object kind fails");
	is_int(key_open(k, KEY_DOMAIN_BLOB, ct, 10, out), -EBADMSG, "a truncated object fails");
	{
		uint8_t inplace[1000 + KEY_SEAL_OVERHEAD];

		memcpy(inplace + KEY_NONCE_BYTES, pt, sizeof(pt));
		ok(key_seal(k, KEY_DOMAIN_BLOB, inplace + KEY_NONCE_BYTES, sizeof(pt), inplace) == 0 &&
			   key_open(k, KEY_DOMAIN_BLOB, inplace, sizeof(inplace), out) == 0 &&
			   !memcmp(out, pt, sizeof(pt)),
		   "sealing in place (pt at out + nonce) round-trips");
	}
	key_blob_id(k, pt, sizeof(pt), id1);
	ok(key_generate(&k2) == 0, "a second key");
	key_blob_id(k2, pt, sizeof(pt), id2);
	ok(memcmp(id1, id2, 32) != 0, "ids are keyed: other repository, other id");
	ok(memcmp(key_chunker_seed(k), key_chunker_seed(k2), 32) != 0, "chunker seeds differ");

	ok(keyfile_create(k, "pw", 2, &kp, "host", &json) == 0, "create a key file");
	ok(json && !strstr(json, "pw\""), "key file does not contain the password");
	is_int(keyfile_unlock(json, strlen(json), "nope", 4, &k3), -EKEYREJECTED,
	       "a wrong password is rejected");
	ok(keyfile_unlock(json, strlen(json), "pw", 2, &k3) == 0, "the right password unlocks");
	ok(k3 && !memcmp(key_master(k3), key_master(k), 32), "same master key");
	is_int(keyfile_unlock("{\"version\":9}", 13, "pw", 2, &k3), -EBADMSG,
	       "a malformed key file is refused");
	key_free(k);
	key_free(k2);
	key_free(k3);
	free(json);
	return tap_done();
}
