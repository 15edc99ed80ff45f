/* The lane search (chunker/scan.c) and the resumable chunker_next against the plain
 * byte-by-byte gear loop: identical cut points on random and adversarial data, at every
 * range boundary, for several parameter sets and any split of the input into reads. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chunker/chunker-internal.h"
#include "chunker/chunker.h"
#include "tests/tap.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

enum kind { K_RANDOM, K_ZEROS, K_PERIODIC, K_RUNS, K_TWO_BYTES, K_MAX };

static const char *const kind_name[K_MAX] = { "random", "zeros", "periodic", "zero runs",
	                                      "two byte values" };

static void fill(uint8_t *p, size_t n, enum kind k)
{
	size_t period = 1 + rnd_below(300);

	for (size_t i = 0; i < n; i++) {
		switch (k) {
		case K_RANDOM:
			p[i] = (uint8_t)rnd();
			break;
		case K_ZEROS:
			p[i] = 0;
			break;
		case K_PERIODIC:
			p[i] = i < period ? (uint8_t)rnd() : p[i - period];
			break;
		case K_RUNS:
			p[i] = (rnd() & 0xff) < 8 || (i && p[i - 1] == 0 && (rnd() & 0xff))
			           ? 0
			           : (uint8_t)rnd();
			break;
		default:
			p[i] = (uint8_t)(rnd() & 1);
			break;
		}
	}
}

/* The reference: h = 0 before floor, one byte at a time, tested from `from` on. */
static size_t ref_search(const uint64_t *gear, const uint8_t *d, size_t floor, size_t from,
                         size_t end, uint64_t mask)
{
	uint64_t h = 0;

	for (size_t i = floor; i < end; i++) {
		h = (h << 1) + gear[d[i]];
		if (i >= from && !(h & mask))
			return i + 1;
	}
	return 0;
}

/* The reference chunker_cut: the FastCDC rules over ref_search's single loop. */
static size_t ref_cut(const struct chunker *c, const uint8_t *d, size_t len, bool eof)
{
	size_t n = len < c->p.max ? len : c->p.max;
	uint64_t h = 0;

	if (len <= c->p.min)
		return eof ? len : 0;
	for (size_t i = c->p.min; i < n; i++) {
		h = (h << 1) + c->gear[d[i]];
		if (!(h & (i < c->p.avg ? c->mask_s : c->mask_l)))
			return i + 1;
	}
	return n == c->p.max || eof ? n : 0;
}

static uint64_t top_bits(unsigned n)
{
	return ((1ULL << n) - 1) << (64 - n);
}

/* chunker_search on random ranges and masks of 1 to 24 bits (cuts from every byte to none
 * in the range), against ref_search. Returns the number of mismatches. */
static unsigned check_search(const struct chunker *c, uint8_t *d, size_t cap, enum kind k,
                             unsigned rounds)
{
	unsigned bad = 0;

	for (unsigned r = 0; r < rounds; r++) {
		size_t n = 1 + rnd_below(cap), floor = rnd_below(n), from, end;
		uint64_t mask = top_bits(1 + (unsigned)rnd_below(24));

		fill(d, n, k);
		from = floor + (rnd() & 1 ? rnd_below(n - floor) : rnd_below(100));
		end = from + rnd_below(n - (from < n ? from : n) + 1);
		if (from > n)
			from = n;
		if (end > n)
			end = n;
		if (chunker_search(c->gear, d, floor, from, end, mask) !=
		    ref_search(c->gear, d, floor, from, end, mask))
			bad++;
	}
	return bad;
}

/* Whole inputs cut by chunker_cut, and by chunker_next fed reads of random sizes into a
 * buffer that slides (the bytes move between calls), against ref_cut. */
