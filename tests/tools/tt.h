/* Shared helpers of the test tools (mktree, treecmp): a seeded PRNG so generated trees
 * are the same on every run, and byte-exact path escaping for reports. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/attr.h"

struct tt_rng {
	uint64_t s;
};

/* splitmix64: tiny, full-period, good enough for test data (not for crypto). */
static inline uint64_t tt_next(struct tt_rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform-ish value in [0, n); n > 0. */
static inline uint64_t tt_below(struct tt_rng *r, uint64_t n)
{
	return tt_next(r) % n;
}

void tt_fill(struct tt_rng *r, void *p, size_t n);
/* Print name with bytes outside 0x21..0x7e (and the backslash) as \xNN. */
void tt_put_escaped(FILE *f, const char *name, size_t n);
/* Same escaping into out (always NUL-terminated; "..." marks truncation). */
void tt_escape(char *out, size_t size, const char *in, size_t n);
/* Parse a decimal unsigned integer; -EINVAL on garbage, -ERANGE past max. */
int tt_parse_u64(const char *s, uint64_t max, uint64_t *ret) _must_check_;
