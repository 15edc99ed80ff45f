/* Owns the FastCDC cut-point search. The hash skips the first `min` bytes of each
 * chunk (they can never hold a cut), which is where most of its speed comes from. */
#include "chunker/chunker.h"

#include "util/banned.h"

size_t chunker_cut(const struct chunker *c, const uint8_t *data, size_t len, bool eof)
{
	size_t n = len < c->p.max ? len : c->p.max;
	size_t normal = c->p.avg < n ? c->p.avg : n;
	const uint64_t *gear = c->gear;
	uint64_t h = 0;
	size_t i;

	if (len <= c->p.min)
		return eof ? len : 0;
	for (i = c->p.min; i < normal; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & c->mask_s))
			return i + 1;
	}
	for (; i < n; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & c->mask_l))
			return i + 1;
	}
	if (n == c->p.max || eof)
		return n;
	return 0;
}