static unsigned check_cuts(const struct chunker *c, const uint8_t *d, size_t n, uint8_t *buf)
{
	size_t off = 0, len = 0, have = 0, lo = 0;
	struct chunker_scan s = CHUNKER_SCAN_INIT;
	unsigned bad = 0;

	while (off < n) {
		size_t want = ref_cut(c, d + off, n - off, true);

		if (chunker_cut(c, d + off, n - off, true) != want)
			bad++;
		/* chunker_next: read until it cuts; buf[lo, lo + len) holds d[off, off + len). */
		for (;;) {
			bool eof = off + len == n;
			size_t cut = chunker_next(c, &s, buf + lo, len, eof);

			if (cut && cut != want)
				return bad + 1; /* the loop's bookkeeping relies on want */
			if (cut)
				break;
			if (eof)
				return bad + 1;
			/* Slide to a random place, sometimes, then read 1 byte to 3 * max more. */
			if (rnd() % 3 == 0) {
				size_t to = rnd_below(64);

				memmove(buf + to, buf + lo, len);
				lo = to;
			}
			have = 1 + (rnd() & 1 ? rnd_below(64) : rnd_below(3 * (size_t)c->p.max));
			if (have > n - off - len)
				have = n - off - len;
			memcpy(buf + lo + len, d + off + len, have);
			len += have;
		}
		off += want;
		memmove(buf, buf + lo + want, len - want);
		lo = 0;
		len -= want;
	}
	return bad;
}

/* Inputs ending exactly at min, avg, max and one byte around each, eof or not. */
static unsigned check_edges(const struct chunker *c, const uint8_t *d)
{
	const size_t at[] = { c->p.min, c->p.avg, c->p.max };
	unsigned bad = 0;

	for (unsigned i = 0; i < 3; i++)
		for (size_t len = at[i] - 2; len <= at[i] + 2; len++)
			for (int eof = 0; eof < 2; eof++) {
				struct chunker_scan s = CHUNKER_SCAN_INIT;
				size_t want = ref_cut(c, d, len, eof);

				bad += chunker_cut(c, d, len, eof) != want;
				/* Resumed at the edge: first a call one byte short. */
				if (!chunker_next(c, &s, d, len - 1, false))
					bad += chunker_next(c, &s, d, len, eof) != want;
			}
	return bad;
}

int main(void)
{
	static const struct chunker_params ps[] = {
		{ 4096, 8192, 16384 },       { 4096, 16384, 65536 }, { 8192, 32768, 262144 },
		{ 4096, 8192, 4096 + 8192 }, CHUNKER_PARAMS_DEFAULT,
	};
	const size_t cap = 24u * 1024 * 1024;
	uint8_t *d = malloc(cap), *buf = malloc(cap + 64);
	struct chunker c;

	if (sodium_init() < 0 || !d || !buf)
		return 1;
	for (unsigned seed = 1; seed <= 3; seed++) {
		uint8_t key[CHUNKER_SEED_BYTES] = { (uint8_t)seed };

		if (chunker_init(&c, &ps[0], key))
			return 1;
		for (enum kind k = 0; k < K_MAX; k++) {
			rng_state = 0x9e3779b97f4a7c15ULL * (seed * K_MAX + k + 1);
			is_int(check_search(&c, d, 300 * 1024, k, 400), 0,
			       "key %u, %s: lane search = plain loop on random ranges and masks",
			       seed, kind_name[k]);
		}
	}
	for (unsigned i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		for (unsigned seed = 1; seed <= 4; seed++) {
			uint8_t key[CHUNKER_SEED_BYTES] = { (uint8_t)seed, 9 };
			bool big = ps[i].max > 1024 * 1024;
			size_t n = big ? cap : 4u * 1024 * 1024;

			if (chunker_init(&c, &ps[i], key))
				return 1;
			for (enum kind k = 0; k < K_MAX; k++) {
				if (big && seed > 1)
					break;
				rng_state = 0x2545f4914f6cdd1dULL * (i * 64 + seed * K_MAX + k + 1);
				fill(d, n, k);
				is_int(check_edges(&c, d), 0,
				       "params %u/%u/%u key %u, %s: inputs ending at min, avg, max",
				       ps[i].min, ps[i].avg, ps[i].max, seed, kind_name[k]);
				n -= rnd_below(ps[i].max); /* ends anywhere in a chunk */
				is_int(
				    check_cuts(&c, d, n, buf), 0,
				    "params %u/%u/%u key %u, %s: same cuts whole and in random reads",
				    ps[i].min, ps[i].avg, ps[i].max, seed, kind_name[k]);
			}
		}
	free(d);
	free(buf);
	return tap_done();
}
