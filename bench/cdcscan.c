/* bench/cdcscan.c: CPU time of the chunker's cut-point search alone (no I/O, no hashing),
 * over 256 MiB of random bytes cut with the default parameters, as backup/file.c feeds it:
 * 1 MiB reads, chunker_next resumed after each (or chunker_cut from the chunk start again,
 * with -c, as before the resumable search). Not built by make:
 *   gcc -O2 -I. -o cdcscan bench/cdcscan.c chunker/fastcdc.c chunker/gear.c \
 *       chunker/scan.c -lsodium && ./cdcscan [ROUNDS] [-c]
 * Prints MB/s of input per CPU-second of this thread (best of ROUNDS, default 5), so the
 * load of a shared machine shows less than in wall time. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunker/chunker.h"

#define DATA (256u * 1024 * 1024)
#define STEP (1u * 1024 * 1024)

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Cut the whole input, reading STEP bytes at a time; returns the number of chunks. */
static size_t run(const struct chunker *c, const uint8_t *d, int restart)
{
	struct chunker_scan s = CHUNKER_SCAN_INIT;
	size_t pos = 0, len = 0, chunks = 0;

	while (pos < DATA) {
		int eof = len == DATA;
		size_t cut = restart ? chunker_cut(c, d + pos, len - pos, eof)
		                     : chunker_next(c, &s, d + pos, len - pos, eof);

		if (cut) {
			pos += cut;
			chunks++;
			continue;
		}
		len = len + STEP < DATA ? len + STEP : DATA;
	}
	return chunks;
}

int main(int argc, char **argv)
{
	struct chunker_params p = CHUNKER_PARAMS_DEFAULT;
	int rounds = argc > 1 ? atoi(argv[1]) : 5, restart = argc > 2 && !strcmp(argv[2], "-c");
	uint8_t *d = malloc(DATA), seed[CHUNKER_SEED_BYTES] = { 3 };
	struct chunker c;
	double best = 1e9;
	size_t chunks = 0;

	if (!d || sodium_init() < 0 || chunker_init(&c, &p, seed))
		return 1;
	randombytes_buf_deterministic(d, DATA, (const uint8_t[32]){ 5 });
	for (int i = 0; i < rounds; i++) {
		double t0 = cpu_now(), t;

		chunks = run(&c, d, restart);
		t = cpu_now() - t0;
		best = t < best ? t : best;
	}
	printf("%s: %zu chunks, best %.3f CPU-s, %.0f MB/s of input\n",
	       restart ? "chunker_cut from the chunk start" : "chunker_next resumed", chunks, best,
	       DATA / best / 1e6);
	free(d);
	return 0;
}
