/* The in-memory blob index (repo/idx.c): (type, id) keys across shards and growth, removal
 * by backward shift (also in clusters that wrap around a shard's end), and its memory:
 * the tables stay under 80 bytes per blob at a million blobs and no single growth copies
 * more than a sliver of the index. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo-internal.h"
#include "tests/tap.h"

#define N_BIG 1000000u

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rand_id(uint8_t id[ID_BYTES])
{
	for (size_t i = 0; i < ID_BYTES; i += 8) {
		uint64_t v = rng_next();

		memcpy(id + i, &v, 8);
	}
}

/* The payload of entry k, so a found entry can be checked field by field. */
static void fill(struct idx_entry *e, const uint8_t id[ID_BYTES], uint32_t k, unsigned type)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->id, id, ID_BYTES);
	e->type = type;
	e->pack = k % 1000;
	e->offset = k;
	e->stored_len = k ^ 0x5a5a5a5au;
	e->raw_len = k & 0x3fffffffu;
	e->compressed = k & 1;
}

static bool same(const struct idx_entry *a, const struct idx_entry *b)
{
	return a && !memcmp(a->id, b->id, ID_BYTES) && a->type == b->type && a->pack == b->pack &&
	       a->offset == b->offset && a->stored_len == b->stored_len &&
	       a->raw_len == b->raw_len && a->compressed == b->compressed;
}

struct count {
	size_t n, pending;
};

static int count_one(void *ud, const struct idx_entry *e)
{
	struct count *c = ud;

	c->n++;
	c->pending += e->pack == IDX_PENDING;
	return 0;
}

static int stop_at_3(void *ud, const struct idx_entry *e)
{
	size_t *n = ud;

	(void)e;
	return ++*n == 3 ? -ECANCELED : 0;
}

static void test_empty_and_zero(void)
{
	struct idx x = { 0 };
	struct idx_entry e;
	uint8_t id[ID_BYTES] = { 0 };
	struct count c = { 0 };

	ok(!idx_find(&x, 0, id), "empty index: no entry");
	idx_remove(&x, 0, id);
	ok(idx_foreach(&x, count_one, &c) == 0 && c.n == 0, "empty index: foreach visits nothing");
	fill(&e, id, 1, 0);
	is_int(idx_put(&x, &e), -EINVAL, "the all-zero id (the empty-slot mark) is refused");
	is_int(x.n, 0, "and not counted");
	idx_release(&x);
}

static void test_both_types(void)
{
	struct idx x = { 0 };
	struct idx_entry d, t, d2;
	uint8_t id[ID_BYTES];

	rand_id(id);
	fill(&d, id, 7, BLOB_DATA);
	fill(&t, id, 9, BLOB_TREE);
	ok(idx_put(&x, &d) == 0 && idx_put(&x, &t) == 0, "same id as data and as tree");
	is_int(x.n, 2, "two entries");
	ok(same(idx_find(&x, BLOB_DATA, id), &d), "the data entry is found as data");
	ok(same(idx_find(&x, BLOB_TREE, id), &t), "the tree entry is found as tree");
	fill(&d2, id, 11, BLOB_DATA);
	ok(idx_put(&x, &d2) == 0 && x.n == 2, "a put of a known (type, id) overwrites");
	ok(same(idx_find(&x, BLOB_DATA, id), &d2), "with the new fields");
	ok(same(idx_find(&x, BLOB_TREE, id), &t), "the other type untouched");
	idx_remove(&x, BLOB_DATA, id);
	ok(!idx_find(&x, BLOB_DATA, id) && same(idx_find(&x, BLOB_TREE, id), &t),
	   "removing the data entry keeps the tree entry");
	idx_remove(&x, BLOB_DATA, id);
	is_int(x.n, 1, "removing it again changes nothing");
	idx_remove(&x, BLOB_TREE, id);
	ok(!idx_find(&x, BLOB_TREE, id) && x.n == 0, "both gone");
	idx_release(&x);
}

/* Ids in one shard with one home slot form one cluster; with the home at the table's last
 * slot the cluster wraps to slot 0, the case backward shift must get right. */
static void test_cluster_wrap(void)
{
	enum { K = 40 };
	struct idx x = { 0 };
	uint8_t ids[K][ID_BYTES];
	struct idx_entry e;
	bool all = true;

	for (uint32_t k = 0; k < K; k++) {
		rand_id(ids[k]);
		ids[k][0] = 0xab;
		ids[k][1] = 0xc0 | (ids[k][1] & 0x0f);
		memset(ids[k] + 2, 0xff, 4); /* home = cap - 1 at every size */
		fill(&e, ids[k], k, k % 3 == 0 ? BLOB_TREE : BLOB_DATA);
		all = all && idx_put(&x, &e) == 0;
	}
	ok(all && x.n == K, "%d ids sharing a shard and a home slot", K);
	/* Remove every third from the front, then check every survivor and every removed. */
	for (uint32_t k = 0; k < K; k += 3)
		idx_remove(&x, BLOB_TREE, ids[k]);
	all = true;
	for (uint32_t k = 0; k < K; k++) {
		const struct idx_entry *f =
		    idx_find(&x, k % 3 == 0 ? BLOB_TREE : BLOB_DATA, ids[k]);

		fill(&e, ids[k], k, k % 3 == 0 ? BLOB_TREE : BLOB_DATA);
		all = all && (k % 3 == 0 ? !f : same(f, &e));
	}
	ok(all, "after removals in a wrapped cluster every survivor is found, no removed one");
	idx_release(&x);
}

