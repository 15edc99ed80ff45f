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
	/* Entry by entry: nothing is gathered, each entry goes to ops as it is read. */
	const struct repo_ixentry_ops *ops;
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
	if (c->ops)
		return c->ops->end(c->ud);
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
		if (c->ops) {
			c->p = &c->one;
			rc = c->ops->begin(c->ud, pack);
			if (rc < 0)
				return rc;
		} else if (c->fn) {
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
	if (c->ops)
		return c->ops->blob(c->ud, x);
	if (c->p->n_blobs == c->cap) {
		/* A quarter more past 64k entries: a pack of 300 000 tiny blobs would otherwise
		 * be gathered in room for 524 288 (25 MB) before ixread_done trims it. */
		size_t cap = !c->cap ? 64 : c->cap < 65536 ? 2 * c->cap : c->cap + c->cap / 4;
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
static int ixread_names(struct repo *r, struct ixread *c, bool skip_bad, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < c->s->n_names; i++) {
		c->cur = NULL; /* a new file's buffer may reuse the last one's address */
		rc = repo_index_walk(r, c->s->names[i], ixread_entry, c, e);
		if (rc < 0 && rc != -ENOMEM && skip_bad) {
			/* A damaged file gives nothing more; its unfinished pack is dropped. */
			if (c->p)
				c->p->n_blobs = 0;
			c->p = NULL;
			err_clear(e);
			rc = 0;
			continue;
		}
		if (rc >= 0)
			rc = ixread_done(c);
	}
	repo_idset_release(&c->seen);
	return rc;
}

static int ixread_all(struct repo *r, struct ixread *c, struct err *e)
{
	int rc;

	rc = backend_list(repo_backend(r), OBJ_INDEX, collect_name, c->s, e);
	return rc < 0 ? rc : ixread_names(r, c, false, e);
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

int repo_ixset_entries(struct repo *r, const struct repo_ixentry_ops *ops, void *ud,
		       struct err *e)
{
	struct repo_ixset s = { 0 };
	struct ixread c = { .s = &s, .ops = ops, .ud = ud };
	int rc;

	rc = ixread_all(r, &c, e);
	repo_ixset_release(&s);
	return rc;
}

/* ---- repair index ---- */

struct rebuild {
	struct repo *r;
	struct err *e;
	struct repo_ixw *w; /* NULL for a dry run */
	struct repo_repair_result *res;
	uint64_t *sizes; /* of res->damaged's packs, for the bound on kept entries */
	size_t cap;
};

void repo_repair_result_release(struct repo_repair_result *res)
{
	free(res->damaged);
	memset(res, 0, sizeof(*res));
}

/* Remember a pack whose header does not open, for the pass over the old index. */
static int note_damaged(struct rebuild *rb, const uint8_t pack[ID_BYTES], uint64_t size,
			const char *msg)
{
	struct repo_repair_result *res = rb->res;
	struct repo_repair_pack *d;

	if (res->n_damaged == rb->cap) {
		size_t cap = rb->cap ? 2 * rb->cap : 16;
		void *v = reallocarray(res->damaged, cap, sizeof(*res->damaged));
		void *z;

		if (!v)
			return -ENOMEM;
		res->damaged = v;
		z = reallocarray(rb->sizes, cap, sizeof(*rb->sizes));
		if (!z)
			return -ENOMEM;
		rb->sizes = z;
		rb->cap = cap;
	}
	rb->sizes[res->n_damaged] = size;
	d = &res->damaged[res->n_damaged++];
	memset(d, 0, sizeof(*d));
	memcpy(d->id, pack, ID_BYTES);
	/* Cut to fit: the message names the pack and the reason in its first words. */
	memcpy(d->msg, msg, strnlen(msg, sizeof(d->msg) - 1));
	res->bad_packs++;
	return 0;
}

/* One pack's header straight into the new index files: the header is checked whole when
 * opened, so a damaged pack is set aside before any of its entries is written. */
static int rebuild_one(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct rebuild *rb = ud;
	struct repo_pack_hdr *h = NULL;
	struct repo_ix_blob b;
	int rc;

	rc = repo_pack_hdr_open(rb->r, pack, size, &h, rb->e);
	if (rc == -EBADMSG) {
		/* Unreadable header: the old index may still know the pack (keep_old). */
		rc = note_damaged(rb, pack, size, rb->e->msg);
		err_clear(rb->e);
		return rc < 0 ? err_set(rb->e, rc, "out of memory") : 0;
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

/* An old index entry can be trusted no further than the pack: it must lie before the
 * pack's trailing length field and a sealed header's overhead. */
static bool within(const struct repo_ix_blob *b, uint64_t size)
{
	uint64_t end = (uint64_t)b->offset + b->stored_len;

	return size >= 4 + KEY_SEAL_OVERHEAD && end <= size - 4 - KEY_SEAL_OVERHEAD &&
	       b->type < _BLOB_TYPE_MAX;
}

/* A pack of the old index files: when its header did not open, its entries (those that fit
 * in the pack) go into the new index in the old order. */
static int keep_old(void *ud, const struct repo_ix_pack *ip)
{
	struct rebuild *rb = ud;
	struct repo_repair_result *res = rb->res;
	struct repo_repair_pack *d = NULL;
	uint64_t size = 0;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < res->n_damaged && !d; i++)
		if (!memcmp(res->damaged[i].id, ip->id, ID_BYTES) && !res->damaged[i].kept) {
			d = &res->damaged[i];
			size = rb->sizes[i];
		}
	if (!d)
		return 0;
	for (size_t j = 0; j < ip->n_blobs; j++)
		n += within(&ip->blobs[j], size);
	d->kept = n > 0;
	d->blobs_kept = n;
	d->blobs_dropped = ip->n_blobs - n;
	if (!n)
		return 0;
	res->kept_packs++;
	res->kept_blobs += n;
	if (rb->w)
		rc = repo_ixw_pack(rb->w, ip->id, n, rb->e);
	for (size_t j = 0; rc >= 0 && rb->w && j < ip->n_blobs; j++)
		if (within(&ip->blobs[j], size))
			rc = repo_ixw_blob(rb->w, &ip->blobs[j], rb->e);
	return rc;
}

/* The old index files' entries for the packs whose header did not open. A damaged old
 * file is passed over: the rebuild does not depend on it. Damaged packs are few, so the
 * lookup is a scan. */
static int keep_damaged(struct rebuild *rb, struct repo_ixset *old)
{
	struct ixread c = { .s = old, .fn = keep_old, .ud = rb };
	int rc;

	if (!rb->res->n_damaged || !old->n_names)
		return 0;
	rc = ixread_names(rb->r, &c, true, rb->e);
	free(c.one.blobs);
	return rc;
}

int repo_repair_index(struct repo *r, bool dry_run, struct repo_repair_result *ret,
		      struct err *e)
{
	struct repo_repair_result res = { 0 };
	struct rebuild rb = { .r = r, .e = e, .res = &res };
	struct repo_ixset old = { 0 };
	int rc;

	/* An entry of index/ that is no file stops every other command: it is moved to
	 * aside/ (repo_index_aside reports it) and the index is rebuilt without it. */
	rc = repo_index_list_aside(r, dry_run, collect_name, &old, e);
	if (rc >= 0 && !dry_run && (rc = repo_ixw_new(r, old.names, old.n_names, &rb.w)) < 0)
		err_set(e, rc, "index writer: %s", strerror(-rc));
	/* New files first (written as the headers are read): until the old ones are gone both
	 * describe existing packs. */
	if (rc >= 0)
		rc = repo_pack_list(r, rebuild_one, &rb, e);
	if (rc >= 0)
		rc = keep_damaged(&rb, &old);
	if (rc >= 0 && rb.w)
		rc = repo_ixw_finish(rb.w, NULL, e);
	for (size_t i = 0; rc >= 0 && rb.w && i < old.n_names; i++)
		rc = backend_del(repo_backend(r), OBJ_INDEX, old.names[i], e);
	if (rc < 0)
		goto fail;
	res.old_index_files = old.n_names;
	*ret = res;
	memset(&res, 0, sizeof(res));
fail:
	repo_repair_result_release(&res);
	free(rb.sizes);
	repo_ixw_free(rb.w);
	repo_ixset_release(&old);
	return rc;
}
