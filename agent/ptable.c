/* Owns the agent's table of this node's unfinished PodVolumeBackups: a chained hash table
 * keyed by object uid (names are reused after a delete, uids never), so watch events and
 * the dispatcher find an entry in constant time however many objects a node has. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define PTAB_MIN_BUCKETS 64

/* FNV-1a: uids are random already; this only spreads them over the buckets. */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void ptab_init(struct ptab *t)
{
	memset(t, 0, sizeof(*t));
}

static int grow(struct ptab *t)
{
	size_t nb = t->n_buckets ? t->n_buckets * 2 : PTAB_MIN_BUCKETS, i;
	struct pentry **b = calloc(nb, sizeof(*b)), *en, *next;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < t->n_buckets; i++) {
		for (en = t->buckets[i]; en; en = next) {
			next = en->next;
			en->next = b[en->hash & (nb - 1)];
			b[en->hash & (nb - 1)] = en;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = nb;
	return 0;
}

struct pentry *ptab_find(const struct ptab *t, const char *uid)
{
	struct pentry *en;
	uint64_t h;

	if (!t->n_buckets || !uid)
		return NULL;
	h = hash(uid);
	for (en = t->buckets[h & (t->n_buckets - 1)]; en; en = en->next)
		if (en->hash == h && strcmp(en->uid, uid) == 0)
			return en;
	return NULL;
}

int ptab_add(struct ptab *t, const char *uid, struct pentry **ret)
{
	struct pentry *en;
	size_t slot;
	int r;

	/* Keep the load factor under 1: chains stay a few entries long. */
	if (t->n >= t->n_buckets) {
		r = grow(t);
		if (r < 0)
			return r;
	}
	en = calloc(1, sizeof(*en));
	if (!en)
		return -ENOMEM;
	en->uid = strdup(uid);
	if (!en->uid) {
		free(en);
		return -ENOMEM;
	}
	en->hash = hash(uid);
	slot = en->hash & (t->n_buckets - 1);
	en->next = t->buckets[slot];
	t->buckets[slot] = en;
	t->n++;
	*ret = en;
	return 0;
}

void ptab_del(struct ptab *t, struct pentry *en)
{
	struct pentry **pp = &t->buckets[en->hash & (t->n_buckets - 1)];

	while (*pp && *pp != en)
		pp = &(*pp)->next;
	if (*pp)
		*pp = en->next;
	t->n--;
	free(en->uid);
	json_decref(en->obj);
	free(en);
}

struct pentry *ptab_next(const struct ptab *t, const struct pentry *en)
{
	size_t i;

	if (en && en->next)
		return en->next;
	for (i = en ? (en->hash & (t->n_buckets - 1)) + 1 : 0; i < t->n_buckets; i++)
		if (t->buckets[i])
			return t->buckets[i];
	return NULL;
}

void ptab_release(struct ptab *t)
{
	struct pentry *en, *next;

	for (en = ptab_next(t, NULL); en; en = next) {
		next = ptab_next(t, en);
		ptab_del(t, en);
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}
