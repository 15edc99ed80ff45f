/* Owns snapshot comparison: both trees are walked side by side, folder by folder in name
 * order, and the changes are streamed out in the order of their full paths (byte order,
 * as strcmp sorts them) as added / removed / modified / type-changed entries.
 *
 * Why side by side and not "list both, sort, merge": a tree id may be referenced by many
 * folders (content addressing), so a forged snapshot of 80 tree blobs can hold 2^40
 * paths. Listing them costs memory without bound; here a pair of folders with the same
 * segment ids is skipped at once (nothing below them can differ), and memory is one open
 * segment per level per side plus the folders of that level whose descent is deferred
 * (see struct dframe). A diff against a huge tree is still as long as the tree, but
 * streamed. */
#include "maint/maint.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/vec.h"

#define DIFF_PATH_MAX 16384

/* One side of a folder being compared: its segments (copied: the iterator points at
 * them), the open iterator, the next entry read ahead, and the last name taken (entries
 * not strictly after it are left out: a forged segment may repeat or misorder names, and
 * the merge needs each side in order). */
struct dside {
	bool present;
	struct extent *segs;
	size_t n_segs;
	struct tree_iter it;
	bool done;
	struct node cur;
	bool has_cur;
	char *last;
	size_t last_len, last_cap;
	bool has_last;
};

/* A folder of this level whose entries are still to be compared: the whole subtree of
 * "name" sorts as "name/", after siblings such as "name.bak" or "name-2" that come later
 * in the folder (their bytes '.' and '-' sort before '/'). Each side is a folder node, or
 * absent (type 0 and no content) when that side has no folder of that name. */
struct dpend {
	struct node a, b;
};

/* One folder pair: both sides, the path length to restore, and the deferred subfolders.
 * Deferred subfolders form a chain of name prefixes ("x", "x.d", "x.d-2"), so the last
 * one pushed is always the first one due. */
struct dframe {
	struct dside s[2];
	size_t saved;
	struct dpend *pend;
	size_t n_pend, cap_pend;
};

struct dwalk {
	struct repo *r;
	struct dframe *st;
	size_t depth, cap;
	char *path;
	repo_diff_fn fn;
	void *ud;
	struct repo_diff_result res;
	struct err *e;
};

/* Content and the metadata restic's diff reports as a modification. */
static void digest(const struct node *n, uint8_t out[16])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, (const uint8_t *)&n->size, sizeof(n->size));
	crypto_generichash_update(&st, (const uint8_t *)&n->mode, sizeof(n->mode));
	crypto_generichash_update(&st, (const uint8_t *)&n->mtime_sec, sizeof(n->mtime_sec));
	if (n->type == NODE_FILE)
		for (size_t i = 0; i < n->n_content; i++)
			crypto_generichash_update(&st, n->content[i].id, ID_BYTES);
	if (n->target)
		crypto_generichash_update(&st, (const uint8_t *)n->target, n->target_len);
	crypto_generichash_final(&st, out, 16);
}

static bool modified(const struct node *a, const struct node *b)
{
	uint8_t da[16], db[16];

	digest(a, da);
	digest(b, db);
	return memcmp(da, db, sizeof(da)) != 0;
}

/* Two folders with the same segment list hold the same entries all the way down. */
static bool same_tree(const struct node *a, const struct node *b)
{
	if (a->n_content != b->n_content)
		return false;
	for (size_t i = 0; i < a->n_content; i++)
		if (memcmp(a->content[i].id, b->content[i].id, ID_BYTES))
			return false;
	return true;
}

static void side_release(struct dside *s)
{
	if (s->present)
		tree_iter_release(&s->it);
	if (s->has_cur)
		node_release(&s->cur);
	free(s->segs);
	free(s->last);
	memset(s, 0, sizeof(*s));
}

static void frame_release(struct dframe *f)
{
	side_release(&f->s[0]);
	side_release(&f->s[1]);
	for (size_t i = 0; i < f->n_pend; i++) {
		node_release(&f->pend[i].a);
		node_release(&f->pend[i].b);
	}
	free(f->pend);
}

