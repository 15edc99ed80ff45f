/* Owns the repository check: structure (index vs packs, snapshots vs index) and, with
 * read_data, content (every pack hashed, every blob opened and re-hashed). */
#include "repo/maint.h"
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static bool is_zero(const uint8_t *p)
{
	static const uint8_t z[ID_BYTES];

	return !memcmp(p, z, ID_BYTES);
}

int repo_idset_add(struct repo_idset *s, const uint8_t id[ID_BYTES])
{
	size_t i;
	uint64_t h;

	if ((s->n + 1) * 2 > s->cap) {
		struct repo_idset n = { .cap = s->cap ? 2 * s->cap : 1024 };

		n.v = calloc(n.cap, ID_BYTES);
		if (!n.v)
			return -ENOMEM;
		/* Re-insert into the larger table: it has room, so this cannot fail. */
		for (size_t j = 0; j < s->cap; j++)
			if (!is_zero(s->v[j]) && repo_idset_add(&n, s->v[j]) < 0)
				return -ENOMEM;
		free(s->v);
		*s = n;
	}
	memcpy(&h, id, sizeof(h));
	for (i = h & (s->cap - 1); !is_zero(s->v[i]); i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->v[i], id, ID_BYTES))
			return 0;
	memcpy(s->v[i], id, ID_BYTES);
	s->n++;
	return 1;
}

bool repo_idset_has(const struct repo_idset *s, const uint8_t id[ID_BYTES])
{
	uint64_t h;

	if (!s->cap)
		return false;
	memcpy(&h, id, sizeof(h));
	for (size_t i = h & (s->cap - 1); !is_zero(s->v[i]); i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->v[i], id, ID_BYTES))
			return true;
	return false;
}

void repo_idset_release(struct repo_idset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

struct ck {
	struct repo *r;
	const struct repo_check_opts *o;
	repo_check_fn fn;
	void *ud;
	struct repo_check_result *res;
	struct err *e;
	struct repo_idset index_packs, listed_packs, trees;
	char path[8192];
};

static void problem(struct ck *c, const char *fmt, ...) _printf_(2, 3);
static void problem(struct ck *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->res->problems++;
	c->fn(c->ud, msg);
}

static int note_pack(void *ud, const uint8_t id[ID_BYTES], const struct blob_loc *loc)
{
	struct ck *c = ud;
	int rc = repo_idset_add(&c->index_packs, loc->pack);

	return rc < 0 ? rc : 0;
}

static int note_listed(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct ck *c = ud;
	int rc = repo_idset_add(&c->listed_packs, pack);

	c->res->packs++;
	return rc < 0 ? rc : 0;
}

static int check_dir(struct ck *c, const struct extent *segs, size_t n, const char *snap);

static int check_node(struct ck *c, const struct node *n, const char *snap)
{
	char id[ID_HEX];

	if (n->type == NODE_DIR)
		return check_dir(c, n->content, n->n_content, snap);
	if (n->type != NODE_FILE)
		return 0;
	for (size_t i = 0; i < n->n_content; i++) {
		if (n->content[i].hole)
			continue;
		c->res->data_blobs_referenced++;
		if (!repo_blob_known(c->r, BLOB_DATA, n->content[i].id)) {
			hex_encode(n->content[i].id, ID_BYTES, id);
			problem(c, "snapshot %.8s: %s: data blob %s is missing from the index", snap,
				c->path, id);
		}
	}
	return 0;
}

static int check_dir(struct ck *c, const struct extent *segs, size_t n, const char *snap)
{
	size_t saved = strlen(c->path);
	char id[ID_HEX];
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		struct tree_iter it;
		struct node node;
		struct err e = ERR_INIT;

		rc = repo_idset_add(&c->trees, segs[i].id);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue; /* seen in this or an earlier snapshot: checked already */
		c->res->trees++;
		hex_encode(segs[i].id, ID_BYTES, id);
		if (!repo_blob_known(c->r, BLOB_TREE, segs[i].id)) {
			problem(c, "snapshot %.8s: %s: tree %s is missing from the index", snap,
				c->path[0] ? c->path : "/", id);
			continue;
		}
		tree_iter_init_root(&it, c->r, &segs[i], 1);
		while ((rc = tree_iter_next(&it, &node, &e)) > 0) {
			snprintf(c->path + saved, sizeof(c->path) - saved, "/%.*s",
				 (int)node.name_len, node.name);
			rc = check_node(c, &node, snap);
			c->path[saved] = 0;
			node_release(&node);
			if (rc < 0)
				break;
		}
		tree_iter_release(&it);
		if (rc < 0 && rc != -ENOMEM) {
			problem(c, "snapshot %.8s: %s: %s", snap, c->path[0] ? c->path : "/", e.msg);
			rc = 0;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void pack_problem(void *ud, const uint8_t pack[ID_BYTES], const uint8_t *blob,
			 const char *msg)
{
	struct ck *c = ud;
	char p[ID_HEX], b[ID_HEX] = "";

	hex_encode(pack, ID_BYTES, p);
	if (blob)
		hex_encode(blob, ID_BYTES, b);
	problem(c, "pack %s%s%s: %s", p, blob ? ": blob " : "", b, msg);
}

int repo_check(struct repo *r, const struct repo_check_opts *o, repo_check_fn fn, void *ud,
	       struct repo_check_result *ret, struct err *e)
{
	struct repo_check_result res = { 0 };
	struct ck c = { .r = r, .o = o, .fn = fn, .ud = ud, .res = &res, .e = e };
	struct snapshot *snaps = NULL;
	size_t n_snaps = 0;
	char id[ID_HEX];
	int rc;

	rc = repo_index_load(r, e);
	if (rc >= 0)
		rc = repo_blob_foreach(r, note_pack, &c);
	if (rc >= 0)
		rc = repo_pack_list(r, note_listed, &c, e);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < c.index_packs.cap; i++) {
		if (is_zero(c.index_packs.v[i]) || repo_idset_has(&c.listed_packs, c.index_packs.v[i]))
			continue;
		hex_encode(c.index_packs.v[i], ID_BYTES, id);
		problem(&c, "pack %s is in the index but missing from the repository", id);
	}
	for (size_t i = 0; i < c.listed_packs.cap; i++)
		if (!is_zero(c.listed_packs.v[i]) && !repo_idset_has(&c.index_packs, c.listed_packs.v[i]))
			res.unindexed_packs++;
	rc = repo_snapshot_list(r, &snaps, &n_snaps, e);
	if (rc < 0)
		goto fail;
	res.snapshots = n_snaps;
	for (size_t i = 0; i < n_snaps; i++) {
		hex_encode(snaps[i].id, ID_BYTES, id);
		c.path[0] = 0;
		rc = check_dir(&c, snaps[i].tree, snaps[i].n_tree, id);
		if (rc < 0)
			goto fail;
	}
	if (o->read_data) {
		size_t k = 0;

		for (size_t i = 0; i < c.listed_packs.cap; i++) {
			if (is_zero(c.listed_packs.v[i]))
				continue;
			if (o->subset_total && k++ % o->subset_total != o->subset_index - 1)
				continue;
			res.packs_read++;
			/* Problems arrive through pack_problem; the count is already in res. */
			if (repo_pack_verify(r, c.listed_packs.v[i], pack_problem, &c, e) < 0)
				err_clear(e);
		}
	}
	*ret = res;
	rc = 0;
fail:
	snapshot_list_free(snaps, n_snaps);
	free(c.index_packs.v);
	free(c.listed_packs.v);
	free(c.trees.v);
	return rc;
}
