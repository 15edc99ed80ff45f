/* MD5 against the RFC 1321 test suite, and streaming equals one-shot at odd splits. */
#include "repo/s3md5.h"

#include <stdio.h>
#include <string.h>

#include "tests/tap.h"
#include "util/hex.h"

#include "util/banned.h"

int main(void)
{
	static const char *const rfc[][2] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890123456789012345678901234567890123456"
		  "7890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	uint8_t d[S3MD5_BYTES], d2[S3MD5_BYTES], big[1000];
	char hx[2 * S3MD5_BYTES + 1];
	bool same = true;

	for (size_t i = 0; i < ELEMENTSOF(rfc); i++) {
		s3md5(rfc[i][0], strlen(rfc[i][0]), d);
		hex_encode(d, sizeof(d), hx);
		is_str(hx, rfc[i][1], "RFC 1321 vector %zu", i);
	}
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	s3md5(big, sizeof(big), d);
	for (size_t split = 0; split <= 130; split++) {
		struct s3md5 m;

		s3md5_init(&m);
		s3md5_update(&m, big, split);
		s3md5_update(&m, big + split, 1);
		s3md5_update(&m, big + split + 1, sizeof(big) - split - 1);
		s3md5_final(&m, d2);
		same &= memcmp(d, d2, sizeof(d)) == 0;
	}
	ok(same, "streaming in three pieces at every split up to 130 equals one shot");
	return tap_done();
}
