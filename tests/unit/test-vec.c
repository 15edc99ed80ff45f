/* util/vec.h: the first reserve takes `first` slots, later ones double, every appended
 * element survives a move, and a size that overflows fails without touching the array. */
#include "util/vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "util/banned.h"

struct item {
	uint64_t a, b;
};

int main(void)
{
	struct item *v = NULL;
	size_t cap = 0, n = 0, grows = 0;
	unsigned char *big;
	size_t bigcap;
	bool same = true;

	is_int(VEC_RESERVE1(v, cap, n, 8), 0, "an empty array takes its first slots");
	is_int((int)cap, 8, "the first capacity is `first`");
	for (n = 0; n < 1000; n++) {
		size_t before = cap;

		if (VEC_RESERVE1(v, cap, n, 8))
			break;
		grows += cap != before;
		v[n].a = n;
		v[n].b = ~(uint64_t)n;
	}
	is_int((int)n, 1000, "1000 elements appended");
	for (size_t i = 0; i < n; i++)
		same &= v[i].a == i && v[i].b == ~(uint64_t)i;
	ok(same, "every element kept its value across the moves");
	is_int((int)cap, 1024, "capacity doubled from 8 to 1024");
	is_int((int)grows, 7, "7 moves for 1000 appends");
	is_int(VEC_RESERVE1(v, cap, 10, 8), 0, "room already there: no change");
	free(v);

	/* A capacity whose double overflows size_t. */
	big = malloc(1);
	bigcap = SIZE_MAX / 2 + 1;
	{
		unsigned char *keep = big;
		int rc = VEC_RESERVE1(big, bigcap, bigcap, 1);

		is_int(rc, -EOVERFLOW, "a doubling past SIZE_MAX is -EOVERFLOW");
		ok(big == keep && bigcap == SIZE_MAX / 2 + 1, "and leaves the array as it was");
	}
	free(big);
	return tap_done();
}
