/* Owns pack files: blobs are appended (already sealed) to a spool file and hashed on the
 * way (the name hash sees every byte as it is written, so nothing is read back); a full
 * pack gets its sealed header and a 4-byte header length, is named by the hash of all its
 * bytes and uploaded, then its blobs enter the index.
 *
 *   pack := blob* sealed_header le32(len(sealed_header))
 *   header := le32 magic, varint n, n * (u8 type, u8 flags, id[32], varint stored, varint raw)
 */
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/fsutil.h"

void pack_writer_free(struct pack_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->hash) {
		uint8_t unused[ID_BYTES];

		(void)!name_hash_final(w->hash, unused); /* frees it */
	}
	free(w->blobs);
	free(w);
}

static int pack_writer_new(struct repo *r, struct pack_writer **ret, struct err *e)
{
	struct pack_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return err_set(e, -ENOMEM, "out of memory");
	w->fd = -1;
	w->hash = name_hash_new(r->name_alg);
	if (!w->hash) {
		pack_writer_free(w);
		return err_set(e, -ENOMEM, "out of memory");
	}
	rc = r->be->ops->tmpfile(r->be, &w->fd, e);
	if (rc < 0) {
		pack_writer_free(w);
		return rc;
	}
	*ret = w;
	return 0;
}

/* The bytes are hashed while still in this thread's cache: hashing the spool file after
 * the fact cost a pread copy of every pack and a fresh 1 MiB buffer per pack (about 0.3 s
 * of CPU per GiB backed up). With SHA-NI or BLAKE2b the hash adds little to the time the
 * pack lock is held around the write. */
static int pack_write(struct pack_writer *w, const void *p, size_t n)
{
	int rc = write_full(w->fd, p, n);

	if (rc < 0)
		return rc;
	name_hash_update(w->hash, p, n);
	w->size += n;
	return 0;
}

static int header_encode(const struct pack_blob *b, size_t n, struct buf *out)
{
	int rc = buf_put_le32(out, PACK_HEADER_MAGIC);

	if (rc >= 0)
		rc = buf_put_varint(out, n);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		rc = buf_put_u8(out, b[i].type);
		if (rc >= 0)
			rc = buf_put_u8(out, b[i].compressed);
		if (rc >= 0)
			rc = buf_append(out, b[i].id, ID_BYTES);
		if (rc >= 0)
			rc = buf_put_varint(out, b[i].stored_len);
		if (rc >= 0)
			rc = buf_put_varint(out, b[i].raw_len);
	}
	return rc;
}

