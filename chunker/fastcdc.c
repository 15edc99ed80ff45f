/* Owns the FastCDC cut-point rules: where the search starts (min), which mask applies
 * (stricter before avg, looser after), where a chunk must end (max, eof); and resuming the
 * search of a chunk whose end has not been read yet. */
#include "chunker/chunker.h"

#include "chunker/chunker-internal.h"
#include "util/banned.h"

/* Positions below avg use mask_s and the rest mask_l, whatever len is, and the hash at a
 * position depends only on the bytes before it: so a search resumed where the last one
 * stopped finds the same cut as one over all the bytes at once. */
size_t chunker_next(const struct chunker *c, struct chunker_scan *s, const uint8_t *data,
                    size_t len, bool eof)
{
	size_t n = len < c->p.max ? len : c->p.max;
	size_t from = s->scanned > c->p.min ? s->scanned : c->p.min;
	size_t cut = 0;

	if (len <= c->p.min) {
		cut = eof ? len : 0;
		goto done;
	}
	if (from < c->p.avg && from < n)
		cut = chunker_search(c->gear, data, c->p.min, from, c->p.avg < n ? c->p.avg : n,
		                     c->mask_s);
	if (!cut && c->p.avg < n)
		cut = chunker_search(c->gear, data, c->p.min, from > c->p.avg ? from : c->p.avg, n,
		                     c->mask_l);
	if (!cut && (n == c->p.max || eof))
		cut = n;
done:
	s->scanned = cut ? 0 : n;
	return cut;
}

size_t chunker_cut(const struct chunker *c, const uint8_t *data, size_t len, bool eof)
{
	struct chunker_scan s = CHUNKER_SCAN_INIT;

	return chunker_next(c, &s, data, len, eof);
}
