/* Owns `repair snapshots`: rewrite every snapshot whose trees reach missing blobs. A
 * missing data chunk becomes a hole of the same length (the file keeps its size, that part
 * reads as zeros) and the file is flagged NODE_UNREADABLE; a missing tree segment drops the
 * entries it held and flags its folder. The rewritten snapshot is tagged "repaired"; the
 * original is removed only with --forget. */
#include "maint/maint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

struct rw {
	struct repo *r;
	struct repo_idset packs; /* packs that exist in data/ */
	bool dry_run;
	struct err *e;
	uint64_t files, dirs;
};

struct segw {
	struct buf seg;
	size_t count;
	struct extent *out;
	size_t n_out;
};

static int segw_flush(struct rw *w, struct segw *s)
{
	uint8_t id[ID_BYTES] = { 0 };
	void *p;
	ssize_t rc = 0;

	if (!s->count)
		return 0;
	if (!w->dry_run)
		rc = repo_blob_save(w->r, BLOB_TREE, s->seg.p, s->seg.len, id, w->e);
	if (rc < 0)
		return (int)rc;
	p = reallocarray(s->out, s->n_out + 1, sizeof(*s->out));
	if (!p)
		return -ENOMEM;
	s->out = p;
	memset(&s->out[s->n_out], 0, sizeof(s->out[0]));
	memcpy(s->out[s->n_out].id, id, ID_BYTES);
	s->out[s->n_out++].len = s->count;
	s->count = 0;
	buf_reset(&s->seg);
	return tree_encode_header(&s->seg);
}

static int rewrite_dir(struct rw *w, const struct extent *segs, size_t n, struct extent **ret,
		       size_t *ret_n, bool *changed);

/* Present means indexed and in a pack that is really there: an index may still list a
 * pack that was lost, which is the usual reason to run this at all. */
static bool present(struct rw *w, enum blob_type t, const uint8_t id[ID_BYTES])
{
	struct blob_loc loc;

	return repo_blob_lookup(w->r, t, id, &loc) == 0 && repo_idset_has(&w->packs, loc.pack);
}

static int note_pack(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct rw *w = ud;
	int rc = repo_idset_add(&w->packs, pack);

	return rc < 0 ? rc : 0;
}

static int fix_node(struct rw *w, struct node *n, bool *changed)
{
	if (n->type == NODE_DIR) {
		struct extent *segs = NULL;
		size_t ns = 0;
		bool c = false;
		int rc = rewrite_dir(w, n->content, n->n_content, &segs, &ns, &c);

		if (rc < 0)
			return rc;
		if (c) {
			free(n->content);
			n->content = segs;
			n->n_content = ns;
			*changed = true;
		} else {
			free(segs);
		}
		return 0;
	}
	if (n->type != NODE_FILE)
		return 0;
	for (size_t i = 0; i < n->n_content; i++) {
		if (n->content[i].hole || present(w, BLOB_DATA, n->content[i].id))
			continue;
		n->content[i].hole = true;
		memset(n->content[i].id, 0, ID_BYTES);
		if (!(n->flags & NODE_UNREADABLE))
			w->files++;
		n->flags |= NODE_UNREADABLE;
		*changed = true;
	}
	return 0;
}

static int rewrite_dir(struct rw *w, const struct extent *segs, size_t n, struct extent **ret,
		       size_t *ret_n, bool *changed)
{
	struct segw s = { 0 };
	int rc;

	buf_init(&s.seg, REPO_BLOB_MAX);
	rc = tree_encode_header(&s.seg);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		struct tree_iter it;
		struct node node;

		if (!present(w, BLOB_TREE, segs[i].id)) {
			w->dirs++;
			*changed = true;
			continue;
		}
		tree_iter_init_root(&it, w->r, &segs[i], 1);
		while ((rc = tree_iter_next(&it, &node, w->e)) > 0) {
			rc = fix_node(w, &node, changed);
			if (rc >= 0)
				rc = tree_encode_node(&s.seg, &node);
			s.count++;
			node_release(&node);
			if (rc >= 0 && s.seg.len >= TREE_SEGMENT_TARGET)
				rc = segw_flush(w, &s);
			if (rc < 0)
				break;
		}
		tree_iter_release(&it);
		if (rc == -EBADMSG) {
			/* An unreadable segment is as lost as a missing one. */
			err_clear(w->e);
			w->dirs++;
			*changed = true;
			rc = 0;
		}
	}
	if (rc >= 0)
		rc = segw_flush(w, &s);
	buf_release(&s.seg);
	if (rc < 0) {
		free(s.out);
		return rc;
	}
	*ret = s.out;
	*ret_n = s.n_out;
	return 0;
}

static int add_tag(struct snapshot *s, const char *tag)
{
	void *p = reallocarray(s->tags, s->n_tags + 1, sizeof(*s->tags));

	if (!p)
		return -ENOMEM;
	s->tags = p;
	s->tags[s->n_tags] = strdup(tag);
	if (!s->tags[s->n_tags])
		return -ENOMEM;
	s->n_tags++;
	return 0;
}

int repo_repair_snapshots(struct repo *r, bool dry_run, bool forget,
			  struct repo_repair_snapshots_result *ret, struct err *e)
{
	struct repo_repair_snapshots_result res = { 0 };
	struct rw w = { .r = r, .dry_run = dry_run, .e = e };
	struct snapshot *v = NULL;
	size_t n = 0;
	int rc;

	rc = repo_index_load(r, e);
	if (rc >= 0)
		rc = repo_pack_list(r, note_pack, &w, e);
	if (rc >= 0)
		rc = repo_snapshot_list(r, &v, &n, e);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		struct extent *segs = NULL;
		uint8_t old[ID_BYTES];
		size_t ns = 0;
		bool changed = false;

		res.snapshots++;
		rc = rewrite_dir(&w, v[i].tree, v[i].n_tree, &segs, &ns, &changed);
		if (rc < 0)
			break;
		if (!changed) {
			free(segs);
			continue;
		}
		res.repaired++;
		if (dry_run) {
			free(segs);
			continue;
		}
		memcpy(old, v[i].id, ID_BYTES);
		free(v[i].tree);
		v[i].tree = segs;
		v[i].n_tree = ns;
		v[i].has_parent = false;
		rc = add_tag(&v[i], "repaired");
		/* Trees first, then the snapshot that names them, then (maybe) the original. */
		if (rc >= 0)
			rc = repo_flush(r, e);
		if (rc >= 0)
			rc = repo_snapshot_save(r, &v[i], e);
		if (rc >= 0 && forget)
			rc = repo_snapshot_delete(r, old, e);
	}
	snapshot_list_free(v, n);
	repo_idset_release(&w.packs);
	if (rc < 0)
		return rc;
	res.files_damaged = w.files;
	res.dirs_damaged = w.dirs;
	*ret = res;
	return 0;
}
