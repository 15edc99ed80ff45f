/* Owns the pack-range read path: a run of adjacent blobs of one pack is fetched with one
 * ranged read (one GET on S3 instead of one per blob), then each blob is opened, checked
 * and decompressed from the fetched bytes; check --read-data verifies a pack range by
 * range. */
#include "repo/admin.h"
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

int repo_pack_read_watch(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t off, uint64_t n,
                         struct buf *out, backend_watch_fn watch, void *ud, struct err *e)
{
	char name[ID_HEX];
	uint64_t end;
	int rc;

	hex_encode(pack, ID_BYTES, name);
	/* n == 0 would mean "to the end" to the backend: a range is always explicit here. */
	if (!n || ckd_add(&end, off, n))
		return err_set(e, -EINVAL, "pack %s: bad range %llu+%llu", name,
		               (unsigned long long)off, (unsigned long long)n);
	rc = backend_get_watch(r->be, OBJ_DATA, name, off, n, out, watch, ud, e);
	if (rc < 0)
		err_wrap(e, rc, "pack %s", name);
	return rc;
}

int repo_pack_read(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t off, uint64_t n,
                   struct buf *out, struct err *e)
{
	return repo_pack_read_watch(r, pack, off, n, out, NULL, NULL, e);
}

int repo_blob_open_here(struct repo *r, const uint8_t id[ID_BYTES], const struct blob_loc *loc,
                        const uint8_t *sealed, size_t n, struct buf *out)
{
	if (!sealed || n != loc->stored_len)
		return -EBADMSG;
	return blob_decode(r, id, sealed, n, loc->raw_len, loc->compressed, out);
}

int repo_blob_open(struct repo *r, const uint8_t id[ID_BYTES], const struct blob_loc *loc,
                   const uint8_t *sealed, size_t n, struct buf *out, struct err *e)
{
	char pack[ID_HEX], blob[ID_HEX];
	int rc = repo_blob_open_here(r, id, loc, sealed, n, out);

	/* Another copy, when the blob is stored twice: fetched and opened here, so a caller
	 * that read a run of blobs needs nothing more. */
	if (rc < 0 && rc != -ENOMEM && index_dup_read(r, loc->type, id, loc, out) == 0)
		rc = 0;
	if (rc >= 0)
		return 0;
	hex_encode(loc->pack, ID_BYTES, pack);
	hex_encode(id, ID_BYTES, blob);
	if (rc == -EBADMSG)
		return err_reset(e, rc, "pack %s: blob %s fails authentication (corrupt or forged)",
		                 pack, blob);
	return err_set(e, rc, "pack %s: blob %s: %s", pack, blob, strerror(-rc));
}

/* check --read-data reads a pack in ranges of this size (or one blob, when larger), the
 * name hash fed range by range: its memory does not grow with the pack. */
#define VERIFY_RANGE (4u << 20)

struct verify {
	struct repo *r;
	const uint8_t *pack;
	char name[ID_HEX];
	uint64_t size;
	struct buf *data; /* the current range: pack bytes [at, at + data->len) */
	uint64_t at;
	uint64_t hashed; /* pack bytes [0, hashed) are in the name hash */
	struct name_hash *nh;
	repo_pack_problem_fn fn;
	void *ud;
	int problems;
};

static void verify_problem(struct verify *v, const uint8_t *blob, const char *msg)
{
	v->fn(v->ud, v->pack, blob, msg);
	v->problems++;
}

/* The window's bytes from hashed up to upto into the name hash (each byte once, in order). */
static void verify_feed(struct verify *v, uint64_t upto)
{
	if (upto <= v->hashed)
		return;
	name_hash_update(v->nh, v->data->p + (v->hashed - v->at), upto - v->hashed);
	v->hashed = upto;
}

/* The next range, from the first byte not hashed: VERIFY_RANGE bytes, or through need when
 * that is further (a blob is always whole in one range), never past the listed size. A
 * short answer (the object shrank since it was listed) leaves a shorter window. */
static int verify_fetch(struct verify *v, uint64_t need, struct err *e)
{
	uint64_t n = VERIFY_RANGE;
	int rc;

	if (need > v->hashed && need - v->hashed > n)
		n = need - v->hashed;
	if (n > v->size - v->hashed)
		n = v->size - v->hashed;
	buf_reset(v->data);
	v->at = v->hashed;
	if (!n)
		return 0;
	rc = v->r->be->ops->get(v->r->be, OBJ_DATA, v->name, v->at, n, v->data, e);
	if (rc >= 0 && v->data->len > n)
		v->data->len = (size_t)n; /* never trust more than was asked for */
	return rc;
}

/* One blob of the header, fetched into the window if it is not wholly there: opened,
 * re-hashed against its id, and its index entry compared. 1 when the pack ends before the
 * blob does (nothing after it can be read either), 2 when the blob is too big to fetch. */
