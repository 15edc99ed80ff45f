/* The fetch plan cuts a pack's blobs into runs by their plaintext too: a pack of text
 * decompresses to several times its size, and one worker opening all of it left the other
 * cores idle at the end of a restore. One 80 MiB file of text in one 32 MiB pack (about a
 * tenth of that stored) must come back whole in at least three reads, where a plan that
 * looked at stored bytes only made one.
 *
 * From a local folder runs are also cut at 4 MiB of pack: a read there is a system call
 * however short, and longer runs only grew the workers' run buffers (62 MiB of first-touch
 * page faults in a 1 GiB restore). 16 MiB of random bytes in one pack must come back in at
 * least four reads, where the S3-sized cap of 20 MiB read it in one. */
#include <fcntl.h>

#include "tests/tap.h"
#include "tests/unit/test-restore-fixture.h"

#define TEXT_BYTES (80u << 20)
#define RANDOM_BYTES (16u << 20)

/* Bytes zstd cannot shrink: each stays its own size in the pack. */
static int write_random(const char *path)
{
	static uint8_t blk[1u << 20];
	FILE *fp = fopen(path, "w");
	size_t n = 0;

	if (!fp)
		return -1;
	for (; n < RANDOM_BYTES; n += sizeof(blk)) {
		randombytes_buf(blk, sizeof(blk));
		if (fwrite(blk, 1, sizeof(blk), fp) != sizeof(blk))
			break;
	}
	return fclose(fp) == 0 && n >= RANDOM_BYTES ? 0 : -1;
}

/* One file of random bytes in one 32 MiB pack, restored from the local folder. */
static void local_runs(void)
{
	struct restore_result res = { 0 };
	struct fx_warns w = { 0 };
	struct err e = ERR_INIT;
	char src[192], out[192], target[128], cmd[512];
	struct fx f;
	int rc;

	if (fx_init(&f) < 0) {
		ok(0, "scratch folder");
		return;
	}
	snprintf(src, sizeof(src), "%s/random", f.src);
	ok(write_random(src) == 0, "16 MiB of random bytes in the source");
	ok(fx_backup_packs(&f, 32u << 20, &e) == 0, "backup into 32 MiB packs: %s", e.msg);
	snprintf(target, sizeof(target), "%s/target", f.dir);
	{
		struct restore_opts o = { .snapshot = "latest",
			                  .target = target,
			                  .threads = 2,
			                  .warn = fx_warn,
			                  .ud = &w };

		rc = fx_restore(&f, &o, &res, &e);
	}
	is_int(rc, 0, "restore: %s", e.msg);
	ok(w.n == 0, "no warnings (%zu)", w.n);
	ok(res.runs >= 4, "16 MiB of one pack is read from a local folder in %llu runs (at least 4)",
	   (unsigned long long)res.runs);
	snprintf(out, sizeof(out), "%s/src/random", target);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", src, out);
	ok(system(cmd) == 0, "the restored file is identical");
	fx_cleanup(&f);
}

/* Lines that compress well but never repeat a chunk (each carries its number). */
static int write_text(const char *path)
{
	char line[64];
	FILE *fp = fopen(path, "w");
	size_t n = 0;

	if (!fp)
		return -1;
	for (unsigned i = 0; n < TEXT_BYTES; i++) {
		int l = snprintf(line, sizeof(line), "%010u the quick brown fox jumps\n", i);

		if (l < 0 || fwrite(line, 1, (size_t)l, fp) != (size_t)l)
			break;
		n += (size_t)l;
	}
	return fclose(fp) == 0 && n >= TEXT_BYTES ? 0 : -1;
}

int main(void)
{
	struct restore_result res = { 0 };
	struct fx_warns w = { 0 };
	struct err e = ERR_INIT;
	char src[192], out[192], target[128], cmd[512];
	struct fx f;
	int rc;

	if (fx_init(&f) < 0)
		return 1;
	snprintf(src, sizeof(src), "%s/text", f.src);
	ok(write_text(src) == 0, "80 MiB of text in the source");
	ok(fx_backup_packs(&f, 32u << 20, &e) == 0, "backup into 32 MiB packs: %s", e.msg);
	snprintf(target, sizeof(target), "%s/target", f.dir);
	{
		struct restore_opts o = { .snapshot = "latest",
			                  .target = target,
			                  .threads = 2,
			                  .warn = fx_warn,
			                  .ud = &w };

		rc = fx_restore(&f, &o, &res, &e);
	}
	is_int(rc, 0, "restore: %s", e.msg);
	ok(w.n == 0, "no warnings (%zu)", w.n);
	ok(res.runs >= 3, "80 MiB of plaintext from one pack is read in %llu runs (at least 3)",
	   (unsigned long long)res.runs);
	snprintf(out, sizeof(out), "%s/src/text", target);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", src, out);
	ok(system(cmd) == 0, "the restored file is identical");
	fx_cleanup(&f);
	local_runs();
	return tap_done();
}
