/* Overflow-checked size arithmetic: gcc 12 has no <stdckdint.h>. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define ckd_add(r, a, b) __builtin_add_overflow((a), (b), (r))
#define ckd_mul(r, a, b) __builtin_mul_overflow((a), (b), (r))
