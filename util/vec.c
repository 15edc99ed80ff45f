/* Owns the growth policy of util/vec.h arrays. */
#include "util/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

int vec_reserve1(void *v, size_t *cap, size_t n, size_t elem, size_t first)
{
	void *old, *p;
	size_t c;

	if (n < *cap)
		return 0;
	if (*cap)
		c = *cap;
	else
		c = first ? first : 1;
	/* n >= *cap: the first reserve of an empty array is `first`, later ones double. */
	if (*cap && ckd_mul(&c, *cap, (size_t)2))
		return -EOVERFLOW;
	if (c <= n && ckd_add(&c, n, (size_t)1))
		return -EOVERFLOW;
	memcpy(&old, v, sizeof(old));
	p = reallocarray(old, c, elem);
	if (!p)
		return -ENOMEM;
	memcpy(v, &p, sizeof(p));
	*cap = c;
	return 0;
}
