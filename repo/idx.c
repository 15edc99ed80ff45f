/* Owns the in-memory blob table and the pack-number table. Blob ids are keyed hashes
 * (uniformly random), so their bytes serve as the hash: the first 12 bits pick one of
 * IDX_SHARDS shards. A shard keeps a sorted array of packed records with no slack, found by
 * interpolation search, and a small open-addressing table of whole entries for recent puts
 * (home slot from the next 32 bits, grown 1.5x at 7/8 load), merged into the array once it
 * holds an eighth as many entries. A record drops the id byte its shard implies and holds
 * each field in the bits the shard's widest value needs (a repository of small files: about
 * 37 bytes, big chunks in many packs: about 43, never more than 47), and every id stays
 * whole: a dedup match on a shortened id would lose data. A growth or a merge copies one
 * shard (under 1/1000 of the index at a million blobs), never the whole index twice as one
 * doubling table did (bench/README.md, "Memory"). */
#include "repo/repo-internal.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

#define SHARD_MIN_CAP 8u

/* A shard's table is merged into its array at this many entries, or an eighth of the
 * array's, whichever is more. */
#define IDX_DELTA_MIN 32u

/* Word-wise: these run once or more per probe, and a memcmp call costs more than the
 * compare. */
static bool id_equal(const uint8_t a[ID_BYTES], const uint8_t b[ID_BYTES])
{
	uint64_t x[4], y[4];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]));
}

