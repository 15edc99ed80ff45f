/* Fuzz target: key-file parsing with bounded KDF parameters (a forged file must not make
 * us allocate gigabytes or crash). */
#include <stddef.h>
#include <sodium.h>
#include <stdint.h>

#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct key *k = NULL;

	if (sodium_init() < 0)
		return 0;
	if (keyfile_unlock((const char *)data, size, "pw", 2, &k) == 0)
		key_free(k);
	return 0;
}
