/* Owns the hardlink map: (dev, inode) of multiply-linked files -> first restored path.
 * Only files with nlink > 1 enter it, so it grows with hardlinks, not with files. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		for (j = slot(&n, h->v[i].dev, h->v[i].inode); n.v[j].path;
		     j = (j + 1) & (n.cap - 1))
			;
		n.v[j] = h->v[i];
	}
	n.n = h->n;
	free(h->v);
	*h = n;
	return 0;
}

/* FNV-1a over the content list: ids, lengths and holes. */
static uint64_t content_print(const struct node *n)
{
	uint64_t x = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n->n_content; i++) {
		const struct extent *c = &n->content[i];

		for (size_t k = 0; k < ID_BYTES; k++)
			x = (x ^ c->id[k]) * 0x100000001b3ull;
		x = (x ^ c->len) * 0x100000001b3ull;
		x = (x ^ c->hole) * 0x100000001b3ull;
	}
	return x;
}

const char *rs_link_seen(struct hardlinks *h, const struct node *n, const char *path,
                         bool *ret_differs)
{
	uint64_t print;
	size_t i;

	*ret_differs = false;
	if (n->nlink < 2 || n->type == NODE_DIR)
		return NULL;
	if ((h->n + 1) * 2 > h->cap && grow(h) < 0)
		return NULL; /* out of memory: restore as a separate copy rather than fail */
	print = content_print(n);
	for (i = slot(h, n->dev, n->inode); h->v[i].path; i = (i + 1) & (h->cap - 1))
		if (h->v[i].dev == n->dev && h->v[i].inode == n->inode) {
			if (h->v[i].size == n->size && h->v[i].content == print)
				return h->v[i].path;
			*ret_differs = true;
			return NULL;
		}
	h->v[i].path = strdup(path);
	if (h->v[i].path) {
		h->v[i].dev = n->dev;
		h->v[i].inode = n->inode;
		h->v[i].size = n->size;
		h->v[i].content = print;
		h->n++;
	}
	return NULL;
}

int rs_link_make(struct rs *s, const char *first, int dirfd, const char *name)
{
	char parent[sizeof(s->path)];
	const char *base = strrchr(first, '/');
	int pfd = -1, rc;

	/* first is "/a/b/c" from the walker: its folders are resolved beneath the target
	 * again, never through a symlink someone put there since. */
	if (!base || (size_t)(base - first) >= sizeof(parent))
		return -EINVAL;
	memcpy(parent, first + 1, (size_t)(base - first));
	parent[base - first - (base > first ? 1 : 0)] = 0;
	if (parent[0]) {
		pfd = rs_open_beneath(s->target_fd, parent, O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return pfd;
	}
	rc = linkat(pfd >= 0 ? pfd : s->target_fd, base + 1, dirfd, name, 0) < 0 ? -errno : 0;
	if (pfd >= 0)
		close(pfd);
	return rc;
}

int rs_link_same(struct rs *s, const char *first, int dirfd, const char *name)
{
	char parent[sizeof(s->path)];
	const char *base = strrchr(first, '/');
	struct stat a, b;
	int pfd = -1, rc;

	if (!base || (size_t)(base - first) >= sizeof(parent))
		return 0;
	memcpy(parent, first + 1, (size_t)(base - first));
	parent[base - first - (base > first ? 1 : 0)] = 0;
	if (parent[0]) {
		pfd = rs_open_beneath(s->target_fd, parent, O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return 0;
	}
	rc = fstatat(pfd >= 0 ? pfd : s->target_fd, base + 1, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	     fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(a.st_mode) &&
	     a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	if (pfd >= 0)
		close(pfd);
	return rc;
}

void rs_links_release(struct hardlinks *h)
{
	for (size_t i = 0; i < h->cap; i++)
		free(h->v[i].path);
	free(h->v);
	memset(h, 0, sizeof(*h));
}
