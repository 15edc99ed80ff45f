/* Where each name of a folder too large to hold lives: per tree segment, the greatest name
 * kept up to its end. A lookup then reads one segment, not the folder up to the name.
 * Exact by dirlist.c's rule even for a forged folder: an entry is kept when its name sorts
 * after every name kept before it, so a kept name x of segment s lies between the greatest
 * names kept up to segments s-1 and s, and these only grow with s. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

/* Append (name, len) as segment n's greatest name, within max bytes in all. */
static int put(struct dirindex *x, const char *name, size_t len, size_t max)
{
	size_t bytes;

	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 16;
		size_t *p;

		if (ckd_mul(&bytes, ncap + 1, sizeof(*p)) || ckd_add(&bytes, bytes, x->names_cap) ||
		    bytes > max)
			return -EFBIG;
		p = realloc(x->off, (ncap + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		x->off = p;
		x->cap = ncap;
		if (x->n == 0)
			x->off[0] = 0;
	}
	if (x->off[x->n] + len > x->names_cap) {
		size_t ncap = x->names_cap ? x->names_cap * 2 : 4096;
		char *p;

		if (ckd_mul(&bytes, x->cap + 1, sizeof(*x->off)) || ckd_add(&bytes, bytes, ncap) ||
		    bytes > max)
			return -EFBIG;
		p = realloc(x->names, ncap);
		if (!p)
			return -ENOMEM;
		x->names = p;
		x->names_cap = ncap;
	}
	if (len)
		memcpy(x->names + x->off[x->n], name, len);
	x->off[x->n + 1] = x->off[x->n] + len;
	x->n++;
	x->bytes = (x->cap + 1) * sizeof(*x->off) + x->names_cap;
	return 0;
}

int dirindex_build(struct repo *r, const struct node *dir, size_t max_bytes, struct dirindex **ret,
                   struct err *e)
{
	struct dirindex *x = calloc(1, sizeof(*x));
	struct dirstream s;
	const struct node *ent;
	int k = -ENOMEM;

	if (!x)
		return k;
	dirstream_init(&s, r, dir);
	for (size_t seg = 0; seg < dir->n_content; seg++) {
		/* One segment at a time, the greatest name so far carried over. */
		if (s.started)
			tree_iter_release(&s.it);
		tree_iter_init_root(&s.it, r, dir->content + seg, 1);
		s.started = true;
		for (uint64_t i = s.pos;; i++) {
			k = dirstream_at(&s, i, &ent, e);
			if (k < 0)
				goto fail;
			if (k == 0)
				break;
		}
		/* Past its end: nothing is current and the next index is where it stopped. */
		k = put(x, s.last, s.has_last ? s.last_len : 0, max_bytes);
		if (k < 0)
			goto fail;
	}
	dirstream_release(&s);
	*ret = x;
	return 0;
fail:
	dirstream_release(&s);
	dirindex_free(x);
	return k;
}

size_t dirindex_seg(const struct dirindex *x, const char *name, size_t len)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (repo_name_cmp(x->names + x->off[mid], x->off[mid + 1] - x->off[mid], name,
		                  len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void dirindex_free(struct dirindex *x)
{
	if (!x)
		return;
	free(x->off);
	free(x->names);
	free(x);
}
