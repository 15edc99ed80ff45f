/* check's table of segment boundary names (maint/segbounds.c): many random ids, each
 * found with its own two names, an id put twice keeps its first entry, an unknown
 * segment and an empty one kept as such, over-long names refused, and the bytes the
 * table holds by its own accounting (the memory cost check pays per multi-segment
 * folder's segment). */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/segbounds.h"
#include "tests/tap.h"

#define N_IDS 50000

static uint8_t (*ids)[ID_BYTES], (*absent)[ID_BYTES];

/* Names derived from the index, of 1 to 40 bytes, so each entry can be checked. */
static size_t name_of(size_t i, int which, char *out)
{
	size_t len = 1 + (i * 7 + (size_t)which * 13) % 40;

	for (size_t k = 0; k < len; k++)
		out[k] = (char)('a' + (i + k + (size_t)which) % 26);
	return len;
}

static void many(void)
{
	struct segbounds s = { 0 };
	size_t added = 0, wrong = 0, found = 0, names = 0;
	char a[64], b[64];

	for (size_t i = 0; i < N_IDS; i++) {
		size_t al = name_of(i, 0, a), bl = name_of(i, 1, b);

		randombytes_buf(ids[i], ID_BYTES);
		randombytes_buf(absent[i], ID_BYTES);
		added += segbounds_put(&s, ids[i], a, al, b, bl, false) == 1;
		names += al + bl;
	}
	for (size_t i = 0; i < N_IDS; i++) {
		const struct segbound *e = segbounds_get(&s, ids[i]);
		size_t al = name_of(i, 0, a), bl = name_of(i, 1, b);

		if (!e || e->unknown || e->first_len != al || e->last_len != bl ||
		    memcmp(e->names, a, al) || memcmp(e->names + al, b, bl))
			wrong++;
		found += segbounds_get(&s, absent[i]) != NULL;
	}
	is_int(added, N_IDS, "%d random segment ids added", N_IDS);
	is_int(wrong, 0, "each found with its own first and last names");
	is_int(found, 0, "no id that was not put is found");
	is_int(segbounds_put(&s, ids[0], "z", 1, "z", 1, true), 0, "an id put again: 0");
	ok(segbounds_get(&s, ids[0])->first_len == name_of(0, 0, a),
	   "an id put again keeps its first entry");
	tap_diag("%d segments, %zu bytes of names: %zu bytes, %.1f per segment beyond its names",
	         N_IDS, names, segbounds_bytes(&s), (double)(segbounds_bytes(&s) - names) / N_IDS);
	ok(segbounds_bytes(&s) <= names + (size_t)N_IDS * 96,
	   "at most 96 bytes per segment beyond its names (%zu bytes)", segbounds_bytes(&s));
	segbounds_release(&s);
	is_int(segbounds_bytes(&s), 0, "released");
}

static void special(void)
{
	struct segbounds s = { 0 };
	char big[NAME_MAX + 2] = { 0 };
	uint8_t u[ID_BYTES] = { 1 }, z[ID_BYTES] = { 2 }, l[ID_BYTES] = { 3 };
	const struct segbound *e;

	ok(segbounds_get(&s, u) == NULL, "an empty table finds nothing");
	is_int(segbounds_put(&s, u, NULL, 0, NULL, 0, true), 1, "an unknown segment is put");
	is_int(segbounds_put(&s, z, NULL, 0, NULL, 0, false), 1, "an empty segment is put");
	e = segbounds_get(&s, u);
	ok(e && e->unknown && !e->first_len, "the unknown segment is found unknown");
	e = segbounds_get(&s, z);
	ok(e && !e->unknown && !e->first_len && !e->last_len, "the empty one is found empty");
	memset(big, 'n', NAME_MAX + 1);
	is_int(segbounds_put(&s, l, big, NAME_MAX + 1, "a", 1, false), -EINVAL,
	       "a name longer than NAME_MAX is refused");
	is_int(segbounds_put(&s, l, big, NAME_MAX, big, NAME_MAX, false), 1,
	       "names of NAME_MAX bytes are kept");
	e = segbounds_get(&s, l);
	ok(e && e->first_len == NAME_MAX && e->last_len == NAME_MAX &&
	       !memcmp(e->names + NAME_MAX, big, NAME_MAX),
	   "and found whole");
	segbounds_release(&s);
	segbounds_release(&s); /* a released table is empty: releasing again does nothing */
	ok(!s.v && !s.n, "released twice");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	ids = calloc(N_IDS, ID_BYTES);
	absent = calloc(N_IDS, ID_BYTES);
	if (!ids || !absent)
		return 1;
	many();
	special();
	free(ids);
	free(absent);
	return tap_done();
}
