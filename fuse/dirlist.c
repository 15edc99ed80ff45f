/* One directory's entries held in memory, sorted by name, so lookups are a binary search
 * and readdir can resume at any index. fs.c bounds how many listings stay loaded. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

static int cmp_name(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

static int by_name(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return cmp_name(x->name, x->name_len, y->name, y->name_len);
}

int dirlist_adopt(struct node *ent, size_t n, struct dirlist **ret)
{
	struct dirlist *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	/* Trees are written sorted, but lookup must not trust that. */
	if (n > 1)
		qsort(ent, n, sizeof(*ent), by_name);
	d->ent = ent;
	d->n = n;
	d->refs = 1;
	*ret = d;
	return 0;
}

int dirlist_load(struct repo *r, const struct extent *segs, size_t n_segs, const struct node *dir,
                 struct dirlist **ret, struct err *e)
{
	struct tree_iter it;
	struct node *ent = NULL;
	size_t n = 0, cap = 0;
	int k;

	if (dir)
		tree_iter_init(&it, r, dir);
	else
		tree_iter_init_root(&it, r, segs, n_segs);
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64, bytes;
			struct node *p;

			k = -EFBIG;
			if (ncap > DIRLIST_MAX_ENTRIES)
				ncap = DIRLIST_MAX_ENTRIES;
			if (ncap == cap)
				goto fail;
			k = -EOVERFLOW;
			if (ckd_mul(&bytes, ncap, sizeof(*p)))
				goto fail;
			k = -ENOMEM;
			p = realloc(ent, bytes);
			if (!p)
				goto fail;
			ent = p;
			cap = ncap;
		}
		memset(&ent[n], 0, sizeof(ent[n]));
		k = tree_iter_next(&it, &ent[n], e);
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		n++;
	}
	tree_iter_release(&it);
	k = dirlist_adopt(ent, n, ret);
	if (k < 0)
		goto fail_released;
	return 0;
fail:
	tree_iter_release(&it);
fail_released:
	for (size_t i = 0; i < n; i++)
		node_release(&ent[i]);
	free(ent);
	if (k == -EFBIG)
		return err_set(e, k, "directory has more than %u entries", DIRLIST_MAX_ENTRIES);
	return k;
}

const struct node *dirlist_find(const struct dirlist *d, const char *name, size_t len)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_name(name, len, d->ent[mid].name, d->ent[mid].name_len);

		if (c == 0)
			return &d->ent[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void dirlist_free(struct dirlist *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		node_release(&d->ent[i]);
	free(d->ent);
	free(d);
}
