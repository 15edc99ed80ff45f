/* Fuzz target: index files (the binary pack/blob table inside the sealed object) through
 * index_walk, the one index parser, and into the in-memory index as a load does. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/scratch-repo.h"

static int on_entry(void *ud, const struct ix_entry *x)
{
	size_t *n = ud;

	/* Every field the walker hands out is bounds-checked: touch them all. */
	*n += x->pack[0] + x->id[ID_BYTES - 1] + x->type + x->compressed;
	return 0;
}

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct repo *r = fuzz_repo();
	struct err e = ERR_INIT;
	char name[ID_HEX];
	size_t n = 0;
	int rc;

	if (!r || obj_seal_put(r, OBJ_INDEX, KEY_DOMAIN_INDEX, data, size, name, &e) < 0)
		__builtin_trap(); /* the fixture itself failed: not the parser's doing */
	rc = index_walk(r, name, on_entry, &n, &e);
	if (backend_del(r->be, OBJ_INDEX, name, &e) < 0)
		__builtin_trap();
	return rc >= 0;
}