static bool slot_empty(const struct idx_entry *s)
{
	uint64_t x[4];

	memcpy(x, s->id, sizeof(x));
	return !(x[0] | x[1] | x[2] | x[3]);
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

static unsigned bits_of(uint32_t v)
{
	return v ? 32u - (unsigned)__builtin_clz(v) : 0u;
}

static void widen(uint8_t *w, uint32_t v)
{
	if (bits_of(v) > *w)
		*w = (uint8_t)bits_of(v);
}

/* The needs only: every entry a shard holds fits its needs, and each layout is drawn from
 * them (never from the layout before, whose spare bits an entry may use). */
static void fmt_need(struct idx_fmt *f, const struct idx_entry *e)
{
	widen(&f->need_pack, e->pack + 1u);
	widen(&f->need_offset, e->offset);
	widen(&f->need_stored, e->stored_len);
	widen(&f->need_raw, (uint32_t)e->raw_len);
}

void idx_fmt_widen(struct idx_fmt *f, const struct idx_entry *e)
{
	unsigned bits, spare, give;

	fmt_need(f, e);
	/* At most 2 + 32 + 32 + 32 + 30 = 128 bits: 16 bytes. */
	bits = 2u + f->need_pack + f->need_offset + f->need_stored + f->need_raw;
	f->stride = (uint8_t)(ID_BYTES - 1 + (bits + 7) / 8);
	/* The bits that round up to the last byte cost nothing: they go to the pack number
	 * first, which grows with every pack written (a prune's repack), then the offset,
	 * so such overwrites fit in place rather than re-encode the shard. */
	spare = 8u * (f->stride - (ID_BYTES - 1u)) - bits;
	give = spare < 32u - f->need_pack ? spare : 32u - f->need_pack;
	f->w_pack = (uint8_t)(f->need_pack + give);
	spare -= give;
	give = spare < 32u - f->need_offset ? spare : 32u - f->need_offset;
	f->w_offset = (uint8_t)(f->need_offset + give);
	f->w_stored = f->need_stored;
	f->w_raw = f->need_raw;
}

/* Whether records written at a are read right at b. */
static bool fmt_same_layout(const struct idx_fmt *a, const struct idx_fmt *b)
{
	return a->w_pack == b->w_pack && a->w_offset == b->w_offset && a->w_stored == b->w_stored &&
	       a->w_raw == b->w_raw && a->stride == b->stride;
}

bool idx_fmt_fits(const struct idx_fmt *f, const struct idx_entry *e)
{
	return bits_of(e->pack + 1u) <= f->w_pack && bits_of(e->offset) <= f->w_offset &&
	       bits_of(e->stored_len) <= f->w_stored && bits_of((uint32_t)e->raw_len) <= f->w_raw;
}

/* Byte by byte, so records need no alignment and the layout is the same on any host. */
void idx_rec_put(const struct idx_fmt *f, const struct idx_entry *e, uint8_t *rec)
{
	unsigned __int128 m = (unsigned)e->type | (unsigned)e->compressed << 1;
	unsigned sh = 2;

	m |= (unsigned __int128)(uint32_t)(e->pack + 1u) << sh;
	sh += f->w_pack;
	m |= (unsigned __int128)e->offset << sh;
	sh += f->w_offset;
	m |= (unsigned __int128)e->stored_len << sh;
	sh += f->w_stored;
	m |= (unsigned __int128)e->raw_len << sh;
	memcpy(rec, e->id + 1, ID_BYTES - 1);
	for (unsigned i = 0; i < f->stride - (ID_BYTES - 1u); i++)
		rec[ID_BYTES - 1 + i] = (uint8_t)(m >> (8 * i));
}

static uint32_t field(unsigned __int128 m, unsigned *sh, unsigned w)
{
	uint32_t v = (uint32_t)((uint64_t)(m >> *sh) & ((1ull << w) - 1));

	*sh += w;
	return v;
}

void idx_rec_get(const struct idx_fmt *f, const uint8_t *rec, uint8_t id0, struct idx_entry *ret)
{
	unsigned __int128 m = 0;
	unsigned sh = 2;

	for (unsigned i = f->stride - (ID_BYTES - 1u); i-- > 0;)
		m = m << 8 | rec[ID_BYTES - 1 + i];
	memset(ret, 0, sizeof(*ret));
	ret->id[0] = id0;
	memcpy(ret->id + 1, rec, ID_BYTES - 1);
	ret->type = (unsigned)m & 1u;
	ret->compressed = (unsigned)(m >> 1) & 1u;
	ret->pack = field(m, &sh, f->w_pack) - 1u;
	ret->offset = field(m, &sh, f->w_offset);
	ret->stored_len = field(m, &sh, f->w_stored);
	ret->raw_len = field(m, &sh, f->w_raw) & 0x3fffffffu;
}

static uint8_t shard_id0(const struct idx *x, const struct idx_shard *s)
{
	return (uint8_t)((size_t)(s - x->shards) >> 4);
}

static const uint8_t *rec_at(const struct idx_shard *s, uint32_t i)
{
	return s->base + (size_t)i * s->fmt.stride;
}

/* memcmp order of 8 id bytes, by one compare of big-endian words: ids are random, so this
 * decides almost every comparison without a call to memcmp (the hottest path of a load). */
static int word_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	if (x == y)
		return 0;
	return be64toh(x) < be64toh(y) ? -1 : 1;
}

/* Sort order of a shard's array: by id, then type; the shard's ids share their first byte,
 * which the records omit. */
static int key_cmp(const uint8_t id[ID_BYTES], unsigned type, const uint8_t *rec)
{
	int c = word_cmp(id + 1, rec);

	if (!c)
		c = memcmp(id + 9, rec + 8, ID_BYTES - 9);
	return c ? c : (int)type - (int)(rec[ID_BYTES - 1] & 1u);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct idx_entry *x = a, *y = b;
	int c = word_cmp(x->id, y->id);

	if (!c)
		c = memcmp(x->id + 8, y->id + 8, ID_BYTES - 8);
	return c ? c : (int)x->type - (int)y->type;
}

/* The 60 bits after the shard's, big-endian: the array's order (memcmp of ids) on them.
 * p is the id from its second byte (a record's first). */
static uint64_t order_key(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v & ((1ull << 60) - 1);
}

/* Interpolation search: ids are uniform, so a guess from the keys bounding the range
 * lands within a few entries, and each round reads one entry (the bounds' keys are those
 * of entries already read, or the key space's ends). A few rounds, then bisection, so no
 * distribution of ids can make it linear. Returns the record's number, or UINT32_MAX. */
