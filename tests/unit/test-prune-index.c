/* Prune releases the loaded index before its sweep (maint/prune.c, repo_index_drop): the
 * repack's new packs do not enter it (at a million tiny blobs they re-laid every shard,
 * 34 MB of prune's 70 MiB peak), and the handle that pruned finds no blob the prune
 * deleted, before or after a reload (the old in-memory index kept them, so a backup
 * through that handle, the controller's, would have taken them for stored). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/maint.h"
#include "repo/admin.h"
#include "repo/repo-internal.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define N_UNUSED 200u
#define BLOB_LEN 64u

static void blob_of(uint32_t i, uint8_t out[BLOB_LEN])
{
	uint8_t seed[crypto_stream_chacha20_KEYBYTES] = { 1 }, nonce[8] = { 0 };

	memcpy(nonce, &i, sizeof(i));
	crypto_stream_chacha20(out, BLOB_LEN, nonce, seed);
}

/* A snapshot whose root holds one file of the blob kept. */
static int snapshot_of(struct repo *r, const uint8_t kept[ID_BYTES], struct err *e)
{
	struct node f = { .type = NODE_FILE, .mode = 0100644, .name = "f", .name_len = 1 };
	struct extent fx = { .len = BLOB_LEN }, rx = { .len = 1 };
	struct snapshot s = {
		.time_sec = 1, .hostname = "h", .username = "u", .program_version = "t"
	};
	struct buf root = BUF_INIT;
	int rc;

	buf_init(&root, 1 << 20);
	memcpy(fx.id, kept, ID_BYTES);
	f.content = &fx;
	f.n_content = 1;
	f.size = BLOB_LEN;
	rc = tree_encode_header(&root);
	if (rc >= 0)
		rc = tree_encode_node(&root, &f);
	if (rc >= 0)
		rc = repo_blob_save(r, BLOB_TREE, root.p, root.len, rx.id, e);
	s.tree = &rx;
	s.n_tree = 1;
	if (rc >= 0)
		rc = repo_flush(r, e);
	if (rc >= 0)
		rc = repo_snapshot_save(r, &s, e);
	buf_release(&root);
	return rc < 0 ? rc : 0;
}

int main(void)
{
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	struct repo_prune_opts po = { .max_unused_pct = 0 };
	struct repo_prune_result pr;
	uint8_t blob[BLOB_LEN], kept[ID_BYTES], unused[N_UNUSED][ID_BYTES];
	struct buf got = BUF_INIT;
	size_t failed = 0, known = 0;

	if (rfx_init(&rf, "prune-index") < 0)
		return 1;
	buf_init(&got, REPO_BLOB_MAX);
	if (!ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg))
		return tap_done();
	blob_of(0, blob);
	ok(repo_blob_save(r, BLOB_DATA, blob, BLOB_LEN, kept, &e) > 0, "the kept blob");
	for (uint32_t i = 0; i < N_UNUSED; i++) {
		blob_of(i + 1, blob);
		if (repo_blob_save(r, BLOB_DATA, blob, BLOB_LEN, unused[i], &e) <= 0)
			failed++;
		/* The kept blob's pack mostly unused (repacked), the next one wholly (deleted). */
		if (i == N_UNUSED / 2 && repo_flush(r, &e) < 0)
			failed++;
	}
	is_int((int)failed, 0, "%u blobs no snapshot reaches", N_UNUSED);
	ok(snapshot_of(r, kept, &e) == 0, "a snapshot of the kept blob: %s", e.msg);
	repo_free(r);
	r = NULL;

	ok(repo_open(&rf.o, &r, &e) == 0 && repo_index_load(r, &e) == 0, "reopen: %s", e.msg);
	ok(repo_blob_known(r, BLOB_DATA, unused[0]), "(an unused blob is indexed before)");
	ok(repo_lock(r, REPO_LOCK_EXCLUSIVE, &l, &e) == 0 && repo_prune(r, l, &po, &pr, &e) == 0,
	   "prune: %s", e.msg);
	repo_unlock(l);
	ok(pr.blobs_repacked >= 1 && pr.packs_deleted >= 1,
	   "it repacked (%llu blobs) and deleted (%llu packs)",
	   (unsigned long long)pr.blobs_repacked, (unsigned long long)pr.packs_deleted);
	/* The bound: nothing of the old index stays, and the new packs did not enter it. */
	is_int((int)r->idx.n, 0, "the index prune leaves holds no entry (repacked or old)");
	is_int((int)r->idx.n_packs, 0, "nor any pack");
	for (uint32_t i = 0; i < N_UNUSED; i++)
		known += repo_blob_known(r, BLOB_DATA, unused[i]);
	is_int((int)known, 0, "the pruning handle finds no deleted blob");
	ok(repo_index_reload(r, &e) >= 0, "reload: %s", e.msg);
	known = 0;
	for (uint32_t i = 0; i < N_UNUSED; i++)
		known += repo_blob_known(r, BLOB_DATA, unused[i]);
	is_int((int)known, 0, "nor after a reload (the controller's, after its prune)");
	ok(repo_blob_known(r, BLOB_DATA, kept), "the kept blob is indexed after the reload");
	ok(repo_blob_get(r, BLOB_DATA, kept, &got, &e) == 0 && got.len == BLOB_LEN,
	   "and reads back from its new pack: %s", e.msg);
	repo_free(r);
	buf_release(&got);
	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
