/* Overflow-checked size arithmetic: gcc 12 has no <stdckdint.h>. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define ckd_add(r, a, b) __builtin_add_overflow((a), (b), (r))
#define ckd_mul(r, a, b) __builtin_mul_overflow((a), (b), (r))

/* a + b, stopping at INT64_MAX: byte totals summed over files a volume controls (sparse
 * files of 2^63-1 bytes on tmpfs) must not wrap, and the repository format and JSON
 * store them as signed 64-bit integers. */
static inline uint64_t ckd_sat_add_i64max(uint64_t a, uint64_t b)
{
	uint64_t r;

	if (ckd_add(&r, a, b) || r > (uint64_t)INT64_MAX)
		return (uint64_t)INT64_MAX;
	return r;
}
