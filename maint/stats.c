/* Owns snapshot tree walking (depth first, with an optional reachability mark that skips
 * subtrees seen before) and the statistics built on it (restore size, raw data; restore
 * size reads each distinct tree segment once, see stats_tree). */
#include "maint/maint-internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/vec.h"

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

/* A frame's own copy of a folder's segment list (never NULL when it succeeds, even for
 * none); the count was bounded by the tree decoder, the size is checked anyway. */
static struct extent *segs_copy(const struct extent *segs, size_t n)
{
	struct extent *p = reallocarray(NULL, n ? n : 1, sizeof(*p));

	if (p && n)
		memcpy(p, segs, n * sizeof(*p));
	return p;
}

int walk_push(struct walk_frame **st, size_t *depth, size_t *cap, const struct extent *segs,
	      size_t n, size_t saved)
{
	struct walk_frame *f;

	if (VEC_RESERVE1(*st, *cap, *depth, 16))
		return -ENOMEM;
	f = &(*st)[*depth];
	memset(f, 0, sizeof(*f));
	f->segs = segs_copy(segs, n);
	if (!f->segs)
		return -ENOMEM;
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

/* ---- restore size: each distinct tree segment read once ----
 *
 * A tree id may be referenced by many folders (content addressing): a forged snapshot of
 * 80 segments can hold 2^40 paths, and walking every path never ends. A segment's subtree
 * totals depend on its id alone (ids are checked against the plaintext on every read, so
 * a segment cannot contain itself), so they are kept per id and added again wherever the
 * id appears: the figures are those of a full walk, at the cost of one record per distinct
 * segment, the repository's own tree count. Sums stop at INT64_MAX (ckd_sat_add_i64max)
 * instead of wrapping: 2^40 files of 2^40 bytes do not fit. */

struct stotals {
	uint64_t files, dirs, others, bytes;
};

static void stotals_add(struct stotals *t, const struct stotals *a)
{
	t->files = ckd_sat_add_i64max(t->files, a->files);
	t->dirs = ckd_sat_add_i64max(t->dirs, a->dirs);
	t->others = ckd_sat_add_i64max(t->others, a->others);
	t->bytes = ckd_sat_add_i64max(t->bytes, a->bytes);
}

struct smemo_ent {
	uint8_t id[ID_BYTES];
	bool used;
	struct stotals t;
};

/* Open addressing, linear probing; slots found by SipHash of the id under a random key, so
 * that ids ground to share low bits (anyone with the repository key can) do not pile up
 * in one run of slots. */
struct smemo {
	struct smemo_ent *v;
	size_t cap, n; /* cap: 0 or a power of two */
	uint8_t key[crypto_shorthash_KEYBYTES];
};

static size_t smemo_slot(const struct smemo *m, const uint8_t id[ID_BYTES])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t x;

	crypto_shorthash(h, id, ID_BYTES, m->key);
	memcpy(&x, h, sizeof(x));
	return (size_t)x & (m->cap - 1);
}

static const struct stotals *smemo_find(const struct smemo *m, const uint8_t id[ID_BYTES])
{
	if (!m->cap)
		return NULL;
	for (size_t i = smemo_slot(m, id);; i = (i + 1) & (m->cap - 1)) {
		if (!m->v[i].used)
			return NULL;
		if (!memcmp(m->v[i].id, id, ID_BYTES))
			return &m->v[i].t;
	}
}

static void smemo_place(struct smemo *m, const uint8_t id[ID_BYTES], const struct stotals *t)
{
	size_t i = smemo_slot(m, id);

	while (m->v[i].used)
		i = (i + 1) & (m->cap - 1);
	memcpy(m->v[i].id, id, ID_BYTES);
	m->v[i].t = *t;
	m->v[i].used = true;
	m->n++;
}

/* Record a segment not recorded yet. Kept at most 3/4 full. -ENOMEM, -EOVERFLOW. */
static int smemo_put(struct smemo *m, const uint8_t id[ID_BYTES], const struct stotals *t)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		struct smemo old = *m;
		size_t nc;

		if (ckd_mul(&nc, m->cap ? m->cap : 512, (size_t)2) || nc > SIZE_MAX / sizeof(*m->v))
			return -EOVERFLOW;
		m->v = calloc(nc, sizeof(*m->v));
		if (!m->v) {
			*m = old;
			return -ENOMEM;
		}
		m->cap = nc;
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].used)
				smemo_place(m, old.v[i].id, &old.v[i].t);
		free(old.v);
	}
	smemo_place(m, id, t);
	return 0;
}

