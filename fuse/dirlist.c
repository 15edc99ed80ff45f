/* One directory's entries held in memory, sorted by name and each name once, so lookups
 * are a binary search and readdir can resume at any index. fs.c bounds how many listings
 * stay loaded. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

static int by_name(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return repo_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* Which copy of a name the mount shows, so that readdir lists every name once and lookup
 * finds the entry readdir listed. It follows restore (restore_dir in restore/restore.c):
 * a folder's names are stored sorted by bytes, each once (docs/format.md), so walking the
 * tree in its order an entry is kept only when its name sorts strictly after the last kept
 * one; a repeat or an entry out of order is left out. The first copy of a repeated name
 * wins, and a forged folder shows the same entries through the mount as restore writes.
 * The snapshot root holds one entry per backed-up path in the order the paths were given,
 * not sorted, so restore does not check its order; the mount cannot show a name twice, so
 * there the first copy in tree order of each name wins and nothing else is left out. */

/* Same name: the earlier place in the tree first, so a run of one name starts with the
 * copy the tree holds first. */
static int by_name_then_place(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	int c = repo_name_cmp(x->name, x->name_len, y->name, y->name_len);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* Entries left out of a listing: how many, and the first one's name for the report. */
struct drops {
	char *first;
	size_t n;
};

static int drops_note(struct drops *dr, const struct node *x)
{
	if (!dr->first) {
		dr->first = strndup(x->name, x->name_len);
		if (!dr->first)
			return -ENOMEM;
	}
	dr->n++;
	return 0;
}

/* The snapshot root: keep the first copy in tree order of each name (see the rule above).
 * Dropped entries are released and the kept ones closed up in their order. */
static int root_dedupe(struct node *ent, size_t *n, struct drops *dr)
{
	struct node **by = NULL, *keep;
	size_t bytes, o = 0;
	int k = 0;

	if (*n < 2)
		return 0;
	if (ckd_mul(&bytes, *n, sizeof(*by)))
		return -EOVERFLOW;
	by = malloc(bytes);
	if (!by)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++)
		by[i] = &ent[i];
	qsort(by, *n, sizeof(*by), by_name_then_place);
	keep = by[0];
	for (size_t i = 1; i < *n; i++) {
		if (repo_name_cmp(by[i]->name, by[i]->name_len, keep->name, keep->name_len) != 0) {
			keep = by[i];
			continue;
		}
		k = drops_note(dr, by[i]);
		if (k < 0)
			goto fail;
		/* Names are never empty (tree_iter refuses them): NULL marks a dropped entry. */
		node_release(by[i]);
		memset(by[i], 0, sizeof(*by[i]));
	}
	for (size_t i = 0; i < *n; i++)
		if (ent[i].name)
			ent[o++] = ent[i];
	*n = o;
fail:
	free(by);
	return k;
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

/* What one entry costs in memory: its slot and what it points to, each allocation with
 * malloc's bookkeeping (about 16 bytes), so that a budget in bytes holds in RSS. Every
 * length here was bounded by the tree decoder, so the sum cannot wrap. */
#define ALLOC_OVERHEAD 16
static size_t node_bytes(const struct node *x)
{
	size_t b = x->name_len + 1 + ALLOC_OVERHEAD;

	if (x->user)
		b += strlen(x->user) + 1 + ALLOC_OVERHEAD;
	if (x->group)
		b += strlen(x->group) + 1 + ALLOC_OVERHEAD;
	if (x->target)
		b += x->target_len + 1 + ALLOC_OVERHEAD;
	if (x->n_xattrs)
		b += x->n_xattrs * sizeof(*x->xattrs) + ALLOC_OVERHEAD;
	for (size_t i = 0; i < x->n_xattrs; i++)
		b += strlen(x->xattrs[i].name) + x->xattrs[i].len + 1 + 2 * ALLOC_OVERHEAD;
	if (x->n_content)
		b += x->n_content * sizeof(*x->content) + ALLOC_OVERHEAD;
	return b;
}

/* Grow ent to hold one more entry, up to DIRLIST_MAX_ENTRIES and max_bytes for the array
 * and the bytes already held (used); -EFBIG past either. The array grows with the entries
 * really decoded, never with what the folder's segments claim. */
static int grow(struct node **ent, size_t n, size_t *cap, size_t *used, size_t max_bytes)
{
	size_t ncap = *cap ? *cap * 2 : 64, bytes, total, rest;
	struct node *p;

	if (n < *cap)
		return 0;
	if (ncap > DIRLIST_MAX_ENTRIES)
		ncap = DIRLIST_MAX_ENTRIES;
	if (ckd_mul(&bytes, ncap, sizeof(*p)))
		return -EOVERFLOW;
	/* used counts the old array; the new one replaces it. Near the limit, the largest
	 * array that fits, so that the last entries still load. */
	rest = *used - *cap * sizeof(*p);
	if (ckd_add(&total, rest, bytes) || total > max_bytes) {
		if (rest >= max_bytes)
			return -EFBIG;
		ncap = (max_bytes - rest) / sizeof(*p);
		bytes = ncap * sizeof(*p);
	}
	if (ncap <= *cap)
		return -EFBIG;
	p = realloc(*ent, bytes);
	if (!p)
		return -ENOMEM;
	*ent = p;
	*cap = ncap;
	*used = rest + bytes;
	return 0;
}

int dirlist_load(struct repo *r, const struct extent *segs, size_t n_segs, const struct node *dir,
                 size_t max_bytes, struct dirlist **ret, struct err *e)
{
	struct drops dr = { NULL, 0 }, lg = { NULL, 0 };
	struct tree_iter it;
	struct node *ent = NULL;
	size_t n = 0, cap = 0, used = 0, nb;
	bool cut = false, rest = false;
	int k;

	if (dir)
		tree_iter_init(&it, r, dir);
	else
		tree_iter_init_root(&it, r, segs, n_segs);
	for (;;) {
		k = grow(&ent, n, &cap, &used, max_bytes);
		if (k == -EFBIG) {
			cut = true;
			break;
		}
		if (k < 0)
			goto fail;
		memset(&ent[n], 0, sizeof(ent[n]));
		k = tree_iter_next(&it, &ent[n], e);
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		/* A name no lookup can reach (the kernel refuses it, ENAMETOOLONG): readdir would
		 * list what cannot be opened. Restore refuses it too (rs_name_ok). */
		if (ent[n].name_len > NAME_MAX) {
			k = drops_note(&lg, &ent[n]);
			node_release(&ent[n]);
			if (k < 0)
				goto fail;
			continue;
		}
		/* A folder below the root (the rule above): compare with the last kept name. */
		if (dir && n > 0 &&
		    repo_name_cmp(ent[n - 1].name, ent[n - 1].name_len, ent[n].name, ent[n].name_len) >=
		        0) {
			k = drops_note(&dr, &ent[n]);
			node_release(&ent[n]);
			if (k < 0)
				goto fail;
			/* As restore does (restore.c, REFUSED_MAX): the rest is left out too. */
			if (dr.n == DIRLIST_DROPS_MAX) {
				rest = true;
				break;
			}
			continue;
		}
		nb = node_bytes(&ent[n]);
		if (nb > max_bytes - used) {
			node_release(&ent[n]);
			cut = true;
			break;
		}
		used += nb;
		n++;
	}
	/* Over max_bytes: below the root the caller reads the folder another way
	 * (dirstream.c); the root is served cut at the limit, and says so (d->cut). */
	k = -EFBIG;
	if (cut && dir)
		goto fail;
	tree_iter_release(&it);
	k = dir ? 0 : root_dedupe(ent, &n, &dr);
	if (k >= 0)
		k = dirlist_adopt(ent, n, ret);
	if (k < 0)
		goto fail_released;
	(*ret)->dropped = dr.first;
	(*ret)->n_dropped = dr.n;
	(*ret)->rest_dropped = rest;
	(*ret)->too_long = lg.first;
	(*ret)->n_too_long = lg.n;
	(*ret)->cut = cut;
	(*ret)->bytes = used;
	return 0;
fail:
	tree_iter_release(&it);
fail_released:
	for (size_t i = 0; i < n; i++)
		node_release(&ent[i]);
	free(ent);
	free(dr.first);
	free(lg.first);
	if (k == -EFBIG)
		return err_set(e, k, "folder listing is over %zu bytes", max_bytes);
	return k;
}

const struct node *dirlist_find(const struct dirlist *d, const char *name, size_t len)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = repo_name_cmp(name, len, d->ent[mid].name, d->ent[mid].name_len);

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
	free(d->dropped);
	free(d->too_long);
	free(d);
}
