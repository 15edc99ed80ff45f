/* The in-memory blob index (repo/idx.c): (type, id) keys across shards and growth, removal
 * by backward shift (also in clusters that wrap around a shard's end), the packed record
 * (every field exact at each width's boundary, a value too wide for its shard's records),
 * and its memory: at most 40 bytes per blob at a million small-file blobs, and no single
 * growth copies more than a sliver of the index. */
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

/* idx_find's copy, as a pointer (NULL for a miss) the checks below can compare; a few
 * rotating slots, so two in one expression do not clobber each other. */
static const struct idx_entry *find(struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	static struct idx_entry slot[4];
	static unsigned k;
	struct idx_entry *e = &slot[k++ % 4];

	return idx_find(x, type, id, e) ? e : NULL;
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

	ok(!find(&x, 0, id), "empty index: no entry");
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
	ok(same(find(&x, BLOB_DATA, id), &d), "the data entry is found as data");
	ok(same(find(&x, BLOB_TREE, id), &t), "the tree entry is found as tree");
	fill(&d2, id, 11, BLOB_DATA);
	ok(idx_put(&x, &d2) == 0 && x.n == 2, "a put of a known (type, id) overwrites");
	ok(same(find(&x, BLOB_DATA, id), &d2), "with the new fields");
	ok(same(find(&x, BLOB_TREE, id), &t), "the other type untouched");
	idx_remove(&x, BLOB_DATA, id);
	ok(!find(&x, BLOB_DATA, id) && same(find(&x, BLOB_TREE, id), &t),
	   "removing the data entry keeps the tree entry");
	idx_remove(&x, BLOB_DATA, id);
	is_int(x.n, 1, "removing it again changes nothing");
	idx_remove(&x, BLOB_TREE, id);
	ok(!find(&x, BLOB_TREE, id) && x.n == 0, "both gone");
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
		const struct idx_entry *f = find(&x, k % 3 == 0 ? BLOB_TREE : BLOB_DATA, ids[k]);

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
		all = all && same(find(&x, t, ids[k]), &e) && !find(&x, !t, ids[k]);
		memcpy(miss, ids[k], ID_BYTES);
		miss[31] ^= 1;
		all = all && !find(&x, BLOB_DATA, miss) && !find(&x, BLOB_TREE, miss);
	}
	ok(all, "every one found as its type, near misses missed");
	for (uint32_t k = 0; k < K; k += 3)
		idx_remove(&x, k % 7 == 0 ? BLOB_TREE : BLOB_DATA, ids[k]);
	all = true;
	for (uint32_t k = 0; k < K; k++) {
		unsigned t = k % 7 == 0 ? BLOB_TREE : BLOB_DATA;

		fill(&e, ids[k], k, t);
		all = all && (k % 3 == 0 ? !find(&x, t, ids[k]) : same(find(&x, t, ids[k]), &e));
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

/* A record round trip at f, with a canary after the record's last byte. */
static bool round_trip(const struct idx_fmt *f, const struct idx_entry *e)
{
	uint8_t rec[IDX_REC_MAX + 1];
	struct idx_entry back;

	memset(rec, 0xa5, sizeof(rec));
	idx_rec_put(f, e, rec);
	idx_rec_get(f, rec, e->id[0], &back);
	return f->stride <= IDX_REC_MAX && rec[f->stride] == 0xa5 && same(&back, e);
}

/* Field number field (pack, offset, stored length, raw length) of e set to v, and its width
 * in f to w: the format a shard whose widest value of that field needs w bits has. */
static void set_field(struct idx_entry *e, struct idx_fmt *f, unsigned field, uint32_t v,
                      uint8_t w)
{
	switch (field) {
	case 0: e->pack = v - 1u; f->w_pack = w; break; /* stored as pack + 1 */
	case 1: e->offset = v; f->w_offset = w; break;
	case 2: e->stored_len = v; f->w_stored = w; break;
	default: e->raw_len = v; f->w_raw = w; break;
	}
}

/* Every field at each width's boundary: 0, the largest value w bits hold (fits), one more
 * (does not fit until widened, then round-trips), with the type and compressed bits in
 * every combination and the other fields at their extremes. */
static void test_record_bounds(void)
{
	struct idx_entry e;
	uint8_t id[ID_BYTES];
	bool all = true, refused = true;

	rand_id(id);
	for (unsigned field = 0; field < 4; field++) {
		unsigned top = field == 3 ? 30 : 32;

		for (unsigned w = 0; w <= top; w++) {
			uint64_t max = (1ull << w) - 1;

			for (int d = 0; d < 2; d++) {
				uint64_t v = max + (uint64_t)d;
				struct idx_fmt f = { 0 };

				if (v >> top)
					continue;
				fill(&e, id, 0, (w + (unsigned)d) & 1);
				e.compressed = (w >> 1) & 1;
				e.pack = IDX_PENDING; /* pack + 1 = 0: no bits */
				e.offset = e.stored_len = 0;
				e.raw_len = 0;
				set_field(&e, &f, field, (uint32_t)v, (uint8_t)w);
				f.stride = (uint8_t)(ID_BYTES - 1 + (2 + w + 7) / 8);
				if (d == 0) {
					all = all && idx_fmt_fits(&f, &e) && round_trip(&f, &e);
				} else {
					refused = refused && !idx_fmt_fits(&f, &e);
					idx_fmt_widen(&f, &e);
					all = all && idx_fmt_fits(&f, &e) && round_trip(&f, &e);
				}
			}
		}
	}
	ok(all, "every field round-trips at 0, at the largest value of each width and one more");
	ok(refused, "a value one past a width's largest does not fit it");

	/* Everything at once at its widest: 128 bits of fields, a 47-byte record. */
	all = true;
	for (unsigned tc = 0; tc < 4; tc++) {
		struct idx_fmt f = { 0 };

		fill(&e, id, 0, tc & 1);
		e.compressed = tc >> 1;
		e.pack = IDX_PENDING - 1;
		e.offset = e.stored_len = UINT32_MAX;
		e.raw_len = 0x3fffffffu;
		idx_fmt_widen(&f, &e);
		all = all && f.stride == IDX_REC_MAX && round_trip(&f, &e);
		e.pack = IDX_PENDING; /* pack + 1 = 0: no bits of its own */
		all = all && round_trip(&f, &e);
		memset(&f, 0, sizeof(f));
		idx_fmt_widen(&f, &e);
		all = all && f.w_pack == 0 && round_trip(&f, &e);
	}
	ok(all, "all fields at their maximum, each type/compressed pair, IDX_PENDING: exact");
}

/* A shard whose records are narrow takes an overwrite too wide for them (a repack's new
 * pack numbers, a huge pack, a forged index entry): the shard's records are widened at
 * once, the entry is exact, and no other entry changes. */
static void test_widen(void)
{
	enum { K = 600 };
	static uint8_t ids[K][ID_BYTES];
	struct idx x = { 0 };
	struct idx_entry e, big;
	struct idx_shard *s;
	uint8_t narrow;
	bool all = true;

	for (uint32_t k = 0; k < K; k++) {
		rand_id(ids[k]);
		ids[k][0] = 0x13;
		ids[k][1] = 0x70 | (ids[k][1] & 0x0f);
		fill(&e, ids[k], k, BLOB_DATA);
		e.stored_len = 60 + k % 5;
		all = all && idx_put(&x, &e) == 0;
	}
	idx_settle(&x);
	s = &x.shards[0x137];
	narrow = s->fmt.stride;
	ok(all && s->n_base == K && !s->cap && narrow < 40,
	   "%d small entries in one shard, records of %u bytes", K, narrow);
	fill(&big, ids[7], 7, BLOB_DATA);
	big.offset = UINT32_MAX;
	big.stored_len = UINT32_MAX - 1;
	big.pack = IDX_PENDING - 1;
	all = idx_put(&x, &big) == 0;
	ok(all && same(find(&x, BLOB_DATA, ids[7]), &big) && x.n == K && s->n_base == K &&
	       !s->cap && s->fmt.stride > narrow,
	   "an overwrite too wide for the records widens them in place (%u -> %u bytes)", narrow,
	   s->fmt.stride);
	fill(&e, ids[8], 8, BLOB_DATA);
	e.stored_len = 1;
	ok(idx_put(&x, &e) == 0 && same(find(&x, BLOB_DATA, ids[8]), &e) && s->n_base == K &&
	       !s->cap,
	   "a narrower overwrite is written in place");
	all = same(find(&x, BLOB_DATA, ids[7]), &big) && same(find(&x, BLOB_DATA, ids[8]), &e);
	for (uint32_t k = 9; k < K; k++) {
		fill(&e, ids[k], k, BLOB_DATA);
		e.stored_len = 60 + k % 5;
		all = all && same(find(&x, BLOB_DATA, ids[k]), &e) && !find(&x, BLOB_TREE, ids[k]);
	}
	ok(all, "every entry exact after widening");
	/* A new entry too wide goes to the table; the merge widens the records. */
	for (uint32_t k = 0; k < K / 4; k++) {
		uint8_t id[ID_BYTES];

		rand_id(id);
		id[0] = 0x13;
		id[1] = 0x70 | (id[1] & 0x0f);
		fill(&e, id, k, BLOB_TREE);
		e.raw_len = 0x3fffffffu;
		all = all && idx_put(&x, &e) == 0 && same(find(&x, BLOB_TREE, id), &e);
	}
	idx_settle(&x);
	ok(all && s->n_base == K + K / 4 && s->fmt.stride == IDX_REC_MAX &&
	       same(find(&x, BLOB_DATA, ids[7]), &big),
	   "new wide entries are merged at the widest records, the others kept exact");
	idx_release(&x);
}

/* A record's rounding bits serve as headroom (a repack's new pack numbers fit in place);
 * an entry written into them must survive the next layout, drawn when another field
 * grows. */
static void test_spare_bits(void)
{
	enum { K = 300 };
	static uint8_t ids[K][ID_BYTES];
	struct idx x = { 0 };
	struct idx_entry e, e5, e6;
	struct idx_shard *s;
	bool all = true;

	for (uint32_t k = 0; k < K; k++) {
		rand_id(ids[k]);
		ids[k][0] = 0x24;
		ids[k][1] = 0x50 | (ids[k][1] & 0x0f);
		memset(&e, 0, sizeof(e));
		memcpy(e.id, ids[k], ID_BYTES);
		e.pack = 3;
		e.offset = k * 3000;
		e.stored_len = 60;
		e.raw_len = 20;
		all = all && idx_put(&x, &e) == 0;
	}
	idx_settle(&x);
	s = &x.shards[0x245];
	ok(all && s->n_base == K && s->fmt.need_pack == 3 && s->fmt.w_pack > 3,
	   "36 bits of fields in 5 bytes: the pack number has %u bits for values of 3",
	   s->fmt.w_pack);
	e5 = e;
	memcpy(e5.id, ids[5], ID_BYTES);
	e5.offset = 5 * 3000;
	e5.pack = (1u << s->fmt.w_pack) - 2; /* pack + 1 fills the layout's width */
	ok(idx_put(&x, &e5) == 0 && same(find(&x, BLOB_DATA, ids[5]), &e5) && s->n_base == K,
	   "a pack number in the spare bits is written in place");
	e6 = e;
	memcpy(e6.id, ids[6], ID_BYTES);
	e6.offset = 1u << 21; /* 38 bits of needs without the spare pack bits: 2 spare */
	ok(idx_put(&x, &e6) == 0 && same(find(&x, BLOB_DATA, ids[6]), &e6),
	   "a wider offset redraws the layout");
	all = same(find(&x, BLOB_DATA, ids[5]), &e5);
	for (uint32_t k = 7; k < K; k++) {
		memcpy(e.id, ids[k], ID_BYTES);
		e.offset = k * 3000;
		all = all && same(find(&x, BLOB_DATA, ids[k]), &e);
	}
	ok(all, "the entry in the old spare bits is exact under the new layout, as is every other");
	idx_release(&x);
}

/* Issue 15's case: a million small files in a few dozen packs of 65 536 blobs. The index
 * held 48 bytes an entry before records were packed. */
static void test_small_million(void)
{
	struct idx x = { 0 };
	struct idx_entry e;
	uint64_t seed;
	size_t bytes;
	bool all = true;

	seed = rng_state;
	for (uint32_t k = 0; k < N_BIG; k++) {
		uint8_t id[ID_BYTES];

		rand_id(id);
		memset(&e, 0, sizeof(e));
		memcpy(e.id, id, ID_BYTES);
		e.type = k % 50 == 0 ? BLOB_TREE : BLOB_DATA;
		e.pack = k / 65536;
		e.offset = (k % 65536) * 56;
		e.raw_len = 12 + k % 5;
		e.stored_len = e.raw_len + 40;
		e.compressed = k % 50 == 0;
		all = all && idx_put(&x, &e) == 0;
		if (k % 65536 == 65535)
			idx_settle(&x); /* as a load does after each index file */
	}
	idx_settle(&x);
	bytes = idx_table_bytes(&x);
	ok(all && x.n == N_BIG && bytes <= 40ull * N_BIG,
	   "a million small-file entries cost at most 40 bytes each (%.2f)", (double)bytes / N_BIG);
	rng_state = seed;
	for (uint32_t k = 0; k < N_BIG; k++) {
		uint8_t id[ID_BYTES];
		struct idx_entry f;

		rand_id(id);
		all = all && idx_find(&x, k % 50 == 0 ? BLOB_TREE : BLOB_DATA, id, &f) &&
		      f.pack == k / 65536 && f.offset == (k % 65536) * 56 &&
		      f.raw_len == 12 + k % 5 && f.stored_len == f.raw_len + 40u &&
		      f.compressed == (k % 50 == 0);
	}
	ok(all, "and every one is found with its fields");
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
		all = all && same(find(&x, t, ids[k]), &e) && !find(&x, !t, ids[k]);
	}
	ok(all, "every one found with its fields, none as the other type");
	all = true;
	for (int k = 0; k < 10000; k++) {
		uint8_t id[ID_BYTES];

		rand_id(id);
		all = all && !find(&x, BLOB_DATA, id) && !find(&x, BLOB_TREE, id);
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
	bytes = IDX_SHARDS * sizeof(struct idx_shard);
	all = true;
	for (size_t k = 0; k < IDX_SHARDS; k++) {
		bytes += (size_t)x.shards[k].n_base * x.shards[k].fmt.stride;
		all = all && !x.shards[k].cap && x.shards[k].fmt.stride <= IDX_REC_MAX;
	}
	ok(all && idx_table_bytes(&x) == bytes,
	   "settled: exact packed arrays, no table slack (%.1f bytes an entry with 32-bit "
	   "lengths)",
	   (double)bytes / N_BIG);
	all = true;
	for (uint32_t k = 0; k < N_BIG; k++) {
		unsigned t = k % 5 == 0 ? BLOB_TREE : BLOB_DATA;

		fill(&e, ids[k], k, t);
		if (k % 100 == 0)
			e.pack = IDX_PENDING;
		all = all && same(find(&x, t, ids[k]), &e);
	}
	ok(all && x.n == N_BIG, "every entry found after settling");

	/* Remove half, in put order, then re-find every remaining entry. */
	for (uint32_t k = 0; k < N_BIG; k += 2)
		idx_remove(&x, k % 5 == 0 ? BLOB_TREE : BLOB_DATA, ids[k]);
	is_int(x.n, N_BIG / 2, "half removed");
	all = true;
	for (uint32_t k = 0; k < N_BIG; k++) {
		unsigned t = k % 5 == 0 ? BLOB_TREE : BLOB_DATA;
		const struct idx_entry *f = find(&x, t, ids[k]);

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
		all = all && same(find(&x, t, ids[k]), &e);
	}
	ok(all && x.n == N_BIG, "re-put after removal: all found again");
	idx_release(&x);
	ok(x.n == 0 && !x.shards && !find(&x, BLOB_DATA, ids[1]), "released");
	free(ids);
}

int main(void)
{
	test_empty_and_zero();
	test_both_types();
	test_cluster_wrap();
	test_skewed();
	test_overflow();
	test_record_bounds();
	test_widen();
	test_spare_bits();
	test_small_million();
	test_million();
	return tap_done();
}