/* One folder: its segments (copied), the next one, the open iterator and the totals of
 * the segment being read. */
struct sframe {
	struct extent *segs;
	size_t n, next;
	struct tree_iter it;
	bool open;
	struct stotals acc;
};

static int sframe_push(struct sframe **st, size_t *depth, size_t *cap, const struct extent *segs,
		       size_t n)
{
	struct sframe *f;

	if (VEC_RESERVE1(*st, *cap, *depth, 16))
		return -ENOMEM;
	f = &(*st)[*depth];
	memset(f, 0, sizeof(*f));
	f->segs = segs_copy(segs, n);
	if (!f->segs)
		return -ENOMEM;
	f->n = n;
	(*depth)++;
	return 0;
}

static void stotals_node(struct stotals *t, const struct node *n)
{
	struct stotals one = { 0 };

	if (n->type == NODE_FILE) {
		one.files = 1;
		one.bytes = n->size;
	} else if (n->type == NODE_DIR) {
		one.dirs = 1;
	} else {
		one.others = 1;
	}
	stotals_add(t, &one);
}

/* The totals below the root segs, as repo_walk would count them entry by entry, depth
 * first with the stack on the heap (pods nest folders thousands deep). */
static int stats_tree(struct repo *r, struct smemo *m, const struct extent *segs, size_t n,
		      struct stotals *ret, struct err *e)
{
	struct sframe *st = NULL;
	size_t depth = 0, cap = 0;
	int rc = sframe_push(&st, &depth, &cap, segs, n);

	while (rc >= 0 && depth) {
		struct sframe *f = &st[depth - 1];
		struct stotals *up = depth >= 2 ? &st[depth - 2].acc : ret;
		struct node node;

		if (!f->open) {
			const struct stotals *hit;

			if (f->next >= f->n) {
				free(f->segs);
				depth--;
				continue;
			}
			hit = smemo_find(m, f->segs[f->next].id);
			if (hit) {
				stotals_add(up, hit);
				f->next++;
				continue;
			}
			memset(&f->acc, 0, sizeof(f->acc));
			tree_iter_init_root(&f->it, r, &f->segs[f->next], 1);
			f->open = true;
		}
		rc = tree_iter_next(&f->it, &node, e);
		if (rc <= 0) {
			tree_iter_release(&f->it);
			f->open = false;
			if (rc == 0) {
				rc = smemo_put(m, f->segs[f->next].id, &f->acc);
				stotals_add(up, &f->acc);
				f->next++;
			}
			continue;
		}
		stotals_node(&f->acc, &node);
		if (node.type == NODE_DIR)
			rc = sframe_push(&st, &depth, &cap, node.content, node.n_content);
		node_release(&node);
	}
	if (rc == -ENOMEM && !e->code)
		err_set(e, rc, "out of memory");
	else if (rc == -EOVERFLOW && !e->code)
		err_set(e, rc, "too many trees to count");
	while (depth) {
		struct sframe *f = &st[--depth];

		if (f->open)
			tree_iter_release(&f->it);
		free(f->segs);
	}
	free(st);
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
	struct smemo memo = { 0 };
	int rc;

	randombytes_buf(memo.key, sizeof(memo.key));

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
		 * skipped; restore size counts every snapshot in full, each distinct segment
		 * read once (stats_tree). */
		if (rc >= 0 && m == REPO_STATS_RAW_DATA) {
			rc = repo_walk(r, snaps[i].tree, snaps[i].n_tree, &trees, stats_node, &c,
				       e);
		} else if (rc >= 0) {
			struct stotals t = { 0 }, all = { st.files, st.dirs, st.others, st.bytes };

			rc = stats_tree(r, &memo, snaps[i].tree, snaps[i].n_tree, &t, e);
			stotals_add(&all, &t);
			st.files = all.files;
			st.dirs = all.dirs;
			st.others = all.others;
			st.bytes = all.bytes;
		}
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
	free(memo.v);
	return rc;
}
