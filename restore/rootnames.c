/* Owns the names already restored at the snapshot root. The root keeps the order of the
 * backed-up paths (not sorted), so a forged repeat cannot be told by order as in a folder:
 * each name is remembered, as a 128-bit digest, and the first copy wins (as the mount). */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#include "util/banned.h"
#include "util/ckd.h"

/* A seed the snapshot's writer cannot know, so it cannot make two names meet; an honest
 * root of n names collides with odds of about n^2 / 2^129. */
static void seed(struct rs_roots *r)
{
	if (getrandom(&r->seed, sizeof(r->seed), 0) != (ssize_t)sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r ^ 0x9e3779b97f4a7c15ull;
	r->seeded = true;
}

static bool empty(const struct rs_root_slot *s)
{
	return !s->lo && !s->hi;
}

static struct rs_root_slot *probe(struct rs_root_slot *v, size_t cap, struct rs_root_slot d)
{
	size_t i = (size_t)d.lo & (cap - 1);

	while (!empty(&v[i]) && (v[i].lo != d.lo || v[i].hi != d.hi))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Double the table (kept at most half full). */
static int grow(struct rs_roots *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64, bytes;
	struct rs_root_slot *v;

	if (ckd_mul(&bytes, cap, sizeof(*v)))
		return -EOVERFLOW;
	v = calloc(1, bytes);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->cap; i++)
		if (!empty(&r->v[i]))
			*probe(v, cap, r->v[i]) = r->v[i];
	free(r->v);
	r->v = v;
	r->cap = cap;
	return 0;
}

int rs_roots_add(struct rs_roots *r, const char *name, size_t len)
{
	struct rs_root_slot d, *at;
	XXH128_hash_t h;
	int rc;

	if (!r->seeded)
		seed(r);
	h = XXH3_128bits_withSeed(name, len, r->seed);
	d.lo = h.low64;
	d.hi = h.high64;
	if (empty(&d))
		d.lo = 1; /* all-zero marks a free slot */
	if (r->cap) {
		at = probe(r->v, r->cap, d);
		if (!empty(at))
			return 0;
	}
	if (r->n >= RS_ROOT_MAX_NAMES)
		return -EFBIG;
	if (2 * (r->n + 1) > r->cap) {
		rc = grow(r);
		if (rc < 0)
			return rc;
	}
	*probe(r->v, r->cap, d) = d;
	r->n++;
	return 1;
}

void rs_roots_release(struct rs_roots *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}