static int side_init(struct dwalk *w, struct dside *s, const struct extent *segs, size_t n)
{
	s->present = true;
	s->segs = malloc((n ? n : 1) * sizeof(*segs));
	if (!s->segs)
		return -ENOMEM;
	if (n)
		memcpy(s->segs, segs, n * sizeof(*segs));
	s->n_segs = n;
	tree_iter_init_root(&s->it, w->r, s->segs, n);
	return 0;
}

/* Push the folder pair a / b (either may be NULL: that side has no such folder). */
static int push(struct dwalk *w, const struct extent *as, size_t an, const struct extent *bs,
		size_t bn, bool has_a, bool has_b, size_t saved)
{
	struct dframe *f;
	int rc = 0;

	if (VEC_RESERVE1(w->st, w->cap, w->depth, 16))
		return -ENOMEM;
	f = &w->st[w->depth++];
	memset(f, 0, sizeof(*f));
	f->saved = saved;
	if (has_a)
		rc = side_init(w, &f->s[0], as, an);
	if (rc >= 0 && has_b)
		rc = side_init(w, &f->s[1], bs, bn);
	return rc;
}

/* Read the side's next entry ahead, unless it has one. */
static int side_fill(struct dwalk *w, struct dside *s)
{
	int rc;

	while (s->present && !s->done && !s->has_cur) {
		rc = tree_iter_next(&s->it, &s->cur, w->e);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			s->done = true;
			break;
		}
		if (s->has_last &&
		    repo_name_cmp(s->cur.name, s->cur.name_len, s->last, s->last_len) <= 0) {
			node_release(&s->cur);
			continue;
		}
		s->has_cur = true;
	}
	return 0;
}

/* Take the read-ahead entry out of the side (the caller owns it) and remember its name. */
static int side_take(struct dside *s, struct node *ret)
{
	if (s->cur.name_len + 1 > s->last_cap) {
		char *p = realloc(s->last, s->cur.name_len + 1);

		if (!p)
			return -ENOMEM;
		s->last = p;
		s->last_cap = s->cur.name_len + 1;
	}
	memcpy(s->last, s->cur.name, s->cur.name_len);
	s->last_len = s->cur.name_len;
	s->has_last = true;
	*ret = s->cur;
	memset(&s->cur, 0, sizeof(s->cur));
	s->has_cur = false;
	return 0;
}

/* Does the subtree of folder p (sorting as "p/") come before the entry named n? Names hold
 * no '/' and no NUL, so this is strcmp of the full paths. */
static bool pend_first(const char *p, size_t pl, const char *n, size_t nl)
{
	int c = memcmp(p, n, pl < nl ? pl : nl);

	if (c)
		return c < 0;
	if (nl <= pl)
		return false; /* n sorts at or before p, so before "p/" */
	return (unsigned char)n[pl] > '/';
}

static int set_path(struct dwalk *w, size_t saved, const char *name, size_t len)
{
	int k;

	w->path[saved] = 0;
	k = snprintf(w->path + saved, DIFF_PATH_MAX - saved, "/%.*s", (int)len, name);
	if (k < 0 || (size_t)k >= DIFF_PATH_MAX - saved) {
		w->path[saved] = 0;
		return err_set(w->e, -ENAMETOOLONG, "path too long below %.200s", w->path);
	}
	return 0;
}

/* Compare the entries a (or NULL) and b (or NULL) of the same name; keep a folder pair
 * that may differ below for later. Takes ownership of both. */
