/* Replay driver for `make check`: runs each corpus file through the target, then a fixed
 * number of deterministic mutations of each (bit flips, truncations, insertions), so the
 * parsers meet hostile input on every build, sanitizers included. Prints TAP. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "util/buf.h"
#include "util/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
		LLVMFuzzerTestOneInput(m, len);
	}
	free(m);
}

int main(int argc, char **argv)
{
	struct dirent *de;
	DIR *d;
	int files = 0;

	if (argc < 2 || !(d = opendir(argv[1]))) {
		ok(0, "corpus folder %s", argc > 1 ? argv[1] : "(none)");
		return tap_done();
	}
	while ((de = readdir(d))) {
		struct buf b = BUF_INIT;
		char path[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		buf_init(&b, 1u << 20);
		if (read_file_at(-100, path, &b) < 0) {
			ok(0, "read %s", path);
			continue;
		}
		LLVMFuzzerTestOneInput(b.p, b.len);
		mutate_and_run(b.p, b.len);
		ok(1, "%s and %d mutations ran without a crash", de->d_name, MUTATIONS);
		files++;
		buf_release(&b);
	}
	closedir(d);
	ok(files > 0, "corpus has %d seeds", files);
	return tap_done();
}
