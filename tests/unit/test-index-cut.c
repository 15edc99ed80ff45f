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

static void test_cut(void)
{
	struct repo_ix_pack p[3000];

	memset(p, 0, sizeof(p));
	for (size_t i = 0; i < 3000; i++)
		p[i].n_blobs = 1;
	is_int(index_file_cut(p, 3000), IX_PACKS_PER_FILE, "one-blob packs: cut at the pack cap");
	is_int(index_file_cut(p, 5), 5, "a short list goes whole");
	p[0].n_blobs = p[1].n_blobs = p[2].n_blobs = 30000;
	is_int(index_file_cut(p, 3000), 2,
	       "30 000-blob packs: two per file (a third passes 65 536)");
	p[0].n_blobs = 200000;
	is_int(index_file_cut(p, 3000), 1, "a pack over the blob cap goes alone");
	p[0].n_blobs = IX_BLOBS_PER_FILE;
	is_int(index_file_cut(p, 3000), 1, "a pack at exactly the cap fills its file");
	p[0].n_blobs = IX_BLOBS_PER_FILE - 30000;
	is_int(index_file_cut(p, 3000), 2, "packs that reach the cap exactly share a file");
	p[0].n_blobs = SIZE_MAX;
	is_int(index_file_cut(p, 3000), 1, "no wrap-around on absurd counts");
}

int main(void)
{
	char dir[] = "/tmp/cairn-test-ixcut-XXXXXX", path[96], cmd[96];
	struct repo_create_params cp;
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_ix_pack packs[N_PACKS];
	struct tally total = { 0 };
	size_t files = 0, largest = 0;
	struct dirent *de;
	bool walked = true;
	DIR *d;

	test_cut();
	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	o.url = dir;
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
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
	ok(repo_index_write(r, packs, N_PACKS, NULL, 0, &e) == 0, "write the index: %s", e.msg);
	snprintf(path, sizeof(path), "%s/index", dir);
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
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "clean up");
	return tap_done();
}