static int entry(struct dwalk *w, struct dframe *f, struct node *a, struct node *b)
{
	const struct node *n = b ? b : a;
	bool da = a && a->type == NODE_DIR, db = b && b->type == NODE_DIR;
	struct dpend *p;
	int rc = set_path(w, f->saved, n->name, n->name_len);

	if (rc < 0)
		goto done;
	if (!a) {
		w->fn(w->ud, REPO_DIFF_ADDED, w->path, b->type);
		w->res.added++;
	} else if (!b) {
		w->fn(w->ud, REPO_DIFF_REMOVED, w->path, a->type);
		w->res.removed++;
	} else if (a->type != b->type) {
		w->fn(w->ud, REPO_DIFF_TYPE, w->path, b->type);
		w->res.modified++;
	} else if (b->type != NODE_DIR && modified(a, b)) {
		w->fn(w->ud, REPO_DIFF_MODIFIED, w->path, b->type);
		w->res.modified++;
	}
	if (!da && !db)
		goto done;
	if (da && db && same_tree(a, b))
		goto done; /* the skip that makes shared subtrees cost nothing */
	if (VEC_RESERVE1(f->pend, f->cap_pend, f->n_pend, 4)) {
		rc = -ENOMEM;
		goto done;
	}
	p = &f->pend[f->n_pend++];
	memset(p, 0, sizeof(*p));
	if (da) {
		p->a = *a;
		a = NULL;
	}
	if (db) {
		p->b = *b;
		b = NULL;
	}
done:
	if (a)
		node_release(a);
	if (b)
		node_release(b);
	return rc;
}

/* One step of the walk on the top frame: descend into a deferred folder that is due,
 * compare the next entry, or finish the frame. */
static int step(struct dwalk *w)
{
	struct dframe *f = &w->st[w->depth - 1];
	struct dside *sa = &f->s[0], *sb = &f->s[1];
	const struct node *next = NULL;
	struct node a = { 0 }, b = { 0 };
	int c = 0, rc;

	rc = side_fill(w, sa);
	if (rc >= 0)
		rc = side_fill(w, sb);
	if (rc < 0)
		return rc;
	if (sa->has_cur && sb->has_cur)
		c = repo_name_cmp(sa->cur.name, sa->cur.name_len, sb->cur.name, sb->cur.name_len);
	else
		c = sa->has_cur ? -1 : 1;
	if (sa->has_cur || sb->has_cur)
		next = c <= 0 ? &sa->cur : &sb->cur;
	if (f->n_pend) {
		struct dpend p = f->pend[f->n_pend - 1];
		const struct node *pn = p.a.type == NODE_DIR ? &p.a : &p.b;

		if (!next || pend_first(pn->name, pn->name_len, next->name, next->name_len)) {
			f->n_pend--;
			rc = set_path(w, f->saved, pn->name, pn->name_len);
			if (rc >= 0)
				rc = push(w, p.a.content, p.a.n_content, p.b.content, p.b.n_content,
					  p.a.type == NODE_DIR, p.b.type == NODE_DIR,
					  strlen(w->path));
			node_release(&p.a);
			node_release(&p.b);
			return rc;
		}
	}
	if (!next) {
		frame_release(f);
		w->depth--;
		return 0;
	}
	rc = c <= 0 ? side_take(sa, &a) : 0;
	if (rc >= 0 && c >= 0)
		rc = side_take(sb, &b);
	if (rc < 0)
		return rc;
	return entry(w, f, c <= 0 ? &a : NULL, c >= 0 ? &b : NULL);
}

int repo_diff(struct repo *r, const struct snapshot *a, const struct snapshot *b,
	      repo_diff_fn fn, void *ud, struct repo_diff_result *ret, struct err *e)
{
	struct dwalk w = { .r = r, .fn = fn, .ud = ud, .e = e };
	struct node ra = { .n_content = a->n_tree }, rb = { .n_content = b->n_tree };
	int rc = 0;

	w.path = malloc(DIFF_PATH_MAX);
	if (!w.path) {
		rc = -ENOMEM;
		goto fail;
	}
	w.path[0] = 0;
	/* The roots as folders only to compare their segment lists. */
	ra.content = a->tree;
	rb.content = b->tree;
	if (!same_tree(&ra, &rb))
		rc = push(&w, a->tree, a->n_tree, b->tree, b->n_tree, true, true, 0);
	while (rc >= 0 && w.depth)
		rc = step(&w);
	if (rc >= 0)
		*ret = w.res;
fail:
	if (rc == -ENOMEM && !e->code)
		err_set(e, rc, "out of memory comparing snapshots");
	while (w.depth)
		frame_release(&w.st[--w.depth]);
	free(w.st);
	free(w.path);
	return rc;
}
