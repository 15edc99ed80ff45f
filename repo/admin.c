/* Owns the administrative interface (repo/admin.h): thin, checked adapters from the
 * format's internals to the records maint/ works with. */
#include "repo/admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repo/repo-internal.h"
#include "util/banned.h"

void repo_keyfile_switch(struct repo *r, const char name[ID_HEX])
{
	memcpy(r->keyfile, name, ID_HEX);
	r->keyfile[ID_HEX - 1] = 0;
}

struct walk_adapter {
	repo_ix_fn fn;
	void *ud;
};

static int walk_entry(void *ud, const struct ix_entry *x)
{
	struct walk_adapter *a = ud;
	struct repo_ix_blob b = { .type = x->type,
		                  .compressed = x->compressed,
		                  .offset = (uint32_t)x->offset,
		                  .stored_len = (uint32_t)x->stored_len,
		                  .raw_len = (uint32_t)x->raw_len };

	/* index_walk has bounds-checked every field against UINT32_MAX already. */
	memcpy(b.id, x->id, ID_BYTES);
	return a->fn(a->ud, x->pack, &b);
}

int repo_index_walk(struct repo *r, const char *name, repo_ix_fn fn, void *ud, struct err *e)
{
	struct walk_adapter a = { fn, ud };

	return index_walk(r, name, walk_entry, &a, e);
}

int repo_pack_age(struct repo *r, const uint8_t pack[ID_BYTES], int64_t *ret_sec,
                  struct err *e)
{
	char name[ID_HEX];
	int64_t t;
	int rc;

	if (!r->be->ops->mtime)
		return -EOPNOTSUPP;
	hex_encode(pack, ID_BYTES, name);
	rc = r->be->ops->mtime(r->be, OBJ_DATA, name, &t, e);
	if (rc < 0)
		return rc;
	*ret_sec = (int64_t)time(NULL) - t;
	return 0;
}

int repo_blob_verify(struct repo *r, const struct repo_ix_blob *b, const uint8_t *sealed)
{
	struct buf out = BUF_INIT;
	int rc;

	buf_init(&out, REPO_BLOB_MAX);
	rc = blob_decode(r, b->id, sealed, b->stored_len, b->raw_len, b->compressed, &out);
	buf_release(&out);
	return rc;
}

int repo_blob_copy(struct repo *r, const struct repo_ix_blob *b, const uint8_t *sealed,
                   struct err *e)
{
	if (b->type >= _BLOB_TYPE_MAX)
		return err_set(e, -EINVAL, "blob type %u is unknown", b->type);
	/* Sealed bytes are position independent: they move between packs as they are. */
	return pack_append(r, (enum blob_type)b->type, b->id, sealed, b->stored_len, b->raw_len,
	                   b->compressed, e);
}

int repo_ixw_add_written(struct repo *r, struct repo_ixw *w, bool finish, size_t *ret_packs,
                         struct err *e)
{
	struct pack_done *done;
	size_t n, i;
	int rc = 0;

	for (int t = 0; finish && t < _BLOB_TYPE_MAX && rc >= 0; t++)
		rc = pack_flush(r, (enum blob_type)t, e);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->idx_lock);
	done = r->done;
	n = r->n_done;
	r->done = NULL;
	r->n_done = r->cap_done = 0;
	pthread_mutex_unlock(&r->idx_lock);
	/* Each pack's header entries go as soon as they are encoded: a repack's million blobs
	 * are never in memory in a second form. */
	for (i = 0; rc >= 0 && i < n; i++) {
		uint64_t off = 0;

		rc = repo_ixw_pack(w, done[i].id, done[i].n_blobs, e);
		for (size_t j = 0; rc >= 0 && j < done[i].n_blobs; j++) {
			const struct pack_blob *hb = &done[i].blobs[j];
			struct repo_ix_blob x = { .type = hb->type, .compressed = hb->compressed,
						  .offset = (uint32_t)off,
						  .stored_len = hb->stored_len,
						  .raw_len = hb->raw_len };

			if (off > UINT32_MAX) {
				rc = err_set(e, -EFBIG, "pack offsets pass 4 GiB");
				break;
			}
			memcpy(x.id, hb->id, ID_BYTES);
			rc = repo_ixw_blob(w, &x, e);
			off += hb->stored_len;
		}
		free(done[i].blobs);
		done[i].blobs = NULL;
	}
	for (i = 0; i < n; i++)
		free(done[i].blobs);
	free(done);
	if (rc >= 0 && ret_packs)
		*ret_packs = n;
	return rc;
}

/* A prefix sum over the index's shards of their array and table lengths: an entry's
 * number is its shard's start plus its place in the array, or past the array in the
 * table (idx_locate). The shard's lengths are checked against those the sum was taken
 * for, so a change of the shard layout gives -ESTALE, never a wrong number. */
struct repo_blob_ranks {
	struct repo *r;
	uint64_t start[IDX_SHARDS + 1];
};

int repo_blob_ranks_new(struct repo *r, struct repo_blob_ranks **ret)
{
	struct repo_blob_ranks *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->r = r;
	pthread_mutex_lock(&r->idx_lock);
	for (size_t i = 0; i < IDX_SHARDS; i++) {
		const struct idx_shard *s = r->idx.shards ? &r->idx.shards[i] : NULL;

		k->start[i + 1] = k->start[i] + (s ? (uint64_t)s->n_base + s->cap : 0);
	}
	pthread_mutex_unlock(&r->idx_lock);
	*ret = k;
	return 0;
}

void repo_blob_ranks_free(struct repo_blob_ranks *k)
{
	free(k);
}

size_t repo_blob_ranks_bytes(void)
{
	return sizeof(struct repo_blob_ranks);
}

uint64_t repo_blob_ranks_total(const struct repo_blob_ranks *k)
{
	return k->start[IDX_SHARDS];
}

/* The shard an entry lives in: idx.c picks it by the id's first 12 bits. */
static size_t shard_number(const uint8_t id[ID_BYTES])
{
	return ((size_t)id[0] << 4 | id[1] >> 4) & (IDX_SHARDS - 1);
}

int repo_blob_rank(struct repo_blob_ranks *k, unsigned type, const uint8_t id[ID_BYTES],
                   uint64_t *ret)
{
	struct repo *r = k->r;
	const struct idx_shard *s;
	struct idx_entry x;
	size_t n = shard_number(id);
	uint32_t pos;
	int rc = -ESTALE;

	pthread_mutex_lock(&r->idx_lock);
	if (!idx_locate(&r->idx, type, id, &x, &pos) || x.pack == IDX_PENDING) {
		rc = -ENOENT;
		goto done;
	}
	s = &r->idx.shards[n];
	if ((uint64_t)s->n_base + s->cap != k->start[n + 1] - k->start[n])
		goto done;
	if (pos < (uint64_t)s->n_base + s->cap) {
		*ret = k->start[n] + pos;
		rc = 0;
	}
done:
	pthread_mutex_unlock(&r->idx_lock);
	return rc;
}
