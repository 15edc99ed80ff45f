/* Owns snapshot comparison: both trees are listed (path, type, a digest of content and
 * metadata), sorted by path and merged into added / removed / modified entries. */
#include "maint/maint.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/vec.h"

struct dent {
	char *path;
	enum node_type type;
	uint8_t digest[16];
};

struct dlist {
	struct dent *v;
	size_t n, cap;
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

static int collect(void *ud, const char *path, const struct node *n)
{
	struct dlist *l = ud;

	if (VEC_RESERVE1(l->v, l->cap, l->n, 256))
		return -ENOMEM;
	l->v[l->n].path = strdup(path);
	if (!l->v[l->n].path)
		return -ENOMEM;
	l->v[l->n].type = n->type;
	digest(n, l->v[l->n].digest);
	l->n++;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->path, ((const struct dent *)b)->path);
}

static void dlist_release(struct dlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

int repo_diff(struct repo *r, const struct snapshot *a, const struct snapshot *b,
	      repo_diff_fn fn, void *ud, struct repo_diff_result *ret, struct err *e)
{
	struct dlist la = { 0 }, lb = { 0 };
	struct repo_diff_result res = { 0 };
	size_t i = 0, j = 0;
	int rc;

	rc = repo_walk(r, a->tree, a->n_tree, NULL, collect, &la, e);
	if (rc >= 0)
		rc = repo_walk(r, b->tree, b->n_tree, NULL, collect, &lb, e);
	if (rc < 0) {
		if (rc == -ENOMEM)
			err_set(e, rc, "out of memory listing snapshots");
		goto fail;
	}
	if (la.n)
		qsort(la.v, la.n, sizeof(*la.v), by_path);
	if (lb.n)
		qsort(lb.v, lb.n, sizeof(*lb.v), by_path);
	while (i < la.n || j < lb.n) {
		int c = i == la.n ? 1 : j == lb.n ? -1 : strcmp(la.v[i].path, lb.v[j].path);

		if (c < 0) {
			fn(ud, REPO_DIFF_REMOVED, la.v[i].path, la.v[i].type);
			res.removed++;
			i++;
		} else if (c > 0) {
			fn(ud, REPO_DIFF_ADDED, lb.v[j].path, lb.v[j].type);
			res.added++;
			j++;
		} else {
			if (la.v[i].type != lb.v[j].type) {
				fn(ud, REPO_DIFF_TYPE, lb.v[j].path, lb.v[j].type);
				res.modified++;
			} else if (lb.v[j].type != NODE_DIR &&
				   memcmp(la.v[i].digest, lb.v[j].digest, 16)) {
				fn(ud, REPO_DIFF_MODIFIED, lb.v[j].path, lb.v[j].type);
				res.modified++;
			}
			i++;
			j++;
		}
	}
	*ret = res;
fail:
	dlist_release(&la);
	dlist_release(&lb);
	return rc;
}
