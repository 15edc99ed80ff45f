/* Fuzz target: the repository's config object (JSON inside the sealed object: format
 * version, chunker and pack parameters, algorithms). Whatever it accepts must leave the
 * repository with parameters inside the documented bounds. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/scratch-repo.h"

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct repo *r = fuzz_repo();
	struct err e = ERR_INIT;
	int rc;

	if (!r)
		__builtin_trap(); /* the fixture itself failed: not the parser's doing */
	rc = repo_config_apply(r, (const char *)data, size, &e);
	if (rc >= 0 && (r->pack_size < REPO_PACK_MIN || r->pack_size > REPO_PACK_MAX ||
	                r->zstd_level < 1 || r->zstd_level > 19))
		__builtin_trap();
	if (rc < 0 && (!e.msg[0] || rc != e.code))
		__builtin_trap(); /* a refusal always says why */
	return rc >= 0;
}
