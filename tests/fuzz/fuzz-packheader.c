/* Fuzz target: a pack's trailing header (blob table) through pack_read_header. The input
 * is the header's plaintext; it is sealed and stored after FUZZ_PACK_DATA bytes of blob
 * area, followed by its length, as a pack is written. */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/scratch-repo.h"

#define FUZZ_PACK_DATA 4096u

int fuzz_decode(const uint8_t *data, size_t size)
{
	static const uint8_t id[ID_BYTES] = { 0xfa, 0xce };
	struct repo *r = fuzz_repo();
	struct pack_blob *blobs = NULL;
	struct err e = ERR_INIT;
	size_t n_blobs = 0, sn, total;
	char name[ID_HEX];
	uint8_t *pack;
	int rc;

	if (!r || size > PACK_HEADER_MAX)
		return 0;
	sn = size + KEY_SEAL_OVERHEAD;
	total = FUZZ_PACK_DATA + sn + 4;
	pack = calloc(1, total);
	if (!pack ||
	    key_seal(r->key, KEY_DOMAIN_PACK_HEADER, data, size, pack + FUZZ_PACK_DATA) < 0)
		__builtin_trap();
	for (int i = 0; i < 4; i++)
		pack[FUZZ_PACK_DATA + sn + (size_t)i] = (uint8_t)(sn >> (8 * i));
	hex_encode(id, ID_BYTES, name);
	if (backend_put(r->be, OBJ_DATA, name, pack, total, &e) < 0)
		__builtin_trap();
	rc = pack_read_header(r, id, total, &blobs, &n_blobs, &e);
	free(blobs);
	free(pack);
	if (backend_del(r->be, OBJ_DATA, name, &e) < 0)
		__builtin_trap();
	return rc >= 0;
}
