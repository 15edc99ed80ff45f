/* util/ckd.h: ckd_sat_add_i64max sums like + below INT64_MAX and stops there, for sums
 * that would pass it or wrap past UINT64_MAX (byte totals of sparse files of 2^63-1). */
#include "util/ckd.h"

#include <stdint.h>

#include "tests/tap.h"
#include "util/banned.h"

int main(void)
{
	const uint64_t max = (uint64_t)INT64_MAX;

	ok(ckd_sat_add_i64max(2, 3) == 5, "small sums are exact");
	ok(ckd_sat_add_i64max(max - 1, 1) == max, "a sum of exactly INT64_MAX is kept");
	ok(ckd_sat_add_i64max(max, 1) == max, "one past INT64_MAX stops there");
	ok(ckd_sat_add_i64max(max, max) == max, "two files of 2^63-1 bytes stop there");
	ok(ckd_sat_add_i64max(UINT64_MAX, UINT64_MAX) == max, "a sum that wraps 2^64 stops there");
	ok(ckd_sat_add_i64max(ckd_sat_add_i64max(max, max), 3) == max,
	   "and stays there as more files come");
	return tap_done();
}
