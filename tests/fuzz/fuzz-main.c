/* Replay driver for `make check`: every corpus file is a valid input and must decode
 * (fuzz_decode returns 1), then a fixed number of deterministic mutations of each (bit
 * flips, truncations, byte changes, insertions) must not crash, so the parsers meet
 * hostile input on every build, sanitizers included. Prints TAP. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/tap.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define MUTATIONS 300

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mutate_and_run(const uint8_t *p, size_t n)
{
	uint8_t *m = malloc(n + 16);

	for (int i = 0; m && i < MUTATIONS; i++) {
		size_t len = n;

		memcpy(m, p, n);
		switch (next() % 4) {
		case 0:
			if (len)
				m[next() % len] ^= (uint8_t)(1u << (next() % 8));
			break;
		case 1:
			len = len ? next() % len : 0;
			break;
		case 2:
			if (len)
				m[next() % len] = (uint8_t)next();
			break;
		default:
			for (int k = 0; k < 8; k++)
				m[len++] = (uint8_t)next();
			break;
		}
		(void)fuzz_decode(m, len);
	}
	free(m);
}

/* The corpus: argv[1], else $TOP_SRCDIR/tests/fuzz/corpus/<name> for a program named
 * fuzz-<name> (how `make check` runs it). */
static int corpus_dir(int argc, char **argv, char *out, size_t n)
{
	const char *top = getenv("TOP_SRCDIR"), *base = strrchr(argv[0], '/');

	if (argc > 1)
		return snprintf(out, n, "%s", argv[1]) < (int)n ? 0 : -1;
	base = base ? base + 1 : argv[0];
	if (!top || strncmp(base, "fuzz-", 5) != 0)
		return -1;
	return snprintf(out, n, "%s/tests/fuzz/corpus/%s", top, base + 5) < (int)n ? 0 : -1;
}

int main(int argc, char **argv)
{
	char dir[4096];
	struct dirent *de;
	DIR *d = NULL;
	int files = 0;

	if (corpus_dir(argc, argv, dir, sizeof(dir)) < 0 || !(d = opendir(dir))) {
		ok(0, "corpus folder %s", argc > 1 ? argv[1] : "(TOP_SRCDIR unset?)");
		return tap_done();
	}
	while ((de = readdir(d))) {
		struct buf b = BUF_INIT;
		char path[8192];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf_init(&b, 1u << 20);
		if (read_file_at(-100, path, &b) < 0) {
			ok(0, "read %s", path);
			continue;
		}
		ok(fuzz_decode(b.p, b.len) == 1, "seed %s decodes", de->d_name);
		mutate_and_run(b.p, b.len);
		ok(1, "%s and %d mutations ran without a crash", de->d_name, MUTATIONS);
		files++;
		buf_release(&b);
	}
	closedir(d);
	ok(files > 0, "corpus has %d seeds", files);
	return tap_done();
}