static uint32_t base_find(const struct idx_shard *s, unsigned type, const uint8_t id[ID_BYTES])
{
	uint32_t lo = 0, hi = s->n_base;
	uint64_t k = order_key(id + 1), k_lo = 0, k_hi = (1ull << 60) - 1;

	for (int round = 0; round < 6 && hi - lo > 8; round++) {
		/* k_lo <= k <= k_hi, so the guess falls in [lo, hi). */
		uint32_t mid = lo + (uint32_t)((unsigned __int128)(k - k_lo) * (hi - lo) /
		                               ((unsigned __int128)(k_hi - k_lo) + 1));
		int c = key_cmp(id, type, rec_at(s, mid));

		if (!c)
			return mid;
		if (c < 0) {
			hi = mid;
			k_hi = order_key(rec_at(s, mid));
		} else {
			lo = mid + 1;
			k_lo = order_key(rec_at(s, mid));
		}
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(id, type, rec_at(s, mid));

		if (!c)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return UINT32_MAX;
}

static struct idx_entry *delta_find(struct idx_shard *s, unsigned type, const uint8_t id[ID_BYTES])
{
	if (!s->cap)
		return NULL;
	for (uint32_t i = slot_home(s, id);; i = slot_next(s, i)) {
		struct idx_entry *e = &s->slots[i];

		if (slot_empty(e))
			return NULL;
		if (e->type == type && id_equal(e->id, id))
			return e;
	}
}

/* Keyed by (type, id): the same bytes stored as a file chunk and as a tree segment have
 * the same id, and each must be findable (and stored) as what it is. Both live in the
 * same probe chain (the home slot depends on the id only) and side by side in the array. */
bool idx_locate(struct idx *x, unsigned type, const uint8_t id[ID_BYTES], struct idx_entry *ret,
                uint32_t *ret_pos)
{
	struct idx_shard *s;
	struct idx_entry *e;
	uint32_t i;

	if (!x->shards)
		return false;
	s = shard_of(x, id);
	e = delta_find(s, type, id);
	if (e) {
		if (ret)
			*ret = *e;
		if (ret_pos)
			*ret_pos = s->n_base + (uint32_t)(e - s->slots);
		return true;
	}
	i = base_find(s, type, id);
	if (i == UINT32_MAX)
		return false;
	if (ret)
		idx_rec_get(&s->fmt, rec_at(s, i), id[0], ret);
	if (ret_pos)
		*ret_pos = i;
	return true;
}

bool idx_find(struct idx *x, unsigned type, const uint8_t id[ID_BYTES], struct idx_entry *ret)
{
	return idx_locate(x, type, id, ret, NULL);
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

/* Move the table's entries into the sorted array: a new array of the exact count at the
 * widths every entry fits, the table's slots compacted and sorted in place, both merged
 * from the front. Old records are copied whole when the layout stayed, else re-encoded.
 * On -ENOMEM the shard is left as it was. */
static int shard_merge(struct idx *x, struct idx_shard *s)
{
	struct idx_entry *add = s->slots, old;
	struct idx_fmt f = s->fmt;
	uint32_t total, i, j, o, k = 0;
	uint8_t id0 = shard_id0(x, s), *base;
	size_t bytes;
	bool same;

	for (i = 0; i < s->cap; i++)
		if (!slot_empty(&add[i]))
			idx_fmt_widen(&f, &add[i]);
	/* Widths can change within the same stride: only the same layout copies as is. */
	same = fmt_same_layout(&f, &s->fmt);
	if (ckd_add(&total, s->n_base, s->n) || ckd_mul(&bytes, (size_t)total, (size_t)f.stride))
		return -EOVERFLOW;
	base = malloc(bytes ? bytes : 1);
	if (!base)
		return -ENOMEM;
	for (i = 0; i < s->cap; i++)
		if (!slot_empty(&add[i]))
			add[k++] = add[i];
	qsort(add, k, sizeof(*add), entry_cmp);
	for (i = 0, j = 0, o = 0; o < total;) {
		uint8_t *out = base + (size_t)o * f.stride;
		uint32_t run = i;

		/* The old records before the next new entry: one copy when the layout
		 * stayed (the usual case), else each re-encoded. */
		while (run < s->n_base &&
		       (j == k || key_cmp(add[j].id, add[j].type, rec_at(s, run)) > 0))
			run++;
		if (same) {
			memcpy(out, rec_at(s, i), (size_t)(run - i) * f.stride);
		} else {
			for (uint32_t q = i; q < run; q++) {
				idx_rec_get(&s->fmt, rec_at(s, q), id0, &old);
				idx_rec_put(&f, &old, out + (size_t)(q - i) * f.stride);
			}
		}
		o += run - i;
		i = run;
		if (j < k)
			idx_rec_put(&f, &add[j++], base + (size_t)o++ * f.stride);
	}
	free(s->base);
	s->base = base;
	s->n_base = total;
	s->fmt = f;
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
	return 0;
}

/* s's records re-encoded wide enough for e: an overwrite of a blob the array holds with a
 * value past the shard's widths (a repack's new pack numbers, a huge pack) happens a few
 * times per shard at most, as widths only grow, and copies one shard. Moving such entries
 * to the table instead cost 6 MB of tables in a prune's repack of a million blobs. On
 * -ENOMEM the shard is left as it was. */
static int shard_widen(struct idx *x, struct idx_shard *s, const struct idx_entry *e)
{
	struct idx_fmt f = s->fmt;
	struct idx_entry old;
	uint8_t id0 = shard_id0(x, s), *base;
	size_t bytes;

	idx_fmt_widen(&f, e);
	if (ckd_mul(&bytes, (size_t)s->n_base, (size_t)f.stride))
		return -EOVERFLOW;
	base = malloc(bytes ? bytes : 1);
	if (!base)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n_base; i++) {
		idx_rec_get(&s->fmt, rec_at(s, i), id0, &old);
		idx_rec_put(&f, &old, base + (size_t)i * f.stride);
	}
	free(s->base);
	s->base = base;
	s->fmt = f;
	return 0;
}

/* Room in s's table for one more entry. At most 7/8 full: linear probing over random keys
 * keeps chains short there, and a lookup miss always meets an empty slot. */
static int shard_reserve(struct idx_shard *s)
{
	uint64_t need = (uint64_t)s->n + 1;

	return need * 8 > (uint64_t)s->cap * 7 ? shard_grow(s) : 0;
}

int idx_put(struct idx *x, const struct idx_entry *e)
{
	struct idx_entry ent = *e, *found;
	struct idx_shard *s;
	uint32_t i = UINT32_MAX;
	int r;

	/* The all-zero id marks an empty slot; no keyed hash produces it in practice, and
	 * storing it would corrupt the probe chains. */
	if (slot_empty(&ent))
		return -EINVAL;
	if (!x->shards) {
		x->shards = calloc(IDX_SHARDS, sizeof(*x->shards));
		if (!x->shards)
			return -ENOMEM;
	}
	s = shard_of(x, ent.id);
	found = delta_find(s, ent.type, ent.id);
	if (found) {
		*found = ent;
		return 0;
	}
	i = base_find(s, ent.type, ent.id);
	if (i != UINT32_MAX) {
		if (!idx_fmt_fits(&s->fmt, &ent)) {
			r = shard_widen(x, s, &ent);
			if (r < 0)
				return r;
		}
		/* It may use the layout's spare bits: the needs must cover it, or the next
		 * layout drawn from them would cut it. */
		fmt_need(&s->fmt, &ent);
		idx_rec_put(&s->fmt, &ent, s->base + (size_t)i * s->fmt.stride);
		return 0;
	}
	r = shard_reserve(s);
	if (r < 0)
		return r;
	shard_place(s, &ent);
	s->n++;
	x->n++;
	/* The table costs ~66 bytes an entry, the array under 48: keep the table small. A
	 * failed merge leaves the table as it was, still correct, so the put has succeeded. */
	if (s->n >= IDX_DELTA_MIN && s->n >= s->n_base / 8)
		(void)shard_merge(x, s);
	return 0;
}

/* Between index files of a load: every shard's table merged into its array, so the loaded
 * index holds its entries in exact arrays and no table slack (at a million blobs the
 * tables held ~4 MB). A merge that fails for memory leaves that shard as it was, still
 * correct. */
void idx_settle(struct idx *x)
{
	if (!x->shards)
		return;
	for (size_t k = 0; k < IDX_SHARDS; k++)
		if (x->shards[k].n)
			(void)shard_merge(x, &x->shards[k]);
}

static void delta_remove(struct idx_shard *s, uint32_t i)
{
	memset(&s->slots[i], 0, sizeof(s->slots[i]));
	s->n--;
	/* Backward-shift deletion keeps every probe chain intact without tombstones: an
	 * entry after the hole moves into it unless its home lies cyclically in (i, j]. */
	for (uint32_t j = slot_next(s, i); !slot_empty(&s->slots[j]); j = slot_next(s, j)) {
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

void idx_remove(struct idx *x, unsigned type, const uint8_t id[ID_BYTES])
{
	struct idx_entry *found;
	struct idx_shard *s;
	size_t w;
	uint32_t i;

	if (!x->shards)
		return;
	s = shard_of(x, id);
	found = delta_find(s, type, id);
	if (found) {
		delta_remove(s, (uint32_t)(found - s->slots));
		x->n--;
		return;
	}
	i = base_find(s, type, id);
	if (i == UINT32_MAX)
		return;
	w = s->fmt.stride;
	memmove(s->base + i * w, s->base + (i + 1) * w, (s->n_base - i - 1) * w);
	s->n_base--;
	x->n--;
}

int idx_foreach(struct idx *x, idx_fn fn, void *ud)
{
	if (!x->shards)
		return 0;
	for (size_t k = 0; k < IDX_SHARDS; k++) {
		const struct idx_shard *s = &x->shards[k];
		struct idx_entry e;
		int rc;

		for (uint32_t i = 0; i < s->n_base; i++) {
			idx_rec_get(&s->fmt, rec_at(s, i), (uint8_t)(k >> 4), &e);
			rc = fn(ud, &e);
			if (rc < 0)
				return rc;
		}
		for (uint32_t i = 0; i < s->cap; i++) {
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
	for (size_t k = 0; k < IDX_SHARDS; k++) {
		const struct idx_shard *s = &x->shards[k];

		n += (size_t)s->n_base * s->fmt.stride + (size_t)s->cap * sizeof(struct idx_entry);
	}
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

int idx_pack_find(const struct idx *x, const uint8_t pack[ID_BYTES], uint32_t *ret)
{
	if (!x->pack_slots_cap)
		return -ENOENT;
	for (size_t i = pack_home(x, pack); x->pack_slots[i];
	     i = (i + 1) & (x->pack_slots_cap - 1))
		if (memcmp(x->packs[x->pack_slots[i] - 1], pack, ID_BYTES) == 0) {
			*ret = x->pack_slots[i] - 1;
			return 0;
		}
	return -ENOENT;
}

/* A pack listed by several index files (overlap after an interrupted prune, adopted
 * orphans) keeps one number, so the tables do not grow with every listing. */
int idx_pack_number(struct idx *x, const uint8_t pack[ID_BYTES], uint32_t *ret)
{
	if (idx_pack_find(x, pack, ret) == 0)
		return 0;
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
		for (size_t k = 0; k < IDX_SHARDS; k++) {
			free(x->shards[k].base);
			free(x->shards[k].slots);
		}
	free(x->shards);
	free(x->packs);
	free(x->pack_slots);
	free(x->files);
	idx_dup_release(x);
	memset(x, 0, sizeof(*x));
}
