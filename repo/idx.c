/* Owns the in-memory blob table and the pack-number table. Blob ids are keyed hashes
 * (uniformly random), so their bytes serve as the hash: the first 12 bits pick one of
 * IDX_SHARDS shards, the next 64 the home slot in that shard's open-addressing table.
 * A shard grows by 1.5x at 7/8 load, so a growth copies about 1/4096 of the index and
 * the old and new tables of one shard are all that is ever resident twice: peak memory
 * stays near the tables' sum (about 66 bytes per blob at an average load of 0.73) instead
 * of the 3x that doubling one big table costs while both copies live
 * (bench/README.md, "Memory"). */
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

#define SHARD_MIN_CAP 8u

static bool slot_empty(const struct idx_entry *s)
{
	static const uint8_t zero[ID_BYTES];

	return memcmp(s->id, zero, ID_BYTES) == 0;
}

static struct idx_shard *shard_of(const struct idx *x, const uint8_t id[ID_BYTES])
{
	return &x->shards[((unsigned)id[0] << 4 | id[1] >> 4) & (IDX_SHARDS - 1)];
}

/* The bits after the shard's, reduced to [0, cap) by a multiply (cap is no power of 2). */
static uint32_t slot_home(const struct idx_shard *s, const uint8_t id[ID_BYTES])
{
	uint32_t h;

	memcpy(&h, id + 2, sizeof(h));
	return (uint32_t)(((uint64_t)h * s->cap) >> 32);
}

static uint32_t slot_next(const struct idx_shard *s, uint32_t i)
{
	return i + 1 == s->cap ? 0 : i + 1;
}

/* Keyed by (type, id): the same bytes stored as a file chunk and as a tree segment have
 * the same id, and each must be findable (and stored) as what it is. Both live in the
 * same probe chain (the home slot depends on the id only). */
struct idx_entry *idx_find(struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	struct idx_shard *s;

	if (!x->shards)
		return NULL;
	s = shard_of(x, id);
	if (!s->cap)
		return NULL;
	for (uint32_t i = slot_home(s, id);; i = slot_next(s, i)) {
		struct idx_entry *e = &s->slots[i];

		if (slot_empty(e))
			return NULL;
		if (e->type == type && memcmp(e->id, id, ID_BYTES) == 0)
			return e;
	}
}

static void shard_place(struct idx_shard *s, const struct idx_entry *e)
{
	uint32_t i = slot_home(s, e->id);

	while (!slot_empty(&s->slots[i]))
		i = slot_next(s, i);
	s->slots[i] = *e;
}

static int shard_grow(struct idx_shard *s)
{
	struct idx_entry *old = s->slots;
	uint32_t old_cap = s->cap, cap;

	if (!old_cap) {
		cap = SHARD_MIN_CAP;
	} else if (ckd_add(&cap, old_cap, old_cap / 2)) {
		return -EOVERFLOW;
	}
	/* calloc checks cap * sizeof itself; cap fits 32 bits, so slot numbers do too. */
	s->slots = calloc(cap, sizeof(*old));
	if (!s->slots) {
		s->slots = old;
		return -ENOMEM;
	}
	s->cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (!slot_empty(&old[i]))
			shard_place(s, &old[i]);
	free(old);
	return 0;
}

int idx_put(struct idx *x, const struct idx_entry *e)
{
	struct idx_entry *found;
	struct idx_shard *s;
	uint64_t need;
	int r;

	/* The all-zero id marks an empty slot; no keyed hash produces it in practice, and
	 * storing it would corrupt the probe chains. */
	if (slot_empty(e))
		return -EINVAL;
	found = idx_find(x, e->type, e->id);
	if (found) {
		*found = *e;
		return 0;
	}
	if (!x->shards) {
		x->shards = calloc(IDX_SHARDS, sizeof(*x->shards));
		if (!x->shards)
			return -ENOMEM;
	}
	s = shard_of(x, e->id);
	/* At most 7/8 full: linear probing over random keys keeps chains short there, and
	 * a lookup miss always meets an empty slot. */
	need = (uint64_t)s->n + 1;
	if (need * 8 > (uint64_t)s->cap * 7) {
		r = shard_grow(s);
		if (r < 0)
			return r;
	}
	shard_place(s, e);
	s->n++;
	x->n++;
	return 0;
}

void idx_remove(struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	struct idx_entry *found = idx_find(x, type, id);
	struct idx_shard *s;
	uint32_t i, j;

	if (!found)
		return;
	s = shard_of(x, id);
	i = (uint32_t)(found - s->slots);
	memset(&s->slots[i], 0, sizeof(*found));
	s->n--;
	x->n--;
	/* Backward-shift deletion keeps every probe chain intact without tombstones: an
	 * entry after the hole moves into it unless its home lies cyclically in (i, j]. */
	for (j = slot_next(s, i); !slot_empty(&s->slots[j]); j = slot_next(s, j)) {
		uint32_t home = slot_home(s, s->slots[j].id);
		uint32_t d_home = j >= home ? j - home : j + s->cap - home;
		uint32_t d_hole = j >= i ? j - i : j + s->cap - i;

		if (d_home >= d_hole) {
			s->slots[i] = s->slots[j];
			memset(&s->slots[j], 0, sizeof(s->slots[j]));
			i = j;
		}
	}
}

int idx_foreach(struct idx *x, idx_fn fn, void *ud)
{
	if (!x->shards)
		return 0;
	for (size_t k = 0; k < IDX_SHARDS; k++) {
		const struct idx_shard *s = &x->shards[k];

		for (uint32_t i = 0; i < s->cap; i++) {
			int rc;

			if (slot_empty(&s->slots[i]))
				continue;
			rc = fn(ud, &s->slots[i]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

size_t idx_table_bytes(const struct idx *x)
{
	size_t n = 0;

	if (!x->shards)
		return 0;
	n = IDX_SHARDS * sizeof(*x->shards);
	for (size_t k = 0; k < IDX_SHARDS; k++)
		n += (size_t)x->shards[k].cap * sizeof(struct idx_entry);
	return n;
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
	if (x->shards)
		for (size_t k = 0; k < IDX_SHARDS; k++)
			free(x->shards[k].slots);
	free(x->shards);
	free(x->packs);
	free(x->pack_slots);
	free(x->files);
	memset(x, 0, sizeof(*x));
}
