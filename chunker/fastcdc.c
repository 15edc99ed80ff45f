/* Owns the FastCDC cut-point search. The hash skips the first `min` bytes of each
 * chunk (they can never hold a cut), which is where most of its speed comes from. */
#include "chunker/chunker.h"

#include "util/banned.h"

/* One gear step and its cut test at byte i; leaves the scan with the cut length. */
#define GEAR_STEP(i)                                    \
	do {                                            \
		h = (h << 1) + gear[data[i]];           \
		if (__builtin_expect(!(h & mask), 0)) { \
			*ret_h = h;                     \
			return (i) + 1;                 \
		}                                       \
	} while (0)

/* Scan data[i..end) with the hash h so far: the length up to and including the first byte
 * whose hash has none of mask's bits set, or 0 (and *ret_h the hash at end). Every byte is
 * tested exactly as in the plain loop, so the cut points are the same; the loop is unrolled
 * only to spend fewer instructions per byte on the counter and its branch (the mutated
 * backup spent 18% of its CPU in this search). */
static size_t scan(const uint64_t *gear, const uint8_t *data, size_t i, size_t end, uint64_t h,
                   uint64_t mask, uint64_t *ret_h)
{
	for (; end - i >= 4; i += 4) {
		GEAR_STEP(i);
		GEAR_STEP(i + 1);
		GEAR_STEP(i + 2);
		GEAR_STEP(i + 3);
	}
	for (; i < end; i++)
		GEAR_STEP(i);
	*ret_h = h;
	return 0;
}

size_t chunker_cut(const struct chunker *c, const uint8_t *data, size_t len, bool eof)
{
	size_t n = len < c->p.max ? len : c->p.max;
	size_t normal = c->p.avg < n ? c->p.avg : n;
	uint64_t h = 0;
	size_t cut;

	if (len <= c->p.min)
		return eof ? len : 0;
	if (c->p.min < normal) {
		cut = scan(c->gear, data, c->p.min, normal, h, c->mask_s, &h);
		if (cut)
			return cut;
	}
	if (normal < n) {
		cut =
		    scan(c->gear, data, normal > c->p.min ? normal : c->p.min, n, h, c->mask_l, &h);
		if (cut)
			return cut;
	}
	if (n == c->p.max || eof)
		return n;
	return 0;
}
