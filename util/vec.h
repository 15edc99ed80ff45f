/* Growable arrays of fixed-size elements: one overflow-checked doubling policy for every
 * list that is appended to one element at a time. */
#pragma once
#include <stddef.h>

#include "util/attr.h"

/* Make room in *v (an array of *cap elements of elem bytes, n of them in use) for one more:
 * doubles the capacity, starting at first. 0, -EOVERFLOW or -ENOMEM; on failure *v and
 * *cap are unchanged. */
int vec_reserve1(void *v, size_t *cap, size_t n, size_t elem, size_t first) _must_check_;

/* Typed front end: `VEC_RESERVE1(x->v, x->cap, x->n, 8)` reads as "x->v can take one more". */
#define VEC_RESERVE1(arr, cap, n, first) vec_reserve1(&(arr), &(cap), (n), sizeof(*(arr)), (first))
