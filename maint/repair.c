/* Owns index files as whole sets (read every file as written, write new files that
 * supersede old ones) and the repairs built on them: rebuilding the index from pack
 * headers (rewriting snapshots that reference missing blobs is repair_snapshots.c). */
#include "maint/maint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

void repo_ixset_release(struct repo_ixset *s)
{
	for (size_t i = 0; i < s->n_packs; i++)
		free(s->packs[i].blobs);
	free(s->packs);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

static int ixset_grow(struct repo_ixset *s)
{
	size_t cap = s->cap_packs ? 2 * s->cap_packs : 64;
	void *p;

	if (s->n_packs < s->cap_packs)
		return 0;
	p = reallocarray(s->packs, cap, sizeof(*s->packs));
	if (!p)
		return -ENOMEM;
	s->packs = p;
	s->cap_packs = cap;
	return 0;
}

/* Builds an ixset (or streams its packs) from index_walk's entries. */
struct ixread {
	struct repo_ixset *s;
	struct repo_idset seen;
	const uint8_t *cur;      /* pack pointer of the entries being read */
	struct repo_ix_pack *p;  /* where they go; NULL while skipping a duplicate */
	size_t cap;
	/* Streaming: each pack goes to fn once its entries end, from one reused buffer. */
	repo_ixpack_fn fn;
	void *ud;
	struct repo_ix_pack one;
};

/* The current pack's entries are complete: hand it over (streaming) or trim its array to
 * its length (a set of a million blobs would otherwise keep up to twice their size). */
static int ixread_done(struct ixread *c)
{
	struct repo_ix_pack *p = c->p;
	int rc = 0;

	c->p = NULL;
	if (!p)
		return 0;
	if (c->fn) {
		rc = c->fn(c->ud, p);
		p->n_blobs = 0;
		return rc;
	}
	if (p->n_blobs && p->n_blobs < c->cap) {
		void *v = reallocarray(p->blobs, p->n_blobs, sizeof(*p->blobs));

		if (v)
			p->blobs = v;
	}
	return 0;
}

static int ixread_entry(void *ud, const uint8_t *pack, const struct repo_ix_blob *x)
{
	struct ixread *c = ud;
	struct repo_ix_blob *b;
	int rc;

	if (pack != c->cur) {
		rc = ixread_done(c);
		if (rc < 0)
			return rc;
		c->cur = pack;
		rc = repo_idset_add(&c->seen, pack);
		if (rc <= 0)
			return rc;
		if (c->fn) {
			c->p = &c->one;
		} else {
			rc = ixset_grow(c->s);
			if (rc < 0)
				return rc;
			c->p = &c->s->packs[c->s->n_packs++];
			memset(c->p, 0, sizeof(*c->p));
			c->cap = 0;
		}
		memcpy(c->p->id, pack, ID_BYTES);
	}
	if (!c->p)
		return 0;
	if (c->p->n_blobs == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		void *v = reallocarray(c->p->blobs, cap, sizeof(*c->p->blobs));

		if (!v)
			return -ENOMEM;
		c->p->blobs = v;
		c->cap = cap;
	}
	b = &c->p->blobs[c->p->n_blobs++];
	*b = *x;
	return 0;
}

static int collect_name(void *ud, const char *name, uint64_t size)
{
	struct repo_ixset *s = ud;
	void *p;

	(void)size;
	if (strlen(name) != ID_HEX - 1)
		return 0;
	p = reallocarray(s->names, s->n_names + 1, ID_HEX);
	if (!p)
		return -ENOMEM;
	s->names = p;
	memcpy(s->names[s->n_names++], name, ID_HEX);
	return 0;
}

/* Reads every index file through c. A pack listed by two files (an interrupted prune,
 * adopted orphans) is kept once: a hash set of pack ids, so large repositories stay
 * linear. */
static int ixread_all(struct repo *r, struct ixread *c, struct err *e)
{
	int rc;

	rc = backend_list(repo_backend(r), OBJ_INDEX, collect_name, c->s, e);
	for (size_t i = 0; rc >= 0 && i < c->s->n_names; i++) {
		c->cur = NULL; /* a new file's buffer may reuse the last one's address */
		rc = repo_index_walk(r, c->s->names[i], ixread_entry, c, e);
		if (rc >= 0)
			rc = ixread_done(c);
	}
	repo_idset_release(&c->seen);
	return rc;
}

int repo_ixset_load(struct repo *r, struct repo_ixset *ret, struct err *e)
{
	struct repo_ixset s = { 0 };
	struct ixread c = { .s = &s };
	int rc;

	rc = ixread_all(r, &c, e);
	if (rc < 0) {
		repo_ixset_release(&s);
		return rc;
	}
	*ret = s;
	return 0;
}

int repo_ixset_stream(struct repo *r, repo_ixpack_fn fn, void *ud, struct err *e)
{
	struct repo_ixset s = { 0 };
	struct ixread c = { .s = &s, .fn = fn, .ud = ud };
	int rc;

	rc = ixread_all(r, &c, e);
	free(c.one.blobs);
	repo_ixset_release(&s);
	return rc;
}

/* ---- repair index ---- */

struct rebuild {
	struct repo *r;
	struct err *e;
	struct repo_ixw *w; /* NULL for a dry run */
	struct repo_repair_result *res;
};

/* One pack's header straight into the new index files: the header is checked whole when
 * opened, so a damaged pack is left out before any of its entries is written. */
static int rebuild_one(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct rebuild *rb = ud;
	struct repo_pack_hdr *h = NULL;
	struct repo_ix_blob b;
	int rc;

	rc = repo_pack_hdr_open(rb->r, pack, size, &h, rb->e);
	if (rc == -EBADMSG) {
		/* Unreadable header: leave the pack out (check names it; prune deletes it). */
		err_clear(rb->e);
		rb->res->bad_packs++;
		return 0;
	}
	if (rc < 0)
		return rc;
	rb->res->packs++;
	rb->res->blobs += repo_pack_hdr_count(h);
	if (rb->w)
		rc = repo_ixw_pack(rb->w, pack, repo_pack_hdr_count(h), rb->e);
	while (rc >= 0 && rb->w && (rc = repo_pack_hdr_next(h, &b)) > 0)
		rc = repo_ixw_blob(rb->w, &b, rb->e);
	repo_pack_hdr_free(h);
	return rc < 0 ? rc : 0;
}

int repo_repair_index(struct repo *r, bool dry_run, struct repo_repair_result *ret,
		      struct err *e)
{
	struct repo_repair_result res = { 0 };
	struct rebuild rb = { .r = r, .e = e, .res = &res };
	struct repo_ixset old = { 0 };
	int rc;

	rc = backend_list(repo_backend(r), OBJ_INDEX, collect_name, &old, e);
	if (rc >= 0 && !dry_run && (rc = repo_ixw_new(r, old.names, old.n_names, &rb.w)) < 0)
		err_set(e, rc, "index writer: %s", strerror(-rc));
	/* New files first (written as the headers are read): until the old ones are gone both
	 * describe existing packs. */
	if (rc >= 0)
		rc = repo_pack_list(r, rebuild_one, &rb, e);
	if (rc >= 0 && rb.w)
		rc = repo_ixw_finish(rb.w, NULL, e);
	for (size_t i = 0; rc >= 0 && rb.w && i < old.n_names; i++)
		rc = backend_del(repo_backend(r), OBJ_INDEX, old.names[i], e);
	if (rc < 0)
		goto fail;
	res.old_index_files = old.n_names;
	*ret = res;
fail:
	repo_ixw_free(rb.w);
	repo_ixset_release(&old);
	return rc;
}