/* Ids whose bytes after the shard's are equal (or at the key space's ends) defeat the
 * interpolation guess; the bisection after it must still find each, and miss the rest. */
static void test_skewed(void)
{
	enum { K = 5000 };
	static uint8_t ids[K][ID_BYTES];
	struct idx x = { 0 };
	struct idx_entry e;
	bool all = true;

	for (uint32_t k = 0; k < K; k++) {
		rand_id(ids[k]);
		ids[k][0] = 0x42;
		ids[k][1] = 0x70;
		if (k % 4 == 0)
			memset(ids[k] + 2, 0, 7); /* the lowest keys */
		else if (k % 4 == 1)
			memset(ids[k] + 2, 0xff, 7); /* the highest */
		else
			memset(ids[k] + 2, 0x5a, 7); /* one key shared by half */
		fill(&e, ids[k], k, k % 7 == 0 ? BLOB_TREE : BLOB_DATA);
		all = all && idx_put(&x, &e) == 0;
	}
	ok(all && x.n == K, "%d ids in one shard with 3 distinct order keys", K);
	ok(x.shards[0x427].n_base > K / 2, "most are in the shard's sorted array (%u)",
	   x.shards[0x427].n_base);
	all = true;
	for (uint32_t k = 0; k < K; k++) {
		unsigned t = k % 7 == 0 ? BLOB_TREE : BLOB_DATA;
		uint8_t miss[ID_BYTES];

		fill(&e, ids[k], k, t);
		all = all && same(idx_find(&x, t, ids[k]), &e) && !idx_find(&x, !t, ids[k]);
		memcpy(miss, ids[k], ID_BYTES);
		miss[31] ^= 1;
		all = all && !idx_find(&x, BLOB_DATA, miss) && !idx_find(&x, BLOB_TREE, miss);
	}
	ok(all, "every one found as its type, near misses missed");
	for (uint32_t k = 0; k < K; k += 3)
		idx_remove(&x, k % 7 == 0 ? BLOB_TREE : BLOB_DATA, ids[k]);
	all = true;
	for (uint32_t k = 0; k < K; k++) {
		unsigned t = k % 7 == 0 ? BLOB_TREE : BLOB_DATA;

		fill(&e, ids[k], k, t);
		all = all &&
		      (k % 3 == 0 ? !idx_find(&x, t, ids[k]) : same(idx_find(&x, t, ids[k]), &e));
	}
	ok(all && x.n == K - (K + 2) / 3, "removal from the sorted array keeps the rest findable");
	idx_release(&x);
}

static void test_overflow(void)
{
	struct idx x = { 0 };
	struct idx_entry e, *slots = calloc(1, sizeof(*slots));
	struct idx_shard *s;
	uint8_t id[ID_BYTES];
	uint32_t pn = 0;

	/* A shard whose 1.5x growth would pass 2^32 slots: refused, the table kept. */
	rand_id(id);
	memset(id + 2, 0, 4); /* home slot 0, inside the one real slot */
	fill(&e, id, 1, BLOB_DATA);
	ok(idx_put(&x, &e) == 0, "a first entry allocates the shards");
	idx_remove(&x, BLOB_DATA, id);
	s = &x.shards[(id[0] << 4 | id[1] >> 4) & (IDX_SHARDS - 1)];
	free(s->slots);
	s->slots = slots;
	s->cap = UINT32_MAX - 15;
	s->n = (uint32_t)((uint64_t)s->cap * 7 / 8);
	is_int(idx_put(&x, &e), -EOVERFLOW, "a shard growth past 2^32 slots is refused");
	ok(s->slots == slots && s->cap == UINT32_MAX - 15, "and leaves the shard as it was");
	s->slots = NULL;
	s->cap = s->n = 0;
	free(slots);
	idx_release(&x);

	x.n_packs = IDX_PENDING - 1;
	is_int(idx_pack_number(&x, id, &pn), -EFBIG, "pack numbers stop before IDX_PENDING");
	x.n_packs = 0;
	idx_release(&x);
}

