/* Offset -> extent mapping against a linear scan, with holes and empty extents. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/tap.h"
#include "util/banned.h"

static size_t linear(const struct extent *ext, size_t n, uint64_t off)
{
	uint64_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (off < start + ext[i].len)
			return i;
		start += ext[i].len;
	}
	return n;
}

int main(void)
{
	struct extent ext[500];
	struct extmap m;
	uint64_t total = 0;
	size_t bad = 0, n = ELEMENTSOF(ext);

	srand(7);
	for (size_t i = 0; i < n; i++) {
		memset(&ext[i], 0, sizeof(ext[i]));
		/* Every seventh extent is empty, every fifth a hole. */
		ext[i].len = i % 7 == 3 ? 0 : 1 + (uint64_t)(rand() % 100000);
		ext[i].hole = i % 5 == 0;
		total += ext[i].len;
	}
	ok(extmap_build(ext, n, &m) == 0, "build over %zu extents", n);
	is_int(extmap_total(&m), total, "total is the sum of lengths");
	for (int k = 0; k < 100000; k++) {
		uint64_t off = (uint64_t)rand() % (total + 10);

		if (extmap_find(&m, off) != linear(ext, n, off))
			bad++;
	}
	is_int(bad, 0, "random offsets map like a linear scan");
	bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = extmap_start(&m, i);

		if (ext[i].len == 0)
			continue;
		if (extmap_find(&m, s) != i || extmap_find(&m, s + ext[i].len - 1) != i)
			bad++;
	}
	is_int(bad, 0, "first and last byte of each extent map to it");
	is_int(extmap_find(&m, total), n, "offset at the end maps past the last extent");
	extmap_release(&m);

	ok(extmap_build(NULL, 0, &m) == 0 && extmap_find(&m, 0) == 0 && extmap_total(&m) == 0,
	   "empty file");
	extmap_release(&m);

	ext[0].len = UINT64_MAX / 2 + 1;
	ext[1].len = UINT64_MAX / 2 + 1;
	is_int(extmap_build(ext, 2, &m), -EOVERFLOW, "lengths summing past 2^64 are refused");
	return tap_done();
}
