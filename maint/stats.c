/* Owns snapshot tree walking (depth first, with an optional reachability mark that skips
 * subtrees seen before) and the statistics built on it (restore size, raw data). */
#include "maint/maint-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

#define WALK_PATH_MAX 16384

void walk_stack_free(struct walk_frame *st, size_t depth)
{
	while (depth) {
		struct walk_frame *f = &st[--depth];

		if (f->open)
			tree_iter_release(&f->it);
		free(f->segs);
	}
	free(st);
}

int walk_push(struct walk_frame **st, size_t *depth, size_t *cap, const struct extent *segs,
	      size_t n, size_t saved)
{
	struct walk_frame *f;

	if (*depth == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		void *p = reallocarray(*st, nc, sizeof(**st));

		if (!p)
			return -ENOMEM;
		*st = p;
		*cap = nc;
	}
	f = &(*st)[*depth];
	memset(f, 0, sizeof(*f));
	f->segs = malloc((n ? n : 1) * sizeof(*segs));
	if (!f->segs)
		return -ENOMEM;
	if (n)
		memcpy(f->segs, segs, n * sizeof(*segs));
	f->n = n;
	f->saved = saved;
	(*depth)++;
	return 0;
}

/* Depth first with an explicit stack on the heap (no depth limit, no C-stack frame per
 * level: pods nest folders thousands deep). */
int repo_walk(struct repo *r, const struct extent *segs, size_t n, struct repo_blobset *seen,
	      repo_walk_fn fn, void *ud, struct err *e)
{
	struct walk_frame *st = NULL;
	size_t depth = 0, cap = 0;
	char *path = malloc(WALK_PATH_MAX);
	int rc;

	if (!path)
		return err_set(e, -ENOMEM, "out of memory");
	path[0] = 0;
	rc = walk_push(&st, &depth, &cap, segs, n, 0);
	while (rc >= 0 && depth) {
		struct walk_frame *f = &st[depth - 1];
		struct node node;
		int k;

		path[f->saved] = 0;
		if (!f->open) {
			const struct extent *seg;

			if (f->next >= f->n) {
				free(f->segs);
				depth--;
				continue;
			}
			seg = &f->segs[f->next++];
			if (seen) {
				rc = repo_blobset_add(seen, BLOB_TREE, seg->id);
				if (rc <= 0)
					continue; /* the same segment means the same subtree: done */
				rc = 0;
			}
			tree_iter_init_root(&f->it, r, seg, 1);
			f->open = true;
		}
		rc = tree_iter_next(&f->it, &node, e);
		if (rc <= 0) {
			tree_iter_release(&f->it);
			f->open = false;
			continue;
		}
		k = snprintf(path + f->saved, WALK_PATH_MAX - f->saved, "/%.*s", (int)node.name_len,
			     node.name);
		if (k < 0 || (size_t)k >= WALK_PATH_MAX - f->saved) {
			path[f->saved] = 0;
			rc = err_set(e, -ENAMETOOLONG, "path too long below %.200s", path);
		}
		if (rc >= 0)
			rc = fn(ud, path, &node);
		if (rc >= 0 && node.type == NODE_DIR)
			rc = walk_push(&st, &depth, &cap, node.content, node.n_content, strlen(path));
		if (rc == -ENOMEM && !e->code)
			err_set(e, rc, "out of memory");
		node_release(&node);
	}
	walk_stack_free(st, depth);
	free(path);
	return rc < 0 ? rc : 0;
}

struct stats_ctx {
	struct repo *r;
	enum repo_stats_mode mode;
	struct repo_stats *st;
	struct repo_blobset blobs; /* a blob is (type, id) */
};

static int count_blob(struct stats_ctx *c, enum blob_type t, const uint8_t id[ID_BYTES])
{
	struct blob_loc loc;
	int rc = repo_blobset_add(&c->blobs, t, id);

	if (rc <= 0)
		return rc;
	c->st->blobs++;
	if (repo_blob_lookup(c->r, t, id, &loc) == 0) {
		c->st->raw_bytes += loc.raw_len;
		c->st->stored_bytes += loc.stored_len;
	}
	return 0;
}

static int stats_node(void *ud, const char *path, const struct node *n)
{
	struct stats_ctx *c = ud;
	int rc = 0;

	(void)path;
	if (n->type == NODE_FILE)
		c->st->files++;
	else if (n->type == NODE_DIR)
		c->st->dirs++;
	else
		c->st->others++;
	if (n->type == NODE_FILE)
		c->st->bytes = ckd_sat_add_i64max(c->st->bytes, n->size);
	if (c->mode != REPO_STATS_RAW_DATA)
		return 0;
	for (size_t i = 0; rc >= 0 && i < n->n_content; i++) {
		if (n->type == NODE_FILE && !n->content[i].hole)
			rc = count_blob(c, BLOB_DATA, n->content[i].id);
		else if (n->type == NODE_DIR)
			rc = count_blob(c, BLOB_TREE, n->content[i].id);
	}
	return rc;
}

static int stats_pack(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct repo_stats *st = ud;

	(void)pack;
	st->packs++;
	st->pack_bytes += size;
	return 0;
}

int repo_stats_compute(struct repo *r, enum repo_stats_mode m, const struct snapshot *snaps,
		       size_t n, struct repo_stats *ret, struct err *e)
{
	struct repo_stats st = { 0 };
	struct stats_ctx c = { .r = r, .mode = m, .st = &st };
	struct repo_blobset trees = { 0 };
	int rc;

	rc = repo_index_load(r, e);
	if (rc >= 0 && m == REPO_STATS_RAW_DATA &&
	    (repo_blobset_init(&trees, r) < 0 || repo_blobset_init(&c.blobs, r) < 0))
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		st.snapshots++;
		for (size_t k = 0; rc >= 0 && m == REPO_STATS_RAW_DATA && k < snaps[i].n_tree; k++)
			rc = count_blob(&c, BLOB_TREE, snaps[i].tree[k].id);
		/* Raw data counts each blob once across snapshots, so shared subtrees are
		 * skipped; restore size counts every snapshot in full. */
		if (rc >= 0)
			rc = repo_walk(r, snaps[i].tree, snaps[i].n_tree,
				       m == REPO_STATS_RAW_DATA ? &trees : NULL, stats_node, &c, e);
		if (rc < 0)
			goto fail;
	}
	rc = repo_pack_list(r, stats_pack, &st, e);
	if (rc < 0)
		goto fail;
	*ret = st;
fail:
	repo_blobset_release(&trees);
	repo_blobset_release(&c.blobs);
	return rc;
}
