/* Owns the hex codec used for every object name: libsodium's constant-time codec, with
 * the strictness object names need (exact length, nothing but digits). */
#include "util/hex.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "util/banned.h"

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

int hex_decode(const char *in, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	/* sodium_hex2bin stops at the first non-digit: demand it consumed every byte. */
	if (strlen(in) != 2 * n)
		return -EINVAL;
	if (sodium_hex2bin(out, n, in, 2 * n, NULL, &got, &end) != 0 || got != n || *end)
		return -EINVAL;
	return 0;
}

bool hex_valid(const char *s, size_t n)
{
	size_t i = strspn(s, "0123456789abcdefABCDEF");

	return !s[i] && i > 0 && (n == 0 || i == 2 * n);
}
