/* Owns the in-memory blob table: open addressing over keyed-hash ids (uniformly random,
 * so the first 8 bytes are the hash) and the pack-number table. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

static bool slot_empty(const struct idx_entry *s)
{
	static const uint8_t zero[ID_BYTES];

	return memcmp(s->id, zero, ID_BYTES) == 0;
}

static size_t slot_of(const struct idx *x, const uint8_t id[ID_BYTES])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)h & (x->cap - 1);
}

/* Keyed by (type, id): the same bytes stored as a file chunk and as a tree segment have
 * the same id, and each must be findable (and stored) as what it is. Both live in the
 * same probe chain (the home slot depends on the id only). */
struct idx_entry *idx_find(struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	if (!x->cap)
		return NULL;
	for (size_t i = slot_of(x, id);; i = (i + 1) & (x->cap - 1)) {
		struct idx_entry *s = &x->slots[i];

		if (slot_empty(s))
			return NULL;
		if (s->type == type && memcmp(s->id, id, ID_BYTES) == 0)
			return s;
	}
}

static int idx_grow(struct idx *x)
{
	struct idx_entry *old = x->slots;
	size_t old_cap = x->cap, cap = x->cap ? x->cap * 2 : 1024;
	size_t bytes;

	if (ckd_mul(&bytes, cap, sizeof(*old)))
		return -EOVERFLOW;
	x->slots = calloc(cap, sizeof(*old));
	if (!x->slots) {
		x->slots = old;
		return -ENOMEM;
	}
	x->cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (slot_empty(&old[i]))
			continue;
		for (j = slot_of(x, old[i].id); !slot_empty(&x->slots[j]); j = (j + 1) & (cap - 1))
			;
		x->slots[j] = old[i];
	}
	free(old);
	return 0;
}

int idx_put(struct idx *x, const struct idx_entry *e)
{
	struct idx_entry *s = idx_find(x, e->type, e->id);
	size_t i;
	int r;

	if (s) {
		*s = *e;
		return 0;
	}
	/* Keep the load factor under 3/4 so probe chains stay short. */
	if ((x->n + 1) * 4 > x->cap * 3) {
		r = idx_grow(x);
		if (r < 0)
			return r;
	}
	for (i = slot_of(x, e->id); !slot_empty(&x->slots[i]); i = (i + 1) & (x->cap - 1))
		;
	x->slots[i] = *e;
	x->n++;
	return 0;
}

void idx_remove(struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	struct idx_entry *s = idx_find(x, type, id);
	size_t i, j;

	if (!s)
		return;
	/* Backward-shift deletion keeps every probe chain intact without tombstones. */
	i = (size_t)(s - x->slots);
	memset(&x->slots[i], 0, sizeof(*s));
	x->n--;
	for (j = (i + 1) & (x->cap - 1); !slot_empty(&x->slots[j]); j = (j + 1) & (x->cap - 1)) {
		size_t home = slot_of(x, x->slots[j].id);
		bool move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);

		if (move) {
			x->slots[i] = x->slots[j];
			memset(&x->slots[j], 0, sizeof(x->slots[j]));
			i = j;
		}
	}
}

static size_t pack_home(const struct idx *x, const uint8_t pack[ID_BYTES])
{
	uint64_t h;

	memcpy(&h, pack, sizeof(h));
	return (size_t)h & (x->pack_slots_cap - 1);
}

static void pack_slot_put(struct idx *x, uint32_t number)
{
	size_t i = pack_home(x, x->packs[number]);

	while (x->pack_slots[i])
		i = (i + 1) & (x->pack_slots_cap - 1);
	x->pack_slots[i] = number + 1;
}

/* A pack listed by several index files (overlap after an interrupted prune, adopted
 * orphans) keeps one number, so the tables do not grow with every listing. */
int idx_pack_number(struct idx *x, const uint8_t pack[ID_BYTES], uint32_t *ret)
{
	if (x->pack_slots_cap) {
		for (size_t i = pack_home(x, pack); x->pack_slots[i];
		     i = (i + 1) & (x->pack_slots_cap - 1))
			if (memcmp(x->packs[x->pack_slots[i] - 1], pack, ID_BYTES) == 0) {
				*ret = x->pack_slots[i] - 1;
				return 0;
			}
	}
	if (x->n_packs >= IDX_PENDING - 1)
		return -EFBIG;
	if (x->n_packs == x->cap_packs) {
		size_t cap = x->cap_packs ? x->cap_packs * 2 : 256;
		void *p = reallocarray(x->packs, cap, ID_BYTES);

		if (!p)
			return -ENOMEM;
		x->packs = p;
		x->cap_packs = cap;
	}
	if ((x->n_packs + 1) * 2 > x->pack_slots_cap) {
		size_t cap = x->pack_slots_cap ? 2 * x->pack_slots_cap : 512;
		uint32_t *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		free(x->pack_slots);
		x->pack_slots = slots;
		x->pack_slots_cap = cap;
		for (size_t i = 0; i < x->n_packs; i++)
			pack_slot_put(x, (uint32_t)i);
	}
	memcpy(x->packs[x->n_packs], pack, ID_BYTES);
	pack_slot_put(x, (uint32_t)x->n_packs);
	*ret = (uint32_t)x->n_packs++;
	return 0;
}

void idx_release(struct idx *x)
{
	free(x->slots);
	free(x->packs);
	free(x->pack_slots);
	free(x->files);
	memset(x, 0, sizeof(*x));
}