static void test_million(void)
{
	struct idx x = { 0 };
	uint8_t(*ids)[ID_BYTES] = calloc(N_BIG, ID_BYTES);
	struct idx_entry e;
	struct count c = { 0 };
	size_t bytes, largest = 0, n_stop = 0;
	uint32_t pn = 0, pn2 = 1;
	bool all = true;
	int rc;

	if (!ids)
		exit(1);
	ok(idx_pack_number(&x, (const uint8_t *)"pack-id-0123456789abcdef0123456", &pn) == 0 &&
	       idx_pack_number(&x, (const uint8_t *)"pack-id-0123456789abcdef0123456", &pn2) == 0 &&
	       pn == pn2,
	   "a pack keeps its number");
	for (uint32_t k = 0; k < N_BIG; k++) {
		rand_id(ids[k]);
		fill(&e, ids[k], k, k % 5 == 0 ? BLOB_TREE : BLOB_DATA);
		if (k % 100 == 0)
			e.pack = IDX_PENDING;
		all = all && idx_put(&x, &e) == 0;
	}
	ok(all && x.n == N_BIG, "a million random entries put");
	all = true;
	for (uint32_t k = 0; k < N_BIG; k++) {
		unsigned t = k % 5 == 0 ? BLOB_TREE : BLOB_DATA;

		fill(&e, ids[k], k, t);
		if (k % 100 == 0)
			e.pack = IDX_PENDING;
		all = all && same(idx_find(&x, t, ids[k]), &e) && !idx_find(&x, !t, ids[k]);
	}
	ok(all, "every one found with its fields, none as the other type");
	all = true;
	for (int k = 0; k < 10000; k++) {
		uint8_t id[ID_BYTES];

		rand_id(id);
		all = all && !idx_find(&x, BLOB_DATA, id) && !idx_find(&x, BLOB_TREE, id);
	}
	ok(all, "10 000 unknown ids are misses");
	rc = idx_foreach(&x, count_one, &c);
	ok(rc == 0 && c.n == N_BIG && c.pending == N_BIG / 100, "foreach visits every entry once");
	is_int(idx_foreach(&x, stop_at_3, &n_stop), -ECANCELED, "foreach stops at fn's error");

	bytes = idx_table_bytes(&x);
	tap_diag("tables: %zu bytes, %.1f per entry", bytes, (double)bytes / N_BIG);
	ok(bytes <= 56ull * N_BIG,
	   "the index costs at most 56 bytes per 48-byte entry (one doubled "
	   "table cost 100)");
	for (size_t k = 0; k < IDX_SHARDS; k++)
		if (x.shards[k].n_base + (size_t)x.shards[k].cap > largest)
			largest = x.shards[k].n_base + (size_t)x.shards[k].cap;
	ok(largest * sizeof(struct idx_entry) * 1000 <= bytes,
	   "the largest shard (%zu slots) holds under 1/1000 of the index, so a growth copies "
	   "no more",
	   largest);

	/* Every table merged into its array: exact arrays, nothing lost. */
	idx_settle(&x);
	is_int((long long)idx_table_bytes(&x),
	       (long long)(IDX_SHARDS * sizeof(struct idx_shard) + N_BIG * sizeof(e)),
	       "settled: 48 bytes an entry, no table slack");
	all = true;
	for (uint32_t k = 0; k < N_BIG; k++) {
		unsigned t = k % 5 == 0 ? BLOB_TREE : BLOB_DATA;

		fill(&e, ids[k], k, t);
		if (k % 100 == 0)
			e.pack = IDX_PENDING;
		all = all && same(idx_find(&x, t, ids[k]), &e);
	}
	ok(all && x.n == N_BIG, "every entry found after settling");

	/* Remove half, in put order, then re-find every remaining entry. */
	for (uint32_t k = 0; k < N_BIG; k += 2)
		idx_remove(&x, k % 5 == 0 ? BLOB_TREE : BLOB_DATA, ids[k]);
	is_int(x.n, N_BIG / 2, "half removed");
	all = true;
	for (uint32_t k = 0; k < N_BIG; k++) {
		unsigned t = k % 5 == 0 ? BLOB_TREE : BLOB_DATA;
		const struct idx_entry *f = idx_find(&x, t, ids[k]);

		fill(&e, ids[k], k, t);
		if (k % 100 == 0)
			e.pack = IDX_PENDING;
		all = all && (k % 2 == 0 ? !f : same(f, &e));
	}
	ok(all, "every remaining entry found, every removed one gone");
	c.n = c.pending = 0;
	ok(idx_foreach(&x, count_one, &c) == 0 && c.n == N_BIG / 2, "foreach agrees");
	/* Put the removed ones back as the other type: the chains take them again. */
	all = true;
	for (uint32_t k = 0; k < N_BIG; k += 2) {
		fill(&e, ids[k], k, k % 5 == 0 ? BLOB_DATA : BLOB_TREE);
		all = all && idx_put(&x, &e) == 0;
	}
	for (uint32_t k = 0; k < N_BIG; k++) {
		unsigned t = (k % 5 == 0) ^ (k % 2 == 0) ? BLOB_TREE : BLOB_DATA;

		fill(&e, ids[k], k, t);
		if (k % 100 == 0 && k % 2)
			e.pack = IDX_PENDING;
		all = all && same(idx_find(&x, t, ids[k]), &e);
	}
	ok(all && x.n == N_BIG, "re-put after removal: all found again");
	idx_release(&x);
	ok(x.n == 0 && !x.shards && !idx_find(&x, BLOB_DATA, ids[1]), "released");
	free(ids);
}

int main(void)
{
	test_empty_and_zero();
	test_both_types();
	test_cluster_wrap();
	test_skewed();
	test_overflow();
	test_million();
	return tap_done();
}
