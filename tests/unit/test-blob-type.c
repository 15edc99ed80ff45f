/* Blobs are (type, id): a file whose bytes equal a tree segment has that segment's id, and
 * storing the file first must not stop the tree from being stored, indexed, kept by prune
 * and read back. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/maint.h"
#include "repo/repo.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

static void on_problem(void *ud, const char *msg)
{
	printf("# check: %s\n", msg);
}

int main(void)
{
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct buf seg = BUF_INIT, root = BUF_INIT, got = BUF_INIT;
	uint8_t id_data[ID_BYTES], id_tree[ID_BYTES], id_root[ID_BYTES];
	struct node leaf = { .type = NODE_FILE, .mode = 0100644, .name = "leaf", .name_len = 4 };
	struct node d = { .type = NODE_DIR, .mode = 040755, .name = "d", .name_len = 1 };
	struct node f = { .type = NODE_FILE, .mode = 0100644, .name = "f", .name_len = 1 };
	struct extent dx = { .len = 1 }, fx = { 0 }, rx = { .len = 2 };
	struct snapshot s = {
		.time_sec = 1, .hostname = "h", .username = "u", .program_version = "t"
	};
	struct repo_lock *l = NULL;
	struct repo_prune_opts po = { .max_unused_pct = 0 };
	struct repo_prune_result pr;
	struct repo_check_opts co = { .read_data = true };
	struct repo_check_result cr;
	struct blob_loc loc;

	if (rfx_init(&rf, "btype") < 0)
		return 1;
	buf_init(&seg, 1 << 20);
	buf_init(&root, 1 << 20);
	buf_init(&got, REPO_BLOB_MAX);
	ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg);
	/* The segment of folder d, and a file f holding exactly those bytes. */
	ok(tree_encode_header(&seg) == 0 && tree_encode_node(&seg, &leaf) == 0, "a tree segment");
	ok(repo_blob_save(r, BLOB_DATA, seg.p, seg.len, id_data, &e) > 0,
	   "the file (same bytes) is stored first");
	ok(repo_blob_save(r, BLOB_TREE, seg.p, seg.len, id_tree, &e) > 0,
	   "the tree segment is stored too, though its id is known as data");
	ok(!memcmp(id_data, id_tree, ID_BYTES), "(same id)");
	memcpy(dx.id, id_tree, ID_BYTES);
	memcpy(fx.id, id_data, ID_BYTES);
	fx.len = seg.len;
	d.content = &dx;
	d.n_content = 1;
	f.content = &fx;
	f.n_content = 1;
	f.size = seg.len;
	ok(tree_encode_header(&root) == 0 && tree_encode_node(&root, &d) == 0 &&
	       tree_encode_node(&root, &f) == 0 &&
	       repo_blob_save(r, BLOB_TREE, root.p, root.len, id_root, &e) >= 0,
	   "a root holding both");
	memcpy(rx.id, id_root, ID_BYTES);
	s.tree = &rx;
	s.n_tree = 1;
	ok(repo_flush(r, &e) == 0 && repo_snapshot_save(r, &s, &e) == 0, "snapshot: %s", e.msg);
	repo_free(r);
	r = NULL;

	ok(repo_open(&rf.o, &r, &e) == 0 && repo_index_load(r, &e) == 0, "reopen: %s", e.msg);
	ok(repo_blob_lookup(r, BLOB_TREE, id_tree, &loc) == 0, "the tree is indexed");
	ok(repo_blob_lookup(r, BLOB_DATA, id_data, &loc) == 0, "the data blob is indexed");
	ok(repo_lock(r, REPO_LOCK_EXCLUSIVE, &l, &e) == 0 && repo_prune(r, l, &po, &pr, &e) == 0,
	   "prune: %s", e.msg);
	repo_unlock(l);
	repo_free(r);
	r = NULL;
	ok(repo_open(&rf.o, &r, &e) == 0, "reopen after prune: %s", e.msg);
	ok(repo_blob_get(r, BLOB_TREE, id_tree, &got, &e) == 0 && got.len == seg.len,
	   "the tree reads back after prune: %s", e.msg);
	buf_reset(&got);
	ok(repo_blob_get(r, BLOB_DATA, id_data, &got, &e) == 0 && got.len == seg.len,
	   "the data blob reads back after prune: %s", e.msg);
	ok(repo_check(r, &co, on_problem, NULL, &cr, &e) == 0 && cr.problems == 0,
	   "check --read-data finds nothing wrong");
	repo_free(r);
	buf_release(&seg);
	buf_release(&root);
	buf_release(&got);
	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
