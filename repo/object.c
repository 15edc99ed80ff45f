/* Owns small sealed objects (config, snapshots, locks, index files): seal, name by the
 * hash of the stored bytes, store; fetch, check the name against the bytes, and open, with
 * a message naming the object. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

int obj_seal_put(struct repo *r, enum obj_type t, enum key_domain d, const void *p, size_t n,
		 char ret_name[ID_HEX], struct err *e)
{
	uint8_t id[ID_BYTES];
	char name[ID_HEX];
	uint8_t *sealed;
	size_t sn;
	int rc;

	if (ckd_add(&sn, n, (size_t)KEY_SEAL_OVERHEAD))
		return err_set(e, -EOVERFLOW, "object too large");
	/* Index files and snapshots are written only under a live lock (when one is held). */
	if (t == OBJ_INDEX || t == OBJ_SNAPSHOT) {
		rc = repo_lock_check(r, e);
		if (rc < 0)
			return rc;
	}
	sealed = malloc(sn);
	if (!sealed)
		return err_set(e, -ENOMEM, "out of memory sealing an object");
	rc = key_seal(r->key, d, p, n, sealed);
	if (rc < 0)
		goto fail;
	/* Named by the stored bytes, so the name reveals nothing about the plaintext. */
	name_hash(r->name_alg, sealed, sn, id);
	hex_encode(id, sizeof(id), name);
	rc = r->be->ops->put(r->be, t, name, sealed, sn, e);
	if (rc < 0)
		goto fail;
	if (ret_name)
		memcpy(ret_name, name, ID_HEX);
fail:
	free(sealed);
	return rc;
}

int obj_get_open(struct repo *r, enum obj_type t, enum key_domain d, const char *name,
		 struct buf *out, struct err *e)
{
	struct buf own = BUF_INIT, *raw = &own;
	const char *dir = t == OBJ_CONFIG ? "config" : obj_type_dir(t);
	size_t max = out->max;
	int rc;

	/* An empty out receives the sealed bytes and is opened in place (crypto.h, key_open):
	 * a 12 MB index file is held once, not sealed and opened side by side. */
	if (!out->len && max <= SIZE_MAX - KEY_SEAL_OVERHEAD) {
		raw = out;
		out->max = max + KEY_SEAL_OVERHEAD;
	} else {
		buf_init(&own, max + KEY_SEAL_OVERHEAD);
	}
	rc = r->be->ops->get(r->be, t, name, 0, 0, raw, e);
	out->max = max;
	if (rc < 0) {
		if (rc == -ENOENT)
			err_set(e, rc, "%s/%s does not exist", dir, t == OBJ_CONFIG ? "" : name);
		goto fail;
	}
	if (t != OBJ_CONFIG) {
		/* Every named object is named by the hash of its stored bytes: check it, so a
		 * snapshot or index copied over another (which the AEAD alone accepts: same key,
		 * same kind) is refused instead of read as the one asked for. */
		uint8_t want[ID_BYTES], got[ID_BYTES];

		name_hash(r->name_alg, raw->p, raw->len, got);
		if (hex_decode(name, want, ID_BYTES) < 0 || sodium_memcmp(got, want, ID_BYTES) != 0) {
			rc = err_set(e, -EBADMSG,
				     "%s/%s does not match its name (copied or renamed object)", dir,
				     name);
			goto fail;
		}
	}
	if (raw->len < KEY_SEAL_OVERHEAD) {
		rc = err_set(e, -EBADMSG, "%s %s is truncated (%zu bytes)", dir,
			     t == OBJ_CONFIG ? "" : name, raw->len);
		goto fail;
	}
	/* In place the sealed bytes already hold the plaintext's room and the +1 (the tag). */
	rc = raw == out ? (raw->len - KEY_SEAL_OVERHEAD > max ? -EFBIG : 0)
			: buf_reserve(out, raw->len - KEY_SEAL_OVERHEAD + 1);
	if (rc < 0) {
		err_set(e, rc, "%s %s is too large", dir, name ? name : "");
		goto fail;
	}
	rc = key_open(r->key, d, raw->p, raw->len,
		      raw == out ? raw->p + KEY_NONCE_BYTES : out->p + out->len);
	if (rc < 0) {
		err_reset(e, -EBADMSG, "%s %s is corrupt or truncated (authentication failed)", dir,
			  t == OBJ_CONFIG ? "" : name);
		rc = -EBADMSG;
		goto fail;
	}
	if (raw == out) {
		memmove(out->p, out->p + KEY_NONCE_BYTES, raw->len - KEY_SEAL_OVERHEAD);
		out->len = raw->len - KEY_SEAL_OVERHEAD;
	} else {
		out->len += raw->len - KEY_SEAL_OVERHEAD;
	}
fail:
	if (rc < 0 && raw == out)
		buf_reset(out); /* nothing of a failed read stays behind */
	buf_release(&own);
	return rc;
}

int obj_seal_put_new(struct repo *r, enum obj_type t, enum key_domain d, const void *p, size_t n,
		     struct err *e)
{
	struct buf back = BUF_INIT;
	uint8_t *sealed;
	uint64_t size;
	size_t sn;
	int rc;

	if (ckd_add(&sn, n, (size_t)KEY_SEAL_OVERHEAD))
		return err_set(e, -EOVERFLOW, "object too large");
	sealed = malloc(sn);
	if (!sealed)
		return err_set(e, -ENOMEM, "out of memory sealing an object");
	rc = key_seal(r->key, d, p, n, sealed);
	if (rc < 0)
		goto fail;
	if (r->be->ops->put_new) {
		rc = r->be->ops->put_new(r->be, t, NULL, sealed, sn, e);
		goto fail;
	}
	/* No conditional create: write unless present, then read back. Two creators in the
	 * same instant can still both pass on such a store (docs/format.md). */
	rc = r->be->ops->stat(r->be, t, NULL, &size, e);
	if (rc == 0) {
		rc = err_set(e, -EEXIST, "%s: exists already", r->be->where);
		goto fail;
	}
	if (rc != -ENOENT)
		goto fail;
	err_clear(e);
	rc = r->be->ops->put(r->be, t, NULL, sealed, sn, e);
	buf_init(&back, sn + 1);
	if (rc >= 0)
		rc = r->be->ops->get(r->be, t, NULL, 0, 0, &back, e);
	if (rc >= 0 && (back.len != sn || memcmp(back.p, sealed, sn) != 0))
		rc = err_set(e, -EEXIST, "%s: written concurrently by another creator", r->be->where);
fail:
	buf_release(&back);
	free(sealed);
	return rc;
}
