/* Owns reading a pack's header: the sealed header is fetched once, opened in place and
 * walked entry by entry, so no reader holds a decoded copy of a 300 000-blob header beside
 * its plaintext (repo/admin.h, repo_pack_hdr_*). */
#include "repo/admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo-internal.h"
#include "util/banned.h"
#include "util/ckd.h"

/* An entry is at least u8 type, u8 flags, id[32], two one-byte varints. */
#define HDR_ENTRY_MIN 36u

struct repo_pack_hdr {
	struct buf sealed; /* nonce || plaintext (opened in place) || tag */
	struct rd rd;      /* over the plaintext, at the next entry */
	size_t first;      /* offset of the first entry in the plaintext */
	uint64_t n, i;     /* entries; entries read */
	uint64_t off;      /* offset of the next entry's blob */
	uint64_t data_len; /* bytes before the header: every blob ends within them */
};

/* One entry, every field bounds-checked; off advances past its blob. */
static int hdr_entry(struct rd *rd, uint64_t *off, uint64_t data_len, struct repo_ix_blob *ret)
{
	const uint8_t *id;
	uint64_t sl, rl, end;
	uint8_t type, flags;
	int rc;

	rc = rd_u8(rd, &type);
	if (rc >= 0)
		rc = rd_u8(rd, &flags);
	if (rc >= 0)
		rc = rd_bytes(rd, ID_BYTES, &id);
	if (rc >= 0)
		rc = rd_varint(rd, &sl);
	if (rc >= 0)
		rc = rd_varint(rd, &rl);
	if (rc < 0 || type >= _BLOB_TYPE_MAX || sl > UINT32_MAX || rl > REPO_BLOB_MAX ||
	    sl < KEY_SEAL_OVERHEAD || *off > UINT32_MAX || ckd_add(&end, *off, sl) ||
	    end > data_len)
		return -EBADMSG;
	memcpy(ret->id, id, ID_BYTES);
	ret->type = type;
	ret->compressed = flags;
	ret->offset = (uint32_t)*off;
	ret->stored_len = (uint32_t)sl;
	ret->raw_len = (uint32_t)rl;
	*off = end;
	return 0;
}

/* Magic, count, and every entry once (nothing kept): a damaged header fails here, before a
 * caller has acted on its first entries. */
static int hdr_parse(struct repo_pack_hdr *h, const uint8_t *p, size_t n)
{
	struct repo_ix_blob b;
	uint64_t off = 0;
	uint32_t magic;
	struct rd rd;
	int rc;

	rd_init(&h->rd, p, n);
	rc = rd_le32(&h->rd, &magic);
	if (rc < 0 || magic != PACK_HEADER_MAGIC)
		return -EBADMSG;
	rc = rd_varint(&h->rd, &h->n);
	if (rc < 0 || h->n > PACK_MAX_BLOBS || h->n > rd_left(&h->rd) / HDR_ENTRY_MIN)
		return -EBADMSG;
	h->first = h->rd.off;
	rd = h->rd;
	for (uint64_t i = 0; i < h->n; i++)
		if (hdr_entry(&rd, &off, h->data_len, &b) < 0)
			return -EBADMSG;
	return 0;
}

/* The sealed header's length from the pack's last four bytes, checked against the pack. */
static int hdr_length(struct repo *r, const char *name, uint64_t size, uint32_t *ret, struct err *e)
{
	struct buf tail = BUF_INIT;
	uint32_t hlen;
	int rc;

	buf_init(&tail, 4);
	rc = r->be->ops->get(r->be, OBJ_DATA, name, size - 4, 4, &tail, e);
	if (rc >= 0 && tail.len != 4)
		rc = err_set(e, -EBADMSG, "pack %s is truncated", name);
	if (rc < 0)
		goto fail;
	hlen = (uint32_t)tail.p[0] | (uint32_t)tail.p[1] << 8 | (uint32_t)tail.p[2] << 16 |
	       (uint32_t)tail.p[3] << 24;
	if (hlen < KEY_SEAL_OVERHEAD || hlen > PACK_HEADER_MAX + KEY_SEAL_OVERHEAD ||
	    hlen > size - 4) {
		rc = err_set(e, -EBADMSG, "pack %s: header length %u is invalid (truncated?)", name,
		             hlen);
		goto fail;
	}
	*ret = hlen;
fail:
	buf_release(&tail);
	return rc;
}

