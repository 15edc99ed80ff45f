/* Owns the keyed gear table: 256 pseudo-random words expanded from the repository seed. */
#include "chunker/chunker.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "util/banned.h"

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int chunker_params_check(const struct chunker_params *p)
{
	if (p->min < CHUNKER_MIN_LIMIT || p->max > CHUNKER_MAX_LIMIT)
		return -EINVAL;
	if (!(p->min < p->avg && p->avg < p->max) || !is_pow2(p->avg))
		return -EINVAL;
	return 0;
}

static uint64_t top_bits(unsigned n)
{
	return n >= 64 ? ~0ULL : ((1ULL << n) - 1) << (64 - n);
}

int chunker_init(struct chunker *c, const struct chunker_params *p,
		 const uint8_t seed[CHUNKER_SEED_BYTES])
{
	uint8_t block[64];
	unsigned bits;
	int r;

	r = chunker_params_check(p);
	if (r < 0)
		return r;
	c->p = *p;
	bits = (unsigned)__builtin_ctz(p->avg);
	/* Normalized chunking level 2 (FastCDC paper): +-2 bits around log2(avg). */
	c->mask_s = top_bits(bits + 2);
	c->mask_l = top_bits(bits - 2);
	for (unsigned i = 0; i < 256 / 8; i++) {
		uint8_t ctr[8] = { (uint8_t)i, 'g', 'e', 'a', 'r' };

		crypto_generichash(block, sizeof(block), ctr, sizeof(ctr), seed, CHUNKER_SEED_BYTES);
		for (unsigned j = 0; j < 8; j++) {
			uint64_t v = 0;

			for (unsigned k = 0; k < 8; k++)
				v = v << 8 | block[8 * j + k];
			c->gear[8 * i + j] = v;
		}
	}
	sodium_memzero(block, sizeof(block));
	return 0;
}
