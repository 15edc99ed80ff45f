/* Memory of the in-memory blob index (repo/idx.c; bench/README.md, "Memory"):
 *   gcc -O2 -I. -Ibuild -o idx-bench bench/idx-shards.c repo/idx.c && ./idx-bench 1000000
 * Prints the peak RSS growth and the table bytes for N random 48-byte entries. Not built by
 * make. One table doubled at 3/4 load cost +144 MiB peak for a million entries; 4096 shards
 * of open addressing +69 MiB; the shards as sorted arrays, each with a small hash table
 * for recent puts, +56 MiB (49.5 bytes of tables per entry). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "repo/repo-internal.h"

static long peak_kib(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	struct idx x = { 0 };
	uint64_t seed = 1;
	long r0 = peak_kib(), r1;

	for (size_t i = 0; i < n; i++) {
		struct idx_entry e = { .pack = 1, .stored_len = 1 };

		for (size_t k = 0; k < ID_BYTES; k += 8) {
			uint64_t v = next(&seed);

			memcpy(e.id + k, &v, 8);
		}
		if (idx_put(&x, &e) < 0)
			return 1;
	}
	r1 = peak_kib();
	printf("%zu entries: peak RSS +%ld KiB (%.1f B/entry), tables %zu KiB (%.1f B/entry)\n", n,
	       r1 - r0, (r1 - r0) * 1024.0 / (double)n, idx_table_bytes(&x) / 1024,
	       (double)idx_table_bytes(&x) / (double)n);
	idx_release(&x);
	return 0;
}
