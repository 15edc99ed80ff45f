/* The blobs waiting for an index file are bounded by count, not only by packs: a volume of
 * small files (thousands of blobs per pack) must not hold every blob of the run in memory
 * until the end. Also: every blob stays findable after the early index files. */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define N_BLOBS  60000
#define BLOB_LEN 64

static size_t count_files(const char *dir, const char *sub)
{
	char path[512];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void blob_of(uint32_t i, uint8_t out[BLOB_LEN])
{
	/* Distinct, incompressible-looking bytes per index (deterministic). */
	uint8_t seed[crypto_stream_chacha20_KEYBYTES] = { 0 }, nonce[8] = { 0 };

	memcpy(nonce, &i, sizeof(i));
	crypto_stream_chacha20(out, BLOB_LEN, nonce, seed);
}

int main(void)
{
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	uint8_t blob[BLOB_LEN], id[ID_BYTES];
	size_t found = 0, failed = 0, before;

	if (rfx_init(&rf, "index-bound") < 0)
		return 1;
	rf.cp.pack_size = 1u << 20; /* ~10 000 blobs per pack: 6 packs, far below 64 */
	ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg);
	for (uint32_t i = 0; i < N_BLOBS; i++) {
		blob_of(i, blob);
		if (repo_blob_save(r, BLOB_DATA, blob, BLOB_LEN, NULL, &e) < 0)
			failed++;
	}
	is_int((int)failed, 0, "60000 small blobs stored");
	before = count_files(rf.dir, "index");
	ok(before >= 1,
	   "an index file is written before the end (%zu): blobs waiting for one "
	   "are bounded by count",
	   before);
	ok(repo_flush(r, &e) == 0, "flush: %s", e.msg);
	ok(count_files(rf.dir, "index") > before, "the rest goes into one more at the flush");
	repo_free(r);
	r = NULL;

	ok(repo_open(&rf.o, &r, &e) == 0, "reopen: %s", e.msg);
	ok(repo_index_load(r, &e) == 0, "load the index: %s", e.msg);
	for (uint32_t i = 0; i < N_BLOBS; i++) {
		blob_of(i, blob);
		key_blob_id(repo_key(r), blob, BLOB_LEN, id);
		found += repo_blob_known(r, BLOB_DATA, id);
	}
	is_int((int)found, N_BLOBS, "every blob is in the index after reopen");
	repo_free(r);
	if (rfx_cleanup(&rf) != 0)
		tap_diag("could not remove %s", rf.dir);
	return tap_done();
}
