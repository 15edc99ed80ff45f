/* Owns snapshot tree walking (depth first, with an optional reachability mark that skips
 * subtrees seen before) and the statistics built on it (restore size, raw data). */
#include "maint/maint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define WALK_PATH_MAX 16384

struct walk {
	struct repo *r;
	struct repo_idset *seen;
	repo_walk_fn fn;
	void *ud;
	struct err *e;
	char path[WALK_PATH_MAX];
	int depth;
};

static int walk_dir(struct walk *w, const struct extent *segs, size_t n)
{
	size_t saved = strlen(w->path);
	int rc = 0;

	if (++w->depth > 1024) {
		w->depth--;
		return err_set(w->e, -EBADMSG, "%s: folders nested too deep", w->path);
	}
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		struct tree_iter it;
		struct node node;

		if (w->seen) {
			rc = repo_idset_add(w->seen, segs[i].id);
			if (rc < 0)
				break;
			if (rc == 0)
				continue; /* the same segment means the same subtree: done already */
		}
		tree_iter_init_root(&it, w->r, &segs[i], 1);
		while ((rc = tree_iter_next(&it, &node, w->e)) > 0) {
			int k = snprintf(w->path + saved, sizeof(w->path) - saved, "/%.*s",
					 (int)node.name_len, node.name);

			if (k < 0 || (size_t)k >= sizeof(w->path) - saved) {
				node_release(&node);
				rc = err_set(w->e, -ENAMETOOLONG, "path too long below %.200s",
					     w->path);
				break;
			}
			rc = w->fn(w->ud, w->path, &node);
			if (rc >= 0 && node.type == NODE_DIR)
				rc = walk_dir(w, node.content, node.n_content);
			w->path[saved] = 0;
			node_release(&node);
			if (rc < 0)
				break;
		}
		tree_iter_release(&it);
		if (rc < 0 && w->path[saved])
			w->path[saved] = 0;
	}
	w->depth--;
	return rc < 0 ? rc : 0;
}

int repo_walk(struct repo *r, const struct extent *segs, size_t n, struct repo_idset *seen,
	      repo_walk_fn fn, void *ud, struct err *e)
{
	struct walk *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return err_set(e, -ENOMEM, "out of memory");
	w->r = r;
	w->seen = seen;
	w->fn = fn;
	w->ud = ud;
	w->e = e;
	rc = walk_dir(w, segs, n);
	free(w);
	return rc;
}

struct stats_ctx {
	struct repo *r;
	enum repo_stats_mode mode;
	struct repo_stats *st;
	struct repo_idset blobs;
};

static int count_blob(struct stats_ctx *c, enum blob_type t, const uint8_t id[ID_BYTES])
{
	struct blob_loc loc;
	int rc = repo_idset_add(&c->blobs, id);

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
		c->st->bytes += n->size;
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
	struct repo_idset trees = { 0 };
	int rc;

	rc = repo_index_load(r, e);
	if (rc < 0)
		return rc;
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
	repo_idset_release(&trees);
	repo_idset_release(&c.blobs);
	return rc;
}
