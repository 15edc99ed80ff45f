/* The inode table: every node the kernel holds a reference to, indexed by inode number
 * and by identity key (virtual path, parent + name, or snapshot + recorded dev/inode for
 * hardlinks), so a node met twice gets the same number. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/banned.h"

/* FUSE_ROOT_ID is 1; numbering starts after it. */
#define FIRST_INO 2

static size_t ino_slot(const struct itable *t, uint64_t ino)
{
	/* Fibonacci hashing spreads the sequential numbers over the buckets. */
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 17) & (t->n_bucket - 1);
}

static size_t key_slot(const struct itable *t, const void *key, size_t len)
{
	return (size_t)XXH3_64bits(key, len) & (t->n_bucket - 1);
}

int itable_init(struct itable *t)
{
	memset(t, 0, sizeof(*t));
	t->n_bucket = 1024;
	t->by_ino = calloc(t->n_bucket, sizeof(*t->by_ino));
	t->by_key = calloc(t->n_bucket, sizeof(*t->by_key));
	if (!t->by_ino || !t->by_key) {
		itable_release(t);
		return -ENOMEM;
	}
	t->next_ino = FIRST_INO;
	return 0;
}

void itable_release(struct itable *t)
{
	free(t->by_ino);
	free(t->by_key);
	t->by_ino = t->by_key = NULL;
	t->n_bucket = t->count = 0;
}

struct snode *itable_get(const struct itable *t, uint64_t ino)
{
	for (struct snode *n = t->by_ino[ino_slot(t, ino)]; n; n = n->inext)
		if (n->ino == ino)
			return n;
	return NULL;
}

struct snode *itable_find(const struct itable *t, const void *key, size_t len)
{
	for (struct snode *n = t->by_key[key_slot(t, key, len)]; n; n = n->knext)
		if (n->key_len == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

static void link_node(struct itable *t, struct snode *n)
{
	size_t i = ino_slot(t, n->ino), k = key_slot(t, n->key, n->key_len);

	n->inext = t->by_ino[i];
	t->by_ino[i] = n;
	n->knext = t->by_key[k];
	t->by_key[k] = n;
}

static int grow(struct itable *t)
{
	struct itable nt = *t;
	size_t n = t->n_bucket * 2;

	nt.n_bucket = n;
	nt.by_ino = calloc(n, sizeof(*nt.by_ino));
	nt.by_key = calloc(n, sizeof(*nt.by_key));
	if (!nt.by_ino || !nt.by_key) {
		free(nt.by_ino);
		free(nt.by_key);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_bucket; i++) {
		struct snode *x = t->by_ino[i], *next;

		for (; x; x = next) {
			next = x->inext;
			link_node(&nt, x);
		}
	}
	free(t->by_ino);
	free(t->by_key);
	*t = nt;
	return 0;
}

int itable_add(struct itable *t, struct snode *n)
{
	/* Keep chains short; a failed grow is only slower, never wrong. */
	if (t->count >= t->n_bucket && grow(t) < 0 && t->count >= 8 * t->n_bucket)
		return -ENOMEM;
	if (n->ino == 0)
		n->ino = t->next_ino++;
	link_node(t, n);
	t->count++;
	return 0;
}

void itable_del(struct itable *t, struct snode *n)
{
	struct snode **pp = &t->by_ino[ino_slot(t, n->ino)];

	for (; *pp; pp = &(*pp)->inext)
		if (*pp == n) {
			*pp = n->inext;
			break;
		}
	for (pp = &t->by_key[key_slot(t, n->key, n->key_len)]; *pp; pp = &(*pp)->knext)
		if (*pp == n) {
			*pp = n->knext;
			break;
		}
	t->count--;
}
