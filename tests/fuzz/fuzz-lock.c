/* Fuzz target: lock objects (JSON inside the sealed object) as any writer of the
 * repository may forge them. The decoder must hand back bounded, terminated strings, and
 * taking a lock beside the forged one (the scan that judges its age and holder) must
 * neither overflow nor fail for any other reason than a conflict (-EBUSY). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/scratch-repo.h"

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct repo *r = fuzz_repo();
	struct repo_lock *l = NULL;
	struct lock_info li;
	struct err e = ERR_INIT;
	char name[ID_HEX];
	int64_t now = (int64_t)time(NULL), age;
	int rc, dec;

	if (!r || obj_seal_put(r, OBJ_LOCK, KEY_DOMAIN_LOCK, data, size, name, &e) < 0)
		__builtin_trap(); /* the fixture itself failed: not the parser's doing */
	dec = lock_decode(data, size, &li);
	if (dec >= 0) {
		if (memchr(li.host, 0, sizeof(li.host)) == NULL ||
		    memchr(li.boot, 0, sizeof(li.boot)) == NULL ||
		    memchr(li.pidns, 0, sizeof(li.pidns)) == NULL)
			__builtin_trap();
		/* The age saturates: its sign always says which side of now the lock is. */
		age = lock_age_at(now, li.time);
		if ((li.time <= now && age < 0) || (li.time > now && age >= 0))
			__builtin_trap();
	}
	rc = repo_lock(r, REPO_LOCK_EXCLUSIVE, &l, &e);
	if (rc < 0 && rc != -EBUSY)
		__builtin_trap();
	repo_unlock(l);
	if (backend_del(r->be, OBJ_LOCK, name, &e) < 0)
		__builtin_trap();
	return dec >= 0;
}
