/* key_seal/key_open's XChaCha20-Poly1305 through OpenSSL gives libsodium's bytes exactly
 * (no format change): seal equals libsodium's ciphertext and tag for the same key, nonce
 * and associated data, each side opens the other's, in-place sealing works, and a flipped
 * bit is refused with no plaintext left in the output. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "tests/tap.h"

int main(void)
{
	static const size_t lens[] = { 0, 1, 15, 16, 63, 64, 65, 4096, 100000, (1u << 20) + 3 };
	uint8_t key[32], nonce[24], ad = 2;

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];
		uint8_t *pt = malloc(n + 1), *a = malloc(n + 16), *b = malloc(n + 16);
		uint8_t *back = malloc(n + 1), *inplace = malloc(n + 16);
		unsigned long long bl;
		bool zero = true;

		randombytes_buf(key, sizeof(key));
		randombytes_buf(nonce, sizeof(nonce));
		randombytes_buf(pt, n + 1);
		aead_seal(key, nonce, &ad, 1, pt, n, a);
		crypto_aead_xchacha20poly1305_ietf_encrypt(b, &bl, pt, n, &ad, 1, NULL, nonce, key);
		ok(bl == n + 16 && !memcmp(a, b, n + 16),
		   "%zu bytes: same ciphertext and tag as libsodium", n);
		ok(aead_open(key, nonce, &ad, 1, b, n + 16, back) == 0 && !memcmp(back, pt, n),
		   "%zu bytes: opens libsodium's sealing", n);
		ok(crypto_aead_xchacha20poly1305_ietf_decrypt(back, NULL, NULL, a, n + 16, &ad, 1,
		                                              nonce, key) == 0 &&
		       !memcmp(back, pt, n),
		   "%zu bytes: libsodium opens ours", n);
		memcpy(inplace, pt, n);
		aead_seal(key, nonce, &ad, 1, inplace, n, inplace);
		ok(!memcmp(inplace, b, n + 16), "%zu bytes: sealing in place", n);
		a[n / 2] ^= 1;
		memset(back, 0xaa, n + 1);
		ok(aead_open(key, nonce, &ad, 1, a, n + 16, back) == -1,
		   "%zu bytes: a flipped bit is refused", n);
		for (size_t j = 0; j < n; j++)
			zero &= back[j] == 0;
		ok(zero, "%zu bytes: no unauthenticated plaintext left behind", n);
		a[n / 2] ^= 1;
		ad = 3;
		ok(aead_open(key, nonce, &ad, 1, a, n + 16, back) == -1,
		   "%zu bytes: another domain is refused", n);
		ad = 2;
		free(pt), free(a), free(b), free(back), free(inplace);
	}
	ok(aead_open(key, nonce, &ad, 1, (const uint8_t *)"short", 5, (uint8_t[1]){ 0 }) == -1,
	   "shorter than a tag is refused");
	return tap_done();
}
