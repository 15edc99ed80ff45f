/* Owns index files as whole sets (read every file as written, write new files that
 * supersede old ones) and the repairs built on them: rebuilding the index from pack
 * headers (rewriting snapshots that reference missing blobs is repair_snapshots.c). */
#include "repo/maint.h"
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

/* New index files hold at most this many packs (well under INDEX_FILE_MAX). */
#define IX_PACKS_PER_FILE 2048

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

/* Builds an ixset from index_walk's entries. A pack listed by two files (an interrupted
 * prune, adopted orphans) is kept once: a hash set, so large repositories stay linear. */
struct ixread {
	struct repo_ixset *s;
	struct repo_idset seen;
	const uint8_t *cur;      /* pack pointer of the entries being read */
	struct repo_ix_pack *p;  /* where they go; NULL while skipping a duplicate */
	size_t cap;
};

static int ixread_entry(void *ud, const struct ix_entry *x)
{
	struct ixread *c = ud;
	struct repo_ix_blob *b;
	int rc;

	if (x->pack != c->cur) {
		c->cur = x->pack;
		c->p = NULL;
		rc = repo_idset_add(&c->seen, x->pack);
		if (rc <= 0)
			return rc;
		rc = ixset_grow(c->s);
		if (rc < 0)
			return rc;
		c->p = &c->s->packs[c->s->n_packs++];
		memset(c->p, 0, sizeof(*c->p));
		memcpy(c->p->id, x->pack, ID_BYTES);
		c->cap = 0;
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
	memcpy(b->id, x->id, ID_BYTES);
	b->type = x->type;
	b->compressed = x->compressed;
	b->offset = (uint32_t)x->offset;
	b->stored_len = (uint32_t)x->stored_len;
	b->raw_len = (uint32_t)x->raw_len;
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

int repo_ixset_load(struct repo *r, struct repo_ixset *ret, struct err *e)
{
	struct repo_ixset s = { 0 };
	struct ixread c = { .s = &s };
	int rc;

	rc = r->be->ops->list(r->be, OBJ_INDEX, collect_name, &s, e);
	for (size_t i = 0; rc >= 0 && i < s.n_names; i++) {
		c.cur = NULL; /* a new file's buffer may reuse the last one's address */
		rc = index_walk(r, s.names[i], ixread_entry, &c, e);
	}
	repo_idset_release(&c.seen);
	if (rc < 0) {
		repo_ixset_release(&s);
		return rc;
	}
	*ret = s;
	return 0;
}

static int encode_file(const struct repo_ix_pack *packs, size_t n, char (*sup)[ID_HEX],
		       size_t n_sup, struct buf *b)
{
	uint8_t id[ID_BYTES];
	int rc = buf_put_le32(b, INDEX_MAGIC);

	if (rc >= 0)
		rc = buf_put_varint(b, n_sup);
	for (size_t i = 0; rc >= 0 && i < n_sup; i++) {
		rc = hex_decode(sup[i], id, ID_BYTES) < 0 ? -EINVAL : 0;
		if (rc >= 0)
			rc = buf_append(b, id, ID_BYTES);
	}
	if (rc >= 0)
		rc = buf_put_varint(b, n);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		rc = buf_append(b, packs[i].id, ID_BYTES);
		if (rc >= 0)
			rc = buf_put_varint(b, packs[i].n_blobs);
		for (size_t j = 0; rc >= 0 && j < packs[i].n_blobs; j++) {
			const struct repo_ix_blob *pb = &packs[i].blobs[j];

			rc = buf_put_u8(b, pb->type);
			if (rc >= 0)
				rc = buf_put_u8(b, pb->compressed);
			if (rc >= 0)
				rc = buf_append(b, pb->id, ID_BYTES);
			if (rc >= 0)
				rc = buf_put_varint(b, pb->offset);
			if (rc >= 0)
				rc = buf_put_varint(b, pb->stored_len);
			if (rc >= 0)
				rc = buf_put_varint(b, pb->raw_len);
		}
	}
	return rc;
}

int repo_ixset_write(struct repo *r, const struct repo_ix_pack *packs, size_t n,
		     char (*sup)[ID_HEX], size_t n_sup, struct err *e)
{
	struct buf b = BUF_INIT;
	int rc = 0;

	buf_init(&b, INDEX_FILE_MAX);
	/* An empty repository still gets one (empty) file, so the supersedes list is
	 * recorded. */
	for (size_t at = 0; rc >= 0 && (at < n || (at == 0 && n == 0));) {
		size_t k = n - at < IX_PACKS_PER_FILE ? n - at : IX_PACKS_PER_FILE;

		buf_reset(&b);
		rc = encode_file(packs + at, k, sup, n_sup, &b);
		if (rc < 0) {
			err_set(e, rc, "index too large");
			break;
		}
		rc = obj_seal_put(r, OBJ_INDEX, KEY_DOMAIN_INDEX, b.p, b.len, NULL, e);
		at += k;
		if (!n)
			break;
	}
	buf_release(&b);
	return rc;
}

/* ---- repair index ---- */

struct rebuild {
	struct repo *r;
	struct err *e;
	struct repo_ixset out;
	struct repo_repair_result *res;
};

static int rebuild_one(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct rebuild *rb = ud;
	struct pack_blob *blobs = NULL;
	struct repo_ix_pack *p;
	uint64_t off = 0;
	size_t n = 0;
	int rc;

	rc = pack_read_header(rb->r, pack, size, &blobs, &n, rb->e);
	if (rc == -EBADMSG) {
		/* Unreadable header: leave the pack out (check names it; prune deletes it). */
		err_clear(rb->e);
		rb->res->bad_packs++;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = ixset_grow(&rb->out);
	if (rc < 0)
		goto fail;
	p = &rb->out.packs[rb->out.n_packs];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, pack, ID_BYTES);
	p->blobs = calloc(n ? n : 1, sizeof(*p->blobs));
	if (!p->blobs) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(p->blobs[i].id, blobs[i].id, ID_BYTES);
		p->blobs[i].type = blobs[i].type;
		p->blobs[i].compressed = blobs[i].compressed;
		p->blobs[i].offset = (uint32_t)off;
		p->blobs[i].stored_len = blobs[i].stored_len;
		p->blobs[i].raw_len = blobs[i].raw_len;
		off += blobs[i].stored_len;
	}
	p->n_blobs = n;
	rb->out.n_packs++;
	rb->res->packs++;
	rb->res->blobs += n;
fail:
	free(blobs);
	return rc;
}

int repo_repair_index(struct repo *r, bool dry_run, struct repo_repair_result *ret,
		      struct err *e)
{
	struct repo_repair_result res = { 0 };
	struct rebuild rb = { .r = r, .e = e, .res = &res };
	struct repo_ixset old = { 0 };
	int rc;

	rc = r->be->ops->list(r->be, OBJ_INDEX, collect_name, &old, e);
	if (rc >= 0)
		rc = repo_pack_list(r, rebuild_one, &rb, e);
	if (rc < 0)
		goto fail;
	res.old_index_files = old.n_names;
	if (!dry_run) {
		/* New files first: until the old ones are gone both describe existing packs. */
		rc = repo_ixset_write(r, rb.out.packs, rb.out.n_packs, old.names, old.n_names, e);
		for (size_t i = 0; rc >= 0 && i < old.n_names; i++)
			rc = r->be->ops->del(r->be, OBJ_INDEX, old.names[i], e);
		if (rc < 0)
			goto fail;
	}
	*ret = res;
fail:
	repo_ixset_release(&old);
	repo_ixset_release(&rb.out);
	return rc;
}
