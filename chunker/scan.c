/* Owns the gear-hash search for a cut point, split into independent lanes. Each step
 * shifts the hash left once, so the hash at byte i depends only on the 64 bytes up to i:
 * a lane that starts 64 bytes early with h = 0 has exactly the plain loop's hash when it
 * reaches its range. Four lanes interleaved in one loop run four dependency chains side by
 * side; one chain (shift, add, test) is latency bound at about 2 cycles a byte. */
#include "chunker/chunker-internal.h"

#include "util/banned.h"

#define LANES 4
/* A block is LANES lanes of at most LANE_MAX bytes. Each lane pays up to 64 bytes of
 * warm-up, and a cut in an upper lane means finishing the lower ones: 16 KiB keeps both
 * small next to the 256 KiB to 4 MiB between cuts (mask_l, mask_s at the default avg). A
 * range shorter than LANES * LANE_MIN goes through the plain loop. */
#define LANE_MAX (16u * 1024)
#define LANE_MIN 1024u
#define WARM     64

/* One gear step and its cut test at byte i. */
#define GEAR_STEP(i)                                  \
	do {                                          \
		h = (h << 1) + gear[data[i]];         \
		if (__builtin_expect(!(h & mask), 0)) \
			return (i) + 1;               \
	} while (0)

/* The plain loop over data[i..end), from the hash h before byte i. */
static size_t scan1(const uint64_t *gear, const uint8_t *data, size_t i, size_t end, uint64_t h,
                    uint64_t mask)
{
	for (; end - i >= 4; i += 4) {
		GEAR_STEP(i);
		GEAR_STEP(i + 1);
		GEAR_STEP(i + 2);
		GEAR_STEP(i + 3);
	}
	for (; i < end; i++)
		GEAR_STEP(i);
	return 0;
}

/* The hash before byte at: that of the (at most) 64 bytes before it, none before floor. */
static uint64_t warm(const uint64_t *gear, const uint8_t *data, size_t floor, size_t at)
{
	uint64_t h = 0;

	for (size_t i = at - floor > WARM ? at - WARM : floor; i < at; i++)
		h = (h << 1) + gear[data[i]];
	return h;
}

/* One step of the four lanes at offset i, then one test for a cut in any of them: mask is
 * the top bits of a word, so a hash without any of its bits set is at most ~mask, and the
 * smallest of the four is. Two compare-and-moves and a compare per lane pair cost fewer
 * instructions than a test-and-set per lane, which counts when the walker shares its core
 * with a hash helper. */
#define LANES_STEP(i)                                                      \
	do {                                                               \
		uint64_t m01, m23;                                         \
		h0 = (h0 << 1) + gear[p0[i]];                              \
		h1 = (h1 << 1) + gear[p1[i]];                              \
		h2 = (h2 << 1) + gear[p2[i]];                              \
		h3 = (h3 << 1) + gear[p3[i]];                              \
		m01 = h0 < h1 ? h0 : h1;                                   \
		m23 = h2 < h3 ? h2 : h3;                                   \
		if (__builtin_expect((m01 < m23 ? m01 : m23) <= lim, 0)) { \
			t = (i);                                           \
			goto hit;                                          \
		}                                                          \
	} while (0)

/* Search [at, at + LANES * lane) as LANES lanes in step. On a hit in any lane, the lanes
 * are finished in order by the plain loop: the first cut of the lowest lane wins, as in one
 * sequential scan. */
static size_t block(const uint64_t *gear, const uint8_t *data, size_t floor, size_t at, size_t lane,
                    uint64_t mask)
{
	const uint8_t *p0 = data + at, *p1 = p0 + lane, *p2 = p1 + lane, *p3 = p2 + lane;
	uint64_t h0 = warm(gear, data, floor, at), h1 = warm(gear, data, floor, at + lane);
	uint64_t h2 = warm(gear, data, floor, at + 2 * lane);
	uint64_t h3 = warm(gear, data, floor, at + 3 * lane);
	const uint64_t lim = ~mask;
	uint64_t h[LANES];
	size_t t;

	/* Two steps a round: half the loop's counter and branch per byte. */
	for (t = 0; t + 2 <= lane; t += 2) {
		LANES_STEP(t);
		LANES_STEP(t + 1);
	}
	if (t < lane)
		LANES_STEP(t);
	return 0;
hit:
	h[0] = h0, h[1] = h1, h[2] = h2, h[3] = h3;
	for (unsigned k = 0; k < LANES; k++) {
		size_t s = at + k * lane, cut;

		if (!(h[k] & mask))
			return s + t + 1;
		cut = scan1(gear, data, s + t + 1, s + lane, h[k], mask);
		if (cut)
			return cut;
	}
	return 0; /* not reached: some lane hit at t */
}

size_t chunker_search(const uint64_t gear[256], const uint8_t *data, size_t floor, size_t from,
                      size_t end, uint64_t mask)
{
	size_t i = from;

	while (i < end && end - i >= LANES * LANE_MIN) {
		size_t lane = (end - i) / LANES, cut;

		if (lane > LANE_MAX)
			lane = LANE_MAX;
		cut = block(gear, data, floor, i, lane, mask);
		if (cut)
			return cut;
		i += LANES * lane;
	}
	if (i >= end)
		return 0;
	return scan1(gear, data, i, end, warm(gear, data, floor, i), mask);
}