int repo_pack_hdr_len(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t size,
                      uint32_t *ret, struct err *e)
{
	char name[ID_HEX];

	hex_encode(pack, ID_BYTES, name);
	if (size < 4 + KEY_SEAL_OVERHEAD)
		return err_set(e, -EBADMSG, "pack %s is truncated (%llu bytes)", name,
		               (unsigned long long)size);
	return hdr_length(r, name, size, ret, e);
}

int repo_pack_hdr_open(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t size,
                       struct repo_pack_hdr **ret, struct err *e)
{
	struct repo_pack_hdr *h = NULL;
	char name[ID_HEX];
	uint32_t hlen = 0;
	int rc;

	hex_encode(pack, ID_BYTES, name);
	if (size < 4 + KEY_SEAL_OVERHEAD)
		return err_set(e, -EBADMSG, "pack %s is truncated (%llu bytes)", name,
		               (unsigned long long)size);
	rc = hdr_length(r, name, size, &hlen, e);
	if (rc < 0)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(e, -ENOMEM, "out of memory");
	h->data_len = size - 4 - hlen;
	buf_init(&h->sealed, hlen); /* exactly the header: one allocation, no doubling */
	rc = r->be->ops->get(r->be, OBJ_DATA, name, h->data_len, hlen, &h->sealed, e);
	if (rc < 0)
		goto fail;
	/* Opened in place: the plaintext overwrites the ciphertext (crypto.h, key_open). */
	rc = h->sealed.len == hlen ? key_open(r->key, KEY_DOMAIN_PACK_HEADER, h->sealed.p, hlen,
	                                      h->sealed.p + KEY_NONCE_BYTES)
	                           : -EBADMSG;
	if (rc >= 0)
		rc = hdr_parse(h, h->sealed.p + KEY_NONCE_BYTES, hlen - KEY_SEAL_OVERHEAD);
	if (rc < 0) {
		err_set(e, -EBADMSG, "pack %s: header fails authentication or is malformed", name);
		rc = -EBADMSG;
		goto fail;
	}
	*ret = h;
	return 0;
fail:
	repo_pack_hdr_free(h);
	return rc;
}

int repo_pack_hdr_next(struct repo_pack_hdr *h, struct repo_ix_blob *ret)
{
	int rc;

	if (h->i >= h->n)
		return 0;
	rc = hdr_entry(&h->rd, &h->off, h->data_len, ret);
	if (rc < 0)
		return rc;
	h->i++;
	return 1;
}

void repo_pack_hdr_rewind(struct repo_pack_hdr *h)
{
	h->rd.off = h->first;
	h->i = 0;
	h->off = 0;
}

size_t repo_pack_hdr_count(const struct repo_pack_hdr *h)
{
	return (size_t)h->n;
}

void repo_pack_hdr_free(struct repo_pack_hdr *h)
{
	if (!h)
		return;
	buf_release(&h->sealed);
	free(h);
}

int pack_read_header(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t size,
                     struct pack_blob **ret, size_t *ret_n, struct err *e)
{
	struct repo_pack_hdr *h = NULL;
	struct pack_blob *v = NULL;
	struct repo_ix_blob b;
	size_t n, i = 0;
	int rc;

	rc = repo_pack_hdr_open(r, pack, size, &h, e);
	if (rc < 0)
		return rc;
	n = repo_pack_hdr_count(h);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	while ((rc = repo_pack_hdr_next(h, &b)) > 0) {
		memcpy(v[i].id, b.id, ID_BYTES);
		v[i].type = b.type;
		v[i].compressed = b.compressed;
		v[i].stored_len = b.stored_len;
		v[i].raw_len = b.raw_len;
		i++;
	}
	if (rc < 0) {
		err_set(e, rc, "pack header is malformed");
		goto fail;
	}
	*ret = v;
	*ret_n = n;
	v = NULL;
fail:
	free(v);
	repo_pack_hdr_free(h);
	return rc;
}
