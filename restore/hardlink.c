/* Owns the hardlink map: (dev, inode) of multiply-linked files -> first restored path.
 * Only files with nlink > 1 enter it, so it grows with hardlinks, not with files. */
#include "restore/restore-internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static size_t slot(const struct hardlinks *h, uint64_t dev, uint64_t ino)
{
	uint64_t x = (ino * 0x9e3779b97f4a7c15ull) ^ dev;

	return (size_t)(x ^ (x >> 29)) & (h->cap - 1);
}

static int grow(struct hardlinks *h)
{
	struct hardlinks n = { .cap = h->cap ? 2 * h->cap : 64 };

	n.v = calloc(n.cap, sizeof(*n.v));
	if (!n.v)
		return -1;
	for (size_t i = 0; i < h->cap; i++) {
		size_t j;

		if (!h->v[i].path)
			continue;
		for (j = slot(&n, h->v[i].dev, h->v[i].inode); n.v[j].path; j = (j + 1) & (n.cap - 1))
			;
		n.v[j] = h->v[i];
	}
	n.n = h->n;
	free(h->v);
	*h = n;
	return 0;
}

const char *rs_link_seen(struct hardlinks *h, const struct node *n, const char *path)
{
	size_t i;

	if (n->nlink < 2 || n->type == NODE_DIR)
		return NULL;
	if ((h->n + 1) * 2 > h->cap && grow(h) < 0)
		return NULL; /* out of memory: restore as a separate copy rather than fail */
	for (i = slot(h, n->dev, n->inode); h->v[i].path; i = (i + 1) & (h->cap - 1))
		if (h->v[i].dev == n->dev && h->v[i].inode == n->inode)
			return h->v[i].path;
	h->v[i].path = strdup(path);
	if (h->v[i].path) {
		h->v[i].dev = n->dev;
		h->v[i].inode = n->inode;
		h->n++;
	}
	return NULL;
}

void rs_links_release(struct hardlinks *h)
{
	for (size_t i = 0; i < h->cap; i++)
		free(h->v[i].path);
	free(h->v);
	memset(h, 0, sizeof(*h));
}
