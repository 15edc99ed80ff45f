/* Owns index files as whole sets (read every file as written, write new files that
 * supersede old ones) and the repairs built on them: rebuilding the index from pack
 * headers. (Rewriting snapshots that reference missing blobs is still to come.) */
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

static int decode_one_pack(struct rd *rd, struct repo_ix_pack *p)
{
	const uint8_t *pid, *id;
	uint64_t n, off, sl, rl;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = rd_bytes(rd, ID_BYTES, &pid);
	if (rc >= 0)
		rc = rd_varint(rd, &n);
	if (rc < 0 || n > PACK_MAX_BLOBS || n > rd_left(rd) / 36)
		return -EBADMSG;
	memcpy(p->id, pid, ID_BYTES);
	p->blobs = calloc(n ? n : 1, sizeof(*p->blobs));
	if (!p->blobs)
		return -ENOMEM;
	for (uint64_t j = 0; j < n; j++) {
		struct repo_ix_blob *b = &p->blobs[j];

		rc = rd_u8(rd, &b->type);
		if (rc >= 0)
			rc = rd_u8(rd, &b->compressed);
		if (rc >= 0)
			rc = rd_bytes(rd, ID_BYTES, &id);
		if (rc >= 0)
			rc = rd_varint(rd, &off);
		if (rc >= 0)
			rc = rd_varint(rd, &sl);
		if (rc >= 0)
			rc = rd_varint(rd, &rl);
		if (rc < 0 || b->type >= _BLOB_TYPE_MAX || off > UINT32_MAX || sl > UINT32_MAX ||
		    rl > REPO_BLOB_MAX) {
			free(p->blobs);
			p->blobs = NULL;
			return -EBADMSG;
		}
		memcpy(b->id, id, ID_BYTES);
		b->offset = (uint32_t)off;
		b->stored_len = (uint32_t)sl;
		b->raw_len = (uint32_t)rl;
		p->n_blobs++;
	}
	return 0;
}

static bool ixset_has_pack(const struct repo_ixset *s, const uint8_t id[ID_BYTES])
{
	for (size_t i = s->n_packs; i-- > 0;)
		if (!memcmp(s->packs[i].id, id, ID_BYTES))
			return true;
	return false;
}

static int ixset_read(struct repo *r, struct repo_ixset *s, const char *name, struct err *e)
{
	struct buf b = BUF_INIT;
	uint64_t n_sup, n;
	uint32_t magic;
	struct rd rd;
	int rc;

	buf_init(&b, INDEX_FILE_MAX);
	rc = obj_get_open(r, OBJ_INDEX, KEY_DOMAIN_INDEX, name, &b, e);
	if (rc < 0)
		goto fail;
	rd_init(&rd, b.p, b.len);
	rc = rd_le32(&rd, &magic);
	if (rc >= 0 && magic != INDEX_MAGIC)
		rc = -EBADMSG;
	if (rc >= 0)
		rc = rd_varint(&rd, &n_sup);
	if (rc >= 0 && n_sup > rd_left(&rd) / ID_BYTES)
		rc = -EBADMSG;
	if (rc >= 0)
		rd.off += n_sup * ID_BYTES;
	if (rc >= 0)
		rc = rd_varint(&rd, &n);
	for (uint64_t i = 0; rc >= 0 && i < n; i++) {
		rc = ixset_grow(s);
		if (rc >= 0)
			rc = decode_one_pack(&rd, &s->packs[s->n_packs]);
		if (rc < 0)
			break;
		/* A pack listed by two files (an interrupted prune) is the same pack. */
		if (ixset_has_pack(s, s->packs[s->n_packs].id))
			free(s->packs[s->n_packs].blobs);
		else
			s->n_packs++;
	}
	if (rc < 0)
		err_set(e, rc, "index %s is malformed", name);
fail:
	buf_release(&b);
	return rc;
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
	int rc;

	rc = r->be->ops->list(r->be, OBJ_INDEX, collect_name, &s, e);
	for (size_t i = 0; rc >= 0 && i < s.n_names; i++)
		rc = ixset_read(r, &s, s.names[i], e);
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
