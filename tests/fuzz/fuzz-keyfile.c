/* Fuzz target: key-file parsing with bounded KDF parameters (a forged file must not make
 * us allocate gigabytes or crash). The seeds are key files for the password "pw". */
#include <sodium.h>

#include "crypto/crypto.h"
#include "tests/fuzz/fuzz.h"

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct key *k = NULL;

	if (sodium_init() < 0 || keyfile_unlock((const char *)data, size, "pw", 2, &k) < 0)
		return 0;
	key_free(k);
	return 1;
}
