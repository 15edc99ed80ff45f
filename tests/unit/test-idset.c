/* The sets check and prune mark blobs in: the id hash set (exact for any ids) and the
 * blob set (a bit per indexed blob, the id set for the rest). Many random ids, exact
 * membership both ways, (type, id) kept apart, and the bytes each holds by its own
 * accounting: a bit or two per indexed blob, not a copy of its id. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/maint.h"
#include "repo/repo.h"
#include "tests/tap.h"

#define N_IDS    100000
#define N_BLOBS  20000
#define N_TREES  200
#define N_ABSENT 5000

static uint8_t (*ids)[ID_BYTES], (*absent)[ID_BYTES];
static uint8_t blob_ids[N_BLOBS][ID_BYTES], tree_ids[N_TREES][ID_BYTES];

static void idset_random(void)
{
	struct repo_idset s = { 0 };
	size_t added = 0, dup = 0, missing = 0, wrong = 0;

	for (size_t i = 0; i < N_IDS; i++) {
		randombytes_buf(ids[i], ID_BYTES);
		randombytes_buf(absent[i], ID_BYTES);
	}
	for (size_t i = 0; i < N_IDS; i++)
		added += repo_idset_add(&s, ids[i]) == 1;
	for (size_t i = 0; i < N_IDS; i++)
		dup += repo_idset_add(&s, ids[i]) == 0;
	for (size_t i = 0; i < N_IDS; i++) {
		missing += !repo_idset_has(&s, ids[i]);
		wrong += repo_idset_has(&s, absent[i]);
	}
	is_int(added, N_IDS, "id set: %d random ids added", N_IDS);
	is_int(dup, N_IDS, "id set: adding again reports present");
	is_int(missing, 0, "id set: no false negatives");
	is_int(wrong, 0, "id set: no false positives");
	ok(repo_idset_bytes(&s) <= (size_t)N_IDS * 128, "id set: %zu bytes for %d ids",
	   repo_idset_bytes(&s), N_IDS);
	repo_idset_release(&s);
	is_int(repo_idset_bytes(&s), 0, "id set: released");
}

static void blobset_random(struct repo *r)
{
	struct repo_blobset s = { 0 };
	size_t added = 0, dup = 0, missing = 0, wrong = 0, spill_added = 0, spill_bad = 0;
	size_t bits_bytes, spill_bytes;
	int rc;

	rc = repo_blobset_init(&s, r);
	is_int(rc, 0, "blob set: init over %d indexed blobs", N_BLOBS + N_TREES);
	/* Every even data blob, the first half of the trees (same ids as data blobs 0..199). */
	for (size_t i = 0; i < N_BLOBS; i += 2)
		added += repo_blobset_add(&s, BLOB_DATA, blob_ids[i]) == 1;
	for (size_t i = 0; i < N_TREES / 2; i++)
		added += repo_blobset_add(&s, BLOB_TREE, tree_ids[i]) == 1;
	is_int(added, N_BLOBS / 2 + N_TREES / 2, "blob set: each indexed blob added once");
	for (size_t i = 0; i < N_BLOBS; i += 2)
		dup += repo_blobset_add(&s, BLOB_DATA, blob_ids[i]) == 0;
	is_int(dup, N_BLOBS / 2, "blob set: adding again reports present");
	for (size_t i = 0; i < N_BLOBS; i++) {
		bool has = repo_blobset_has(&s, BLOB_DATA, blob_ids[i]);

		missing += i % 2 == 0 && !has;
		wrong += i % 2 == 1 && has;
	}
	for (size_t i = 0; i < N_TREES; i++) {
		bool has = repo_blobset_has(&s, BLOB_TREE, tree_ids[i]);

		missing += i < N_TREES / 2 && !has;
		wrong += i >= N_TREES / 2 && has;
	}
	is_int(missing, 0, "blob set: no false negatives among indexed blobs");
	is_int(wrong, 0, "blob set: no false positives among indexed blobs");
	ok(repo_blobset_has(&s, BLOB_DATA, tree_ids[0]) &&
	       repo_blobset_has(&s, BLOB_TREE, tree_ids[0]) &&
	       !repo_blobset_has(&s, BLOB_TREE, blob_ids[N_TREES + 2]),
	   "blob set: a data blob and a tree with one id are two members");
	bits_bytes = repo_blobset_bytes(&s);
	/* Ids the index does not hold (a snapshot's missing blobs) are kept exactly too. */
	for (size_t i = 0; i < N_ABSENT; i += 2)
		spill_added += repo_blobset_add(&s, BLOB_DATA, absent[i]) == 1;
	for (size_t i = 0; i < N_ABSENT; i++)
		spill_bad += repo_blobset_has(&s, BLOB_DATA, absent[i]) != (i % 2 == 0) ||
		             repo_blobset_has(&s, BLOB_TREE, absent[i]);
	is_int(spill_added, N_ABSENT / 2, "blob set: unindexed ids added");
	is_int(spill_bad, 0, "blob set: unindexed ids exact both ways, kept per type");
	spill_bytes = repo_blobset_bytes(&s) - bits_bytes;
	/* The bitmap: one bit per place in the index (its tables' slack included), plus
	 * the per-shard prefix sums. */
	ok(bits_bytes <= (size_t)(N_BLOBS + N_TREES) / 4 + repo_blob_ranks_bytes() + 64,
	   "blob set: %zu bytes for %d indexed blobs (a copy of their ids: %d)", bits_bytes,
	   N_BLOBS + N_TREES, (N_BLOBS + N_TREES) * ID_BYTES);
	ok(spill_bytes <= (size_t)N_ABSENT / 2 * 128 + 1024 * ID_BYTES,
	   "blob set: %zu bytes for %d unindexed ids", spill_bytes, N_ABSENT / 2);
	/* One lookup serves two sets over the same index (prune's used and claimed). */
	{
		struct repo_blobset t = { 0 };
		size_t bad = 0;

		is_int(repo_blobset_init(&t, r), 0, "blob set: a second set");
		for (size_t i = 0; i < N_BLOBS; i++) {
			struct repo_blobkey k;

			repo_blobset_key(&s, BLOB_DATA, blob_ids[i], &k);
			bad += repo_blobset_has_key(&s, &k) != (i % 2 == 0);
			if (i % 3 == 0)
				bad += repo_blobset_add_key(&t, &k) != 1;
		}
		for (size_t i = 0; i < N_ABSENT; i++) {
			struct repo_blobkey k;

			repo_blobset_key(&s, BLOB_DATA, absent[i], &k);
			if (i % 3 == 0)
				bad += repo_blobset_add_key(&t, &k) != 1;
		}
		for (size_t i = 0; i < N_BLOBS; i++)
			bad += repo_blobset_has(&t, BLOB_DATA, blob_ids[i]) != (i % 3 == 0);
		for (size_t i = 0; i < N_ABSENT; i++)
			bad += repo_blobset_has(&t, BLOB_DATA, absent[i]) != (i % 3 == 0);
		is_int(bad, 0, "blob set: keys from one set serve another, indexed or not");
		repo_blobset_release(&t);
	}
	repo_blobset_release(&s);
	is_int(repo_blobset_bytes(&s), 0, "blob set: released");
	repo_blobset_release(&s); /* twice is harmless */
}

int main(void)
{
	char dir[] = "/tmp/cairn-test-idset-XXXXXX";
	struct repo_create_params cp;
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	size_t failed = 0;
	char cmd[128];

	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	ids = calloc(N_IDS, ID_BYTES);
	absent = calloc(N_IDS, ID_BYTES);
	if (!ids || !absent)
		return 1;
	idset_random();

	o.url = dir;
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
	for (size_t i = 0; r && i < N_BLOBS; i++) {
		uint8_t b[24];

		randombytes_buf(b, sizeof(b));
		failed += repo_blob_save(r, BLOB_DATA, b, sizeof(b), blob_ids[i], &e) < 0;
		/* The same bytes as a tree: the same id, another blob. */
		if (i < N_TREES)
			failed += repo_blob_save(r, BLOB_TREE, b, sizeof(b), tree_ids[i], &e) < 0;
	}
	is_int(failed, 0, "%d data blobs and %d trees stored", N_BLOBS, N_TREES);
	ok(r && repo_flush(r, &e) == 0, "flush: %s", e.msg);
	ok(!memcmp(blob_ids[0], tree_ids[0], ID_BYTES), "a tree and a data blob share an id");
	if (r)
		blobset_random(r);
	repo_free(r);
	free(ids);
	free(absent);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
