/* Maintenance's index files are cut by blobs as well as by packs (repo/index_file.c): a
 * reader holds a whole file twice while opening it, so a repository of small blobs must
 * not end up with one huge index file. */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/admin.h"
#include "repo/repo-internal.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define N_PACKS  5
#define PER_PACK 30000u

struct tally {
	size_t blobs;
	const uint8_t *pack;
	size_t packs;
};

static int tally_one(void *ud, const uint8_t *pack, const struct repo_ix_blob *b)
{
	struct tally *t = ud;

	(void)b;
	t->blobs++;
	if (pack != t->pack) {
		t->packs++;
		t->pack = pack;
	}
	return 0;
}

/* Index files that packs of these blob counts make through the streaming writer. */
static size_t files_for(struct repo *r, const size_t *counts, size_t n)
{
	struct repo_ixw *w = NULL;
	struct repo_ix_blob b = { .stored_len = 100, .raw_len = 100 };
	uint8_t id[ID_BYTES];
	struct err e = ERR_INIT;
	size_t files = 0;
	int rc = repo_ixw_new(r, NULL, 0, &w);

	for (size_t i = 0; rc >= 0 && i < n; i++) {
		randombytes_buf(id, ID_BYTES);
		rc = repo_ixw_pack(w, id, counts[i], &e);
		for (size_t j = 0; rc >= 0 && j < counts[i]; j++) {
			randombytes_buf(b.id, ID_BYTES);
			b.offset = (uint32_t)(j * 100);
			rc = repo_ixw_blob(w, &b, &e);
		}
	}
	if (rc >= 0)
		rc = repo_ixw_finish(w, &files, &e);
	repo_ixw_free(w);
	if (rc < 0)
		tap_diag("writer: %s", e.msg);
	return rc < 0 ? 0 : files;
}

static void test_cut(struct repo *r)
{
	static size_t ones[3000];
	size_t c[3];
	struct repo_ixw *w = NULL;
	struct repo_ix_blob b = { .stored_len = 100 };
	uint8_t id[ID_BYTES] = { 1 };
	struct err e = ERR_INIT;

	for (size_t i = 0; i < 3000; i++)
		ones[i] = 1;
	is_int(files_for(r, ones, 3000), 2, "3 000 one-blob packs: cut at the pack cap");
	is_int(files_for(r, ones, 5), 1, "a short list goes whole");
	is_int(files_for(r, NULL, 0), 1, "no packs: one file, for the supersedes");
	c[0] = c[1] = c[2] = 30000;
	is_int(files_for(r, c, 3), 2, "30 000-blob packs: two per file (a third passes 65 536)");
	c[0] = 200000, c[1] = 1;
	is_int(files_for(r, c, 2), 2, "a pack over the blob cap goes alone");
	c[0] = IX_BLOBS_PER_FILE;
	is_int(files_for(r, c, 2), 2, "a pack at exactly the cap fills its file");
	c[0] = IX_BLOBS_PER_FILE - 30000, c[1] = 30000;
	is_int(files_for(r, c, 2), 1, "packs that reach the cap exactly share a file");
	ok(repo_ixw_new(r, NULL, 0, &w) == 0 && repo_ixw_pack(w, id, 1, &e) == 0 &&
	   repo_ixw_finish(w, NULL, &e) == -EINVAL, "a pack short of its blobs is refused");
	ok(repo_ixw_blob(w, &b, &e) == 0 && repo_ixw_blob(w, &b, &e) == -EINVAL,
	   "a blob past the declared count is refused");
	repo_ixw_free(w);
}

static int write_all(struct repo *r, const struct repo_ix_pack *packs, struct err *e)
{
	struct repo_ixw *w = NULL;
	int rc = repo_ixw_new(r, NULL, 0, &w);

	for (size_t i = 0; rc >= 0 && i < N_PACKS; i++) {
		rc = repo_ixw_pack(w, packs[i].id, packs[i].n_blobs, e);
		for (size_t j = 0; rc >= 0 && j < packs[i].n_blobs; j++)
			rc = repo_ixw_blob(w, &packs[i].blobs[j], e);
	}
	if (rc >= 0)
		rc = repo_ixw_finish(w, NULL, e);
	repo_ixw_free(w);
	return rc;
}

int main(void)
{
	char path[96];
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_ix_pack packs[N_PACKS];
	struct tally total = { 0 };
	size_t files = 0, largest = 0;
	struct dirent *de;
	bool walked = true;
	DIR *d;

	if (rfx_init(&rf, "ixcut") < 0)
		return 1;
	ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg);
	for (size_t i = 0; i < N_PACKS; i++) {
		randombytes_buf(packs[i].id, ID_BYTES);
		packs[i].n_blobs = PER_PACK;
		packs[i].blobs = calloc(PER_PACK, sizeof(*packs[i].blobs));
		if (!packs[i].blobs)
			return 1;
		for (uint32_t j = 0; j < PER_PACK; j++) {
			randombytes_buf(packs[i].blobs[j].id, ID_BYTES);
			packs[i].blobs[j].offset = j * 100;
			packs[i].blobs[j].stored_len = packs[i].blobs[j].raw_len = 100;
		}
	}
	if (r)
		test_cut(r);
	ok(rfx_clear_index(&rf) == 0, "clear the cut tests' files");
	ok(write_all(r, packs, &e) == 0, "write the index: %s", e.msg);
	snprintf(path, sizeof(path), "%s/index", rf.dir);
	d = opendir(path);
	ok(d != NULL, "list index/");
	while (d && (de = readdir(d))) {
		struct tally t = { 0 };

		if (de->d_name[0] == '.')
			continue;
		files++;
		walked = walked && repo_index_walk(r, de->d_name, tally_one, &t, &e) == 0;
		total.blobs += t.blobs;
		total.packs += t.packs;
		if (t.blobs > largest)
			largest = t.blobs;
	}
	if (d)
		closedir(d);
	ok(walked, "every file reads back: %s", e.msg);
	is_int(files, 3, "%d packs of %u blobs make 3 files (2 + 2 + 1 packs)", N_PACKS, PER_PACK);
	ok(largest <= IX_BLOBS_PER_FILE, "no file over %u blobs (largest %zu)", IX_BLOBS_PER_FILE,
	   largest);
	ok(total.blobs == N_PACKS * PER_PACK && total.packs == N_PACKS,
	   "together they list every pack and blob once");
	repo_free(r);
	for (size_t i = 0; i < N_PACKS; i++)
		free(packs[i].blobs);
	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