/* Seal the header, finish the file, upload it and index its blobs. Consumes w. */
static int pack_finish(struct repo *r, struct pack_writer *w, struct err *e)
{
	struct buf sealed = BUF_INIT;
	uint8_t id[ID_BYTES], len[4];
	char name[ID_HEX];
	size_t n;
	int rc;

	/* The header is encoded after room for the nonce and sealed in place (crypto.h,
	 * key_seal): a pack of 300 000 tiny blobs has a 12 MB header, held once, not twice. */
	buf_init(&sealed, PACK_HEADER_MAX + KEY_SEAL_OVERHEAD);
	rc = buf_reserve(&sealed, KEY_NONCE_BYTES);
	if (rc >= 0) {
		sealed.len = KEY_NONCE_BYTES;
		rc = header_encode(w->blobs, w->n_blobs, &sealed);
	}
	if (rc >= 0)
		rc = buf_reserve(&sealed, KEY_TAG_BYTES);
	if (rc < 0) {
		err_set(e, rc, "pack header too large");
		goto fail;
	}
	n = sealed.len - KEY_NONCE_BYTES;
	rc = key_seal(r->key, KEY_DOMAIN_PACK_HEADER, sealed.p + KEY_NONCE_BYTES, n, sealed.p);
	if (rc < 0)
		goto fail;
	sealed.len = n + KEY_SEAL_OVERHEAD;
	for (int i = 0; i < 4; i++)
		len[i] = (uint8_t)(sealed.len >> (8 * i));
	rc = pack_write(w, sealed.p, sealed.len);
	if (rc >= 0)
		rc = pack_write(w, len, 4);
	if (rc < 0) {
		err_set(e, rc, "%s: writing pack spool file: %s", r->be->where, strerror(-rc));
		goto fail;
	}
	/* The name covers every byte written above; the file is synced and renamed into
	 * place by put_fd before the pack is indexed, as before. */
	rc = name_hash_final(w->hash, id);
	w->hash = NULL; /* freed by name_hash_final */
	if (rc < 0) {
		err_set(e, rc, "hashing pack spool file: %s", strerror(-rc));
		goto fail;
	}
	hex_encode(id, ID_BYTES, name);
	rc = repo_lock_check(r, e);
	if (rc >= 0)
		rc = r->be->ops->put_fd(r->be, OBJ_DATA, name, w->fd, w->size, e);
	if (rc < 0)
		goto fail;
	rc = index_add_pack(r, id, w->blobs, w->n_blobs, false);
	if (rc < 0) {
		err_set(e, rc, "indexing pack %s", name);
		goto fail;
	}
	/* Ownership of the blob list moves to the done list, written out by index_flush. */
	pthread_mutex_lock(&r->idx_lock);
	if (r->n_done == r->cap_done) {
		size_t cap = r->cap_done ? 2 * r->cap_done : 16;
		void *p = reallocarray(r->done, cap, sizeof(*r->done));

		if (!p) {
			pthread_mutex_unlock(&r->idx_lock);
			rc = err_set(e, -ENOMEM, "out of memory");
			goto fail;
		}
		r->done = p;
		r->cap_done = cap;
	}
	memcpy(r->done[r->n_done].id, id, ID_BYTES);
	r->done[r->n_done].blobs = w->blobs;
	r->done[r->n_done].n_blobs = w->n_blobs;
	r->n_done++;
	w->blobs = NULL;
	pthread_mutex_unlock(&r->idx_lock);
fail:
	pack_writer_free(w);
	buf_release(&sealed);
	return rc;
}

int pack_append(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES], const void *sealed,
		size_t n, uint32_t raw_len, bool compressed, struct err *e)
{
	struct pack_writer *w, *full = NULL;
	struct pack_blob *b;
	int rc = 0;

	if (n > UINT32_MAX)
		return err_set(e, -EFBIG, "blob too large");
	pthread_mutex_lock(&r->pack_lock[t]);
	w = r->open_pack[t];
	if (!w) {
		rc = pack_writer_new(r, &w, e);
		if (rc < 0)
			goto unlock;
		r->open_pack[t] = w;
	}
	if (w->n_blobs == w->cap_blobs) {
		size_t cap = w->cap_blobs ? 2 * w->cap_blobs : 64;
		void *p = reallocarray(w->blobs, cap, sizeof(*w->blobs));

		if (!p) {
			rc = err_set(e, -ENOMEM, "out of memory");
			goto unlock;
		}
		w->blobs = p;
		w->cap_blobs = cap;
	}
	rc = pack_write(w, sealed, n);
	if (rc < 0) {
		err_set(e, rc, "%s: writing pack spool file: %s", r->be->where, strerror(-rc));
		goto unlock;
	}
	b = &w->blobs[w->n_blobs++];
	memcpy(b->id, id, ID_BYTES);
	b->type = (uint8_t)t;
	b->compressed = compressed;
	b->stored_len = (uint32_t)n;
	b->raw_len = raw_len;
	if (w->size >= r->pack_size || w->n_blobs >= PACK_WRITE_BLOBS) {
		full = w;
		r->open_pack[t] = NULL;
	}
unlock:
	pthread_mutex_unlock(&r->pack_lock[t]);
	/* Upload outside the lock so other threads keep filling a fresh pack meanwhile. */
	if (full)
		rc = pack_finish(r, full, e);
	return rc;
}

int pack_flush(struct repo *r, enum blob_type t, struct err *e)
{
	struct pack_writer *w;

	pthread_mutex_lock(&r->pack_lock[t]);
	w = r->open_pack[t];
	r->open_pack[t] = NULL;
	pthread_mutex_unlock(&r->pack_lock[t]);
	return w && w->n_blobs ? pack_finish(r, w, e) : (pack_writer_free(w), 0);
}
