/* Chunker properties: bounds, determinism, locality of an insertion, keyed cut points. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chunker/chunker.h"
#include "tests/tap.h"

#define DATA (48u * 1024 * 1024)

static size_t cut_all(const struct chunker *c, const uint8_t *p, size_t n, size_t *cuts,
		      size_t max)
{
	size_t k = 0, off = 0;

	while (off < n && k < max) {
		size_t len = chunker_cut(c, p + off, n - off, true);

		off += len;
		cuts[k++] = off;
	}
	return k;
}

int main(void)
{
	struct chunker_params p = CHUNKER_PARAMS_DEFAULT;
	struct chunker c, c2;
	uint8_t seed[32] = { 1 }, seed2[32] = { 2 };
	uint8_t *a = malloc(DATA), *b = malloc(DATA + 100);
	size_t *ca = calloc(1024, sizeof(size_t)), *cb = calloc(1024, sizeof(size_t));
	size_t na, nb, shared = 0, minlen = SIZE_MAX, maxlen = 0;
	bool bounds = true;

	if (sodium_init() < 0 || !a || !b || !ca || !cb)
		return 1;
	randombytes_buf_deterministic(a, DATA, (const uint8_t[32]){ 7 });
	ok(chunker_init(&c, &p, seed) == 0, "init with default params");
	ok(chunker_params_check(&(struct chunker_params){ 1024, 4096, 8192 }) < 0,
	   "min below the limit is refused");
	ok(chunker_params_check(&(struct chunker_params){ 8192, 12000, 65536 }) < 0,
	   "avg not a power of two is refused");
	na = cut_all(&c, a, DATA, ca, 1024);
	for (size_t i = 0; i < na; i++) {
		size_t len = ca[i] - (i ? ca[i - 1] : 0);

		if (i + 1 < na) {
			minlen = len < minlen ? len : minlen;
			if (len < p.min)
				bounds = false;
		}
		maxlen = len > maxlen ? len : maxlen;
		if (len > p.max)
			bounds = false;
	}
	ok(bounds, "all chunks within [min, max] (min %zu, max %zu)", minlen, maxlen);
	ok(na > DATA / p.max && na < DATA / p.min, "chunk count %zu plausible for avg 1 MiB", na);
	tap_diag("average chunk %zu bytes", DATA / na);
	nb = cut_all(&c, a, DATA, cb, 1024);
	ok(na == nb && !memcmp(ca, cb, na * sizeof(size_t)), "identical input, identical chunks");

	/* Insert 100 bytes in the middle: only the chunks around it may change. */
	memcpy(b, a, DATA / 2);
	memset(b + DATA / 2, 0x5a, 100);
	memcpy(b + DATA / 2 + 100, a + DATA / 2, DATA / 2);
	nb = cut_all(&c, b, DATA + 100, cb, 1024);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (ca[i] == cb[j] || (ca[i] > DATA / 2 && ca[i] + 100 == cb[j])) {
				shared++;
				break;
			}
	ok(shared + 3 >= na, "insertion changes at most 3 boundaries (%zu of %zu kept)", shared,
	   na);

	ok(chunker_init(&c2, &p, seed2) == 0, "init with another key");
	nb = cut_all(&c2, a, DATA, cb, 1024);
	shared = 0;
	for (size_t i = 0; i + 1 < na && i + 1 < nb; i++)
		shared += ca[i] == cb[i];
	ok(shared < na / 4, "another key gives other cut points (%zu equal)", shared);

	ok(chunker_cut(&c, a, p.min, false) == 0, "needs more data below min without eof");
	ok(chunker_cut(&c, a, 100, true) == 100, "a short tail at eof is one chunk");
	ok(chunker_cut(&c, a, p.max + 10, false) <= p.max, "never more than max");
	free(a);
	free(b);
	free(ca);
	free(cb);
	return tap_done();
}
