/* Owns the index's side table of blobs indexed in more than one place (a pack lost and its
 * blobs stored again, two nodes storing the same data, a forged index file): the blob table
 * keeps one copy per (type, id), the one lookups find, and this table every copy of those
 * blobs, so a reader can choose or fall back to another. It is empty, and costs nothing,
 * while no blob is indexed twice. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/vec.h"

/* By id, type, then place: a blob's copies lie side by side, each place once. */
static int copy_cmp(const void *a, const void *b)
{
	const struct idx_entry *x = a, *y = b;
	int c = memcmp(x->id, y->id, ID_BYTES);

	if (c)
		return c;
	if (x->type != y->type)
		return (int)x->type - (int)y->type;
	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (x->stored_len != y->stored_len)
		return x->stored_len < y->stored_len ? -1 : 1;
	return 0;
}

bool idx_same_place(const struct idx_entry *a, const struct idx_entry *b)
{
	return a->pack == b->pack && a->offset == b->offset && a->stored_len == b->stored_len &&
	       a->raw_len == b->raw_len && a->compressed == b->compressed;
}

static int dup_add(struct idx *x, const struct idx_entry *e)
{
	if (VEC_RESERVE1(x->dups, x->cap_dups, x->n_dups, 16))
		return -ENOMEM;
	x->dups[x->n_dups++] = *e;
	x->dups_new = true;
	return 0;
}

int idx_put_copy(struct idx *x, const struct idx_entry *e)
{
	struct idx_entry found;
	int rc;

	if (!idx_find(x, e->type, e->id, &found) || found.pack == IDX_PENDING ||
	    idx_same_place(&found, e))
		return idx_put(x, e);
	/* The copy indexed so far may not be in the table yet (its first duplicate);
	 * idx_dup_sort drops a place recorded twice. */
	rc = dup_add(x, &found);
	if (rc >= 0)
		rc = dup_add(x, e);
	if (rc < 0)
		return rc;
	/* The last copy read is the one found, as before; index_dups_resolve then checks it
	 * against its pack. */
	return idx_put(x, e);
}

void idx_dup_sort(struct idx *x)
{
	size_t k = 0;

	if (x->dups_sorted == x->n_dups)
		return;
	qsort(x->dups, x->n_dups, sizeof(*x->dups), copy_cmp);
	for (size_t i = 0; i < x->n_dups; i++)
		if (!k || copy_cmp(&x->dups[k - 1], &x->dups[i]))
			x->dups[k++] = x->dups[i];
	x->n_dups = x->dups_sorted = k;
}

/* The first copy of (type, id) in the sorted table, or n_dups. */
static size_t first_copy(const struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	size_t lo = 0, hi = x->dups_sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct idx_entry *d = &x->dups[mid];
		int c = memcmp(d->id, id, ID_BYTES);

		if (c < 0 || (c == 0 && d->type < type))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t idx_dup_copies(struct idx *x, unsigned type, const uint8_t id[ID_BYTES],
                      struct idx_entry *ret, size_t max)
{
	size_t n = 0;

	if (!x->n_dups)
		return 0;
	idx_dup_sort(x);
	for (size_t i = first_copy(x, type, id); i < x->n_dups; i++) {
		const struct idx_entry *d = &x->dups[i];

		if (d->type != type || memcmp(d->id, id, ID_BYTES))
			break;
		if (n < max)
			ret[n] = *d;
		n++;
	}
	return n;
}

int idx_dup_foreach(struct idx *x, idx_fn fn, void *ud)
{
	idx_dup_sort(x);
	for (size_t i = 0; i < x->n_dups; i++) {
		const struct idx_entry *d = &x->dups[i];
		struct idx_entry p;
		int rc;

		if (idx_find(x, d->type, d->id, &p) && idx_same_place(&p, d))
			continue; /* idx_foreach gives it */
		rc = fn(ud, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void idx_dup_release(struct idx *x)
{
	free(x->dups);
	x->dups = NULL;
	x->n_dups = x->cap_dups = x->dups_sorted = 0;
	x->dups_new = false;
}
