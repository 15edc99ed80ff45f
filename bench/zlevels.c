/* zlevels: what each zstd level stores and costs on a set of files, cut into chunks as a
 * backup cuts them (1 MiB, the chunker's average; a smaller file is one chunk), with and
 * without the compressibility probe of repo/blob.c (a 64 KiB sample from the middle of a
 * chunk of at least 256 KiB at level 1; under 3 % saved: the chunk is stored raw). A chunk
 * is stored compressed only when that saves more than 16 bytes, as repo_blob_put does.
 *   cc -O2 -o zlevels bench/zlevels.c -lzstd
 *   find DIR -type f | ./zlevels LABEL [MAX_MIB] [LEVEL...]
 * Prints one line per level and probe setting: bytes in, bytes stored, ratio, CPU seconds
 * (process CPU time: fair on a busy machine) and MB/s of input per CPU second. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define CHUNK (1u << 20)
#define PROBE (64u * 1024)

static double cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int compressible(ZSTD_CCtx *c, const uint8_t *p, size_t n, int level)
{
	static uint8_t out[ZSTD_COMPRESSBOUND(PROBE)];
	size_t got;

	if (n < 4 * PROBE)
		return 1;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	got = ZSTD_compress2(c, out, sizeof(out), p + n / 2 - PROBE / 2, PROBE);
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	return !ZSTD_isError(got) && got < PROBE - PROBE / 32;
}

int main(int argc, char **argv)
{
	const char *label = argc > 1 ? argv[1] : "data";
	size_t max = (argc > 2 ? strtoull(argv[2], NULL, 10) : 256) << 20, len = 0, cap = 0;
	int def[] = { -5, -1, 1, 3, 6, 19 }, levels[32], nl = 0;
	uint8_t *data = NULL, *out = malloc(ZSTD_compressBound(CHUNK));
	size_t *cuts = NULL, ncut = 0, capcut = 0;
	char path[4096];
	ZSTD_CCtx *c = ZSTD_createCCtx();

	for (int i = 3; i < argc && nl < 32; i++)
		levels[nl++] = atoi(argv[i]);
	if (!nl)
		for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			levels[nl++] = def[i];
	/* Read the files up to max bytes; remember where each chunk ends. */
	while (len < max && fgets(path, sizeof(path), stdin)) {
		FILE *f;
		size_t k, start = len;

		path[strcspn(path, "\n")] = 0;
		if (!(f = fopen(path, "rb")))
			continue;
		for (;;) {
			if (cap - len < CHUNK) {
				cap = cap ? 2 * cap : 64u << 20;
				data = realloc(data, cap);
			}
			k = fread(data + len, 1, CHUNK, f);
			if (!k)
				break;
			len += k;
			if (len >= max)
				break;
		}
		fclose(f);
		for (size_t a = start; a < len; a += CHUNK) {
			if (ncut == capcut) {
				capcut = capcut ? 2 * capcut : 4096;
				cuts = realloc(cuts, capcut * sizeof(*cuts));
			}
			cuts[ncut++] = a + CHUNK < len ? a + CHUNK : len;
		}
	}
	for (int probe = 0; probe < 2; probe++)
		for (int l = 0; l < nl; l++) {
			uint64_t stored = 0;
			double t0 = cpu(), t;
			size_t a = 0;

			ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
			ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, levels[l]);
			for (size_t i = 0; i < ncut; a = cuts[i++]) {
				size_t n = cuts[i] - a, got = n;

				if (!probe || compressible(c, data + a, n, levels[l]))
					got = ZSTD_compress2(c, out, ZSTD_compressBound(CHUNK),
							     data + a, n);
				stored += !ZSTD_isError(got) && got + 16 < n ? got : n;
			}
			t = cpu() - t0;
			printf("%-10s level %3d probe %-3s in %11zu stored %11llu ratio %6.3f cpu %7.2f s "
			       "%7.1f MB/s\n",
			       label, levels[l], probe ? "yes" : "no", len,
			       (unsigned long long)stored, (double)len / (double)stored, t,
			       len / 1e6 / (t > 0 ? t : 1e-9));
			fflush(stdout);
		}
	ZSTD_freeCCtx(c);
	free(data);
	free(out);
	free(cuts);
	return 0;
}