static int verify_blob(struct verify *v, struct opener *op, const struct repo_ix_blob *b,
                       struct err *e)
{
	uint64_t end = (uint64_t)b->offset + b->stored_len;
	struct blob_loc loc;
	char msg[200];
	int rc;

	if (b->stored_len > v->data->max) {
		/* Bigger than any range may be: hashing goes on without the blobs. */
		verify_problem(v, b->id, "blob is larger than any blob cairn writes");
		return 2;
	}
	if (b->offset < v->at || end > v->at + v->data->len) {
		verify_feed(v, b->offset < v->at + v->data->len ? b->offset : v->at + v->data->len);
		if (v->hashed < b->offset || (rc = verify_fetch(v, end, e)) < 0)
			return v->hashed < b->offset ? 1 : rc;
		if (end > v->at + v->data->len)
			return 1;
	}
	buf_reset(&op->plain);
	rc = blob_decode(v->r, b->id, v->data->p + (b->offset - v->at), b->stored_len, b->raw_len,
	                 b->compressed, &op->plain);
	if (rc < 0)
		verify_problem(v, b->id, "blob fails authentication (corrupt or forged)");
	if (repo_blob_lookup(v->r, b->type, b->id, &loc) == 0 &&
	    memcmp(loc.pack, v->pack, ID_BYTES) == 0 && loc.offset != b->offset) {
		snprintf(msg, sizeof(msg), "index offset %u disagrees with pack header %u",
		         loc.offset, b->offset);
		verify_problem(v, b->id, msg);
	}
	return 0;
}

/* Every blob in header order (blobs lie back to back from offset 0), then the rest of the
 * pack (its header) through the name hash. */
static int verify_ranges(struct verify *v, struct opener *op, struct repo_pack_hdr *h,
                         struct err *e)
{
	struct repo_ix_blob b;
	bool short_read;
	char msg[200];
	int rc = 0;

	/* The header was checked whole when opened: next fails on nothing but a bug. */
	while (h && rc == 0 && repo_pack_hdr_next(h, &b) > 0)
		rc = verify_blob(v, op, &b, e);
	if (rc < 0)
		return rc;
	short_read = rc == 1;
	if (short_read) {
		snprintf(msg, sizeof(msg),
		         "blob at offset %u (%u bytes) lies past the %llu bytes read", b.offset,
		         b.stored_len, (unsigned long long)(v->at + v->data->len));
		verify_problem(v, b.id, msg);
	}
	for (;;) {
		verify_feed(v, v->at + v->data->len);
		if (v->hashed >= v->size)
			return 0;
		if (short_read)
			break; /* the object ends before its listed size */
		rc = verify_fetch(v, 0, e);
		if (rc < 0)
			return rc;
		short_read = !v->data->len;
	}
	snprintf(msg, sizeof(msg), "pack read as %llu bytes but listed as %llu",
	         (unsigned long long)v->hashed, (unsigned long long)v->size);
	verify_problem(v, NULL, msg);
	return 0;
}

int repo_pack_verify(struct repo *r, const uint8_t pack[ID_BYTES], repo_pack_problem_fn fn,
                     void *ud, struct err *e)
{
	struct verify v = { .r = r, .pack = pack, .fn = fn, .ud = ud };
	struct repo_pack_hdr *h = NULL;
	struct opener *op = opener_take(r);
	uint8_t hash[ID_BYTES];
	int rc;

	if (!op)
		return err_set(e, -ENOMEM, "out of memory");
	hex_encode(pack, ID_BYTES, v.name);
	rc = r->be->ops->stat(r->be, OBJ_DATA, v.name, &v.size, e);
	if (rc < 0) {
		verify_problem(&v, NULL, rc == -ENOENT ? "pack is missing" : "pack cannot be read");
		goto done;
	}
	/* Pooled buffers (each range and each decoded blob): a check reads every pack, and
	 * fresh buffers per pack cost page faults worth a third of the run. */
	v.data = &op->raw;
	buf_reset(v.data);
	v.nh = name_hash_new(r->name_alg);
	if (!v.nh) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto done;
	}
	rc = repo_pack_hdr_open(r, pack, v.size, &h, e);
	if (rc < 0) {
		/* The blobs cannot be found without it; the name hash is still checked. */
		verify_problem(&v, NULL, e->msg);
		err_clear(e);
	}
	rc = verify_ranges(&v, op, h, e);
	if (rc < 0) {
		verify_problem(&v, NULL, "pack cannot be read");
		err_clear(e);
		goto done;
	}
	rc = name_hash_final(v.nh, hash);
	v.nh = NULL;
	if (rc < 0 || memcmp(hash, pack, ID_BYTES) != 0)
		verify_problem(&v, NULL,
		               "pack content does not match its name (modified or truncated)");
done:
	if (v.nh)
		(void)!name_hash_final(v.nh, hash); /* frees it */
	repo_pack_hdr_free(h);
	opener_give(r, op);
	return rc == -ENOMEM ? rc : v.problems;
}
