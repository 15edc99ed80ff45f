/* Fuzz target: snapshot objects (JSON inside the sealed object) through
 * repo_snapshot_load, the path every command takes to a snapshot. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/scratch-repo.h"

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct repo *r = fuzz_repo();
	struct snapshot s = { 0 };
	struct err e = ERR_INIT;
	char name[ID_HEX];
	int rc;

	if (!r || obj_seal_put(r, OBJ_SNAPSHOT, KEY_DOMAIN_SNAPSHOT, data, size, name, &e) < 0)
		__builtin_trap(); /* the fixture itself failed: not the parser's doing */
	rc = repo_snapshot_load(r, name, &s, &e);
	if (rc >= 0)
		snapshot_release(&s);
	if (backend_del(r->be, OBJ_SNAPSHOT, name, &e) < 0)
		__builtin_trap();
	return rc >= 0;
}
