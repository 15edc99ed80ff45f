/* Maps a file offset to the extent holding it: a binary search over cumulative lengths,
 * so a read at any offset costs O(log n) and never touches earlier extents. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdlib.h>

#include "util/banned.h"
#include "util/ckd.h"

int extmap_build(const struct extent *ext, size_t n, struct extmap *ret)
{
	uint64_t *end = NULL, total = 0;
	size_t bytes;

	if (ckd_mul(&bytes, n, sizeof(*end)))
		return -EOVERFLOW;
	if (n > 0) {
		end = malloc(bytes);
		if (!end)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (ckd_add(&total, total, ext[i].len)) {
			free(end);
			return -EOVERFLOW;
		}
		end[i] = total;
	}
	ret->end = end;
	ret->n = n;
	return 0;
}

void extmap_release(struct extmap *m)
{
	free(m->end);
	m->end = NULL;
	m->n = 0;
}

uint64_t extmap_total(const struct extmap *m)
{
	return m->n ? m->end[m->n - 1] : 0;
}

uint64_t extmap_start(const struct extmap *m, size_t i)
{
	return i == 0 ? 0 : m->end[i - 1];
}

size_t extmap_find(const struct extmap *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;

	/* First extent whose end lies past off; zero-length extents are skipped naturally
	 * because their end equals the previous one. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->end[mid] > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}
