/* Owns the pack-range read path: a run of adjacent blobs of one pack is fetched with one
 * ranged read (one GET on S3 instead of one per blob), then each blob is opened, checked
 * and decompressed from the fetched bytes. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

int repo_pack_read(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t off, uint64_t n,
                   struct buf *out, struct err *e)
{
	char name[ID_HEX];
	uint64_t end;
	int rc;

	hex_encode(pack, ID_BYTES, name);
	/* n == 0 would mean "to the end" to the backend: a range is always explicit here. */
	if (!n || ckd_add(&end, off, n))
		return err_set(e, -EINVAL, "pack %s: bad range %llu+%llu", name,
		               (unsigned long long)off, (unsigned long long)n);
	rc = r->be->ops->get(r->be, OBJ_DATA, name, off, n, out, e);
	if (rc < 0)
		err_wrap(e, rc, "pack %s", name);
	return rc;
}

int repo_blob_open(struct repo *r, const uint8_t id[ID_BYTES], const struct blob_loc *loc,
                   const uint8_t *sealed, size_t n, struct buf *out, struct err *e)
{
	char pack[ID_HEX], blob[ID_HEX];
	int rc;

	if (n != loc->stored_len)
		rc = -EBADMSG;
	else
		rc = blob_decode(r, id, sealed, n, loc->raw_len, loc->compressed, out);
	if (rc >= 0)
		return 0;
	hex_encode(loc->pack, ID_BYTES, pack);
	hex_encode(id, ID_BYTES, blob);
	if (rc == -EBADMSG)
		return err_reset(e, rc, "pack %s: blob %s fails authentication (corrupt or forged)",
		                 pack, blob);
	return err_set(e, rc, "pack %s: blob %s: %s", pack, blob, strerror(-rc));
}
