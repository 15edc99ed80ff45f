/* Owns the blob life cycle: claim (dedup), compress + seal + append, index flush,
 * and the verified read path (fetch, open, decompress, re-hash). */
#include "repo/repo-internal.h"

#include "repo/admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/ckd.h"

void sealer_free(struct sealer *s)
{
	if (!s)
		return;
	ZSTD_freeCCtx(s->cctx);
	free(s->out);
	free(s);
}

#define SEALER_BIG (256u * 1024)

struct sealer *sealer_take(struct repo *r, size_t n)
{
	int c = n >= SEALER_BIG;
	struct sealer *s = NULL;

	pthread_mutex_lock(&r->cctx_lock);
	if (r->n_sealers[c])
		s = r->sealers[c][--r->n_sealers[c]];
	pthread_mutex_unlock(&r->cctx_lock);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cctx = ZSTD_createCCtx();
	if (!s->cctx) {
		free(s);
		return NULL;
	}
	s->level = r->zstd_level;
	ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, r->zstd_level);
	return s;
}

int repo_set_compression(struct repo *r, int level)
{
	if (level == REPO_COMPRESS_AUTO) {
		r->compress_level = 0;
		return 0;
	}
	if (level == REPO_COMPRESS_OFF) {
		r->compress_level = level;
		return 0;
	}
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	/* 0 is zstd's default level; kept apart from 0, "not set". */
	r->compress_level = level ? level : ZSTD_CLEVEL_DEFAULT;
	return 0;
}

/* The level of this handle's next blob; REPO_COMPRESS_OFF stores it raw. */
static int blob_level(const struct repo *r)
{
	return r->compress_level ? r->compress_level : r->zstd_level;
}

void sealer_give(struct repo *r, size_t n, struct sealer *s)
{
	int c = n >= SEALER_BIG;

	pthread_mutex_lock(&r->cctx_lock);
	if (r->n_sealers[c] < CCTX_POOL_MAX) {
		r->sealers[c][r->n_sealers[c]++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&r->cctx_lock);
	sealer_free(s);
}

bool repo_blob_known(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES])
{
	struct idx_entry s;
	bool known;

	pthread_mutex_lock(&r->idx_lock);
	known = idx_find(&r->idx, (unsigned)t, id, &s) && s.pack != IDX_PENDING;
	pthread_mutex_unlock(&r->idx_lock);
	return known;
}

int repo_blob_lookup(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
		     struct blob_loc *ret)
{
	struct idx_entry s;
	int rc = -ENOENT;

	pthread_mutex_lock(&r->idx_lock);
	if (idx_find(&r->idx, (unsigned)t, id, &s) && s.pack != IDX_PENDING) {
		memcpy(ret->pack, r->idx.packs[s.pack], ID_BYTES);
		ret->offset = s.offset;
		ret->stored_len = s.stored_len;
		ret->raw_len = s.raw_len;
		ret->type = s.type;
		ret->compressed = s.compressed;
		rc = 0;
	}
	pthread_mutex_unlock(&r->idx_lock);
	return rc;
}

struct foreach_ctx {
	struct repo *r;
	repo_blob_fn fn;
	void *ud;
};

static int foreach_one(void *ud, const struct idx_entry *s)
{
	struct foreach_ctx *c = ud;
	struct blob_loc loc;

	if (s->pack == IDX_PENDING || !s->stored_len)
		return 0;
	memcpy(loc.pack, c->r->idx.packs[s->pack], ID_BYTES);
	loc.offset = s->offset;
	loc.stored_len = s->stored_len;
	loc.raw_len = s->raw_len;
	loc.type = s->type;
	loc.compressed = s->compressed;
	return c->fn(c->ud, s->id, &loc);
}

int repo_blob_foreach(struct repo *r, repo_blob_fn fn, void *ud)
{
	struct foreach_ctx c = { .r = r, .fn = fn, .ud = ud };
	int rc;

	/* Iterates without the lock: callers use it from one thread with no writers. The
	 * copies lookups do not find come too: check must see a lost pack even when every
	 * blob of it is found elsewhere. */
	rc = idx_foreach(&r->idx, foreach_one, &c);
	return rc < 0 ? rc : idx_dup_foreach(&r->idx, foreach_one, &c);
}

size_t repo_blob_count(struct repo *r)
{
	return r->idx.n;
}

bool repo_blob_claim(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES])
{
	struct idx_entry e = { .pack = IDX_PENDING, .type = t };
	bool mine = false;

	memcpy(e.id, id, ID_BYTES);
	pthread_mutex_lock(&r->idx_lock);
	if (!idx_find(&r->idx, (unsigned)t, id, NULL))
		mine = idx_put(&r->idx, &e) >= 0;
	pthread_mutex_unlock(&r->idx_lock);
	return mine;
}

/* Blobs of finished packs waiting for an index file: each costs its pack_blob here and
 * its encoding when the file is written, so a volume of small files (thousands of blobs per
 * pack) flushes by blob count long before INDEX_PACKS_PER_FILE packs. */
#define INDEX_BLOBS_PER_FILE 32768

static size_t done_blobs(const struct repo *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_done; i++)
		n += r->done[i].n_blobs;
	return n;
}

/* Write an index file for every pack finished since the last one, once min_packs packs or
 * INDEX_BLOBS_PER_FILE blobs wait. */
static int index_flush(struct repo *r, size_t min_packs, struct err *e)
{
	struct pack_done *done;
	size_t n;
	int rc;

	pthread_mutex_lock(&r->idx_lock);
	if (!r->n_done ||
	    (r->n_done < (min_packs ? min_packs : 1) && done_blobs(r) < INDEX_BLOBS_PER_FILE)) {
		pthread_mutex_unlock(&r->idx_lock);
		return 0;
	}
	done = r->done;
	n = r->n_done;
	r->done = NULL;
	r->n_done = r->cap_done = 0;
	pthread_mutex_unlock(&r->idx_lock);
	rc = index_file_write(r, done, n, e);
	for (size_t i = 0; i < n; i++)
		free(done[i].blobs);
	free(done);
	return rc;
}

/* Random-looking data (already compressed media, encrypted files) costs a full zstd pass
 * for nothing. Compress a sample from the middle at the fastest level first; if that saves
 * under 3%, the whole chunk is stored raw. Big chunks are sampled over 64 KiB; chunks from
 * 64 KiB up (small files: most of a tree's count) over 16 KiB, which costs a quarter or less
 * of a full pass when the data does compress. Below 64 KiB the full pass is cheap enough. */
#define PROBE_BYTES (64u * 1024)
#define PROBE_SMALL_BYTES (16u * 1024)

static bool compressible(struct sealer *s, const uint8_t *p, size_t n)
{
	uint8_t probe[ZSTD_COMPRESSBOUND(PROBE_BYTES)];
	size_t got, k = n >= 4 * PROBE_BYTES ? PROBE_BYTES : PROBE_SMALL_BYTES;

	if (n < 4 * PROBE_SMALL_BYTES)
		return true; /* small: just try it */
	ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, 1);
	got = ZSTD_compress2(s->cctx, probe, sizeof(probe), p + n / 2 - k / 2, k);
	ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, s->level);
	return !ZSTD_isError(got) && got < k - k / 32;
}

/* room: NULL, or the caller's buffer around p to seal a raw blob in (repo_blob_put_room). */
static ssize_t blob_put(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
			const void *p, size_t n, uint8_t *room, struct err *e)
{
	size_t bound = ZSTD_compressBound(n), clen, need;
	int level = blob_level(r);
	struct sealer *s = NULL;
	bool compressed = false;
	const void *src;
	uint8_t *payload, *sealed;
	ssize_t rc;

	if (n > REPO_BLOB_MAX)
		return err_set(e, -EFBIG, "blob of %zu bytes exceeds the limit", n);
	s = sealer_take(r, n);
	need = (bound > n ? bound : n) + KEY_SEAL_OVERHEAD;
	if (s && s->cap < need) {
		free(s->out);
		s->out = malloc(need);
		s->cap = s->out ? need : 0;
	}
	if (!s || !s->out) {
		rc = err_set(e, -ENOMEM, "out of memory compressing a blob");
		goto fail;
	}
	/* Pooled contexts keep the level they were made with; a changed setting reaches
	 * them here. */
	if (level != REPO_COMPRESS_OFF && s->level != level) {
		s->level = level;
		ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, level);
	}
	/* Compress straight into the sealed layout (after the nonce) and encrypt in place;
	 * a chunk stored raw is encrypted from the caller's buffer into the sealed layout.
	 * Either way no intermediate copy of the chunk. */
	payload = s->out + KEY_NONCE_BYTES;
	src = p;
	clen = n;
	if (level != REPO_COMPRESS_OFF && compressible(s, p, n))
		clen = ZSTD_compress2(s->cctx, payload, bound, p, n);
	/* Store raw unless compression saves something: incompressible data costs nothing
	 * extra to read back. */
	if (!ZSTD_isError(clen) && clen + 16 < n) {
		compressed = true;
		src = payload;
	} else {
		clen = n;
	}
	sealed = compressed || !room ? s->out : room;
	rc = key_seal(r->key, KEY_DOMAIN_BLOB, src, clen, sealed);
	if (rc < 0)
		goto fail;
	rc = pack_append(r, t, id, sealed, clen + KEY_SEAL_OVERHEAD, (uint32_t)n, compressed, e);
	if (rc < 0)
		goto fail;
	rc = index_flush(r, INDEX_PACKS_PER_FILE, e);
	if (rc < 0)
		goto fail;
	rc = (ssize_t)(clen + KEY_SEAL_OVERHEAD);
fail:
	if (s)
		sealer_give(r, n, s);
	return rc;
}

ssize_t repo_blob_put(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
		      const void *p, size_t n, struct err *e)
{
	return blob_put(r, t, id, p, n, NULL, e);
}

ssize_t repo_blob_put_room(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
			   uint8_t *room, size_t n, struct err *e)
{
	/* key_seal takes the plaintext at out + KEY_NONCE_BYTES for sealing in place. */
	return blob_put(r, t, id, room + REPO_BLOB_ROOM_BEFORE, n, room, e);
}

ssize_t repo_blob_save(struct repo *r, enum blob_type t, const void *p, size_t n,
		       uint8_t ret_id[ID_BYTES], struct err *e)
{
	uint8_t id[ID_BYTES];
	ssize_t rc = 0;

	key_blob_id(r->key, p, n, id);
	if (repo_blob_claim(r, t, id))
		rc = repo_blob_put(r, t, id, p, n, e);
	if (rc >= 0 && ret_id)
		memcpy(ret_id, id, ID_BYTES);
	return rc;
}

/* Test builds only: CAIRN_TEST_PAUSE_BEFORE_INDEX=N holds a flush for N seconds between
 * uploading its packs and indexing them (the window in which a prune could take them). */
static void test_pause(void)
{
#ifdef CAIRN_TEST_HOOKS
	const char *s = getenv("CAIRN_TEST_PAUSE_BEFORE_INDEX");
	long n = s ? strtol(s, NULL, 10) : 0;

	for (long i = 0; i < n && i < 3600; i++)
		sleep(1);
#endif
}

int repo_flush(struct repo *r, struct err *e)
{
	size_t before;
	int rc;

	pthread_mutex_lock(&r->idx_lock);
	before = r->n_done;
	pthread_mutex_unlock(&r->idx_lock);
	for (int t = 0; t < _BLOB_TYPE_MAX; t++) {
		rc = pack_flush(r, (enum blob_type)t, e);
		if (rc < 0)
			return rc;
	}
	if (r->n_done > before) /* this flush uploaded packs */
		test_pause();
	return index_flush(r, 1, e);
}

void opener_free(struct opener *o)
{
	if (!o)
		return;
	ZSTD_freeDCtx(o->dctx);
	buf_release(&o->raw);
	buf_release(&o->plain);
	free(o);
}

struct opener *opener_take(struct repo *r)
{
	struct opener *o = NULL;

	pthread_mutex_lock(&r->cctx_lock);
	if (r->n_openers)
		o = r->openers[--r->n_openers];
	pthread_mutex_unlock(&r->cctx_lock);
	if (o)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->dctx = ZSTD_createDCtx();
	if (!o->dctx) {
		free(o);
		return NULL;
	}
	buf_init(&o->raw, REPO_BLOB_MAX + (64u << 10));
	buf_init(&o->plain, REPO_BLOB_MAX + (64u << 10));
	return o;
}

void opener_give(struct repo *r, struct opener *o)
{
	pthread_mutex_lock(&r->cctx_lock);
	if (r->n_openers < CCTX_POOL_MAX) {
		r->openers[r->n_openers++] = o;
		o = NULL;
	}
	pthread_mutex_unlock(&r->cctx_lock);
	opener_free(o);
}

static int decode_with(struct repo *r, struct opener *op, const uint8_t id[ID_BYTES],
		       const uint8_t *sealed, size_t sn, uint32_t raw_len, bool compressed,
		       struct buf *out)
{
	uint8_t check[ID_BYTES];
	size_t pn = sn - KEY_SEAL_OVERHEAD;
	int rc;

	if (sn < KEY_SEAL_OVERHEAD || raw_len > REPO_BLOB_MAX)
		return -EBADMSG;
	rc = buf_reserve(out, raw_len ? raw_len : 1);
	if (rc < 0)
		return rc;
	if (!compressed) {
		if (pn != raw_len)
			return -EBADMSG;
		rc = key_open(r->key, KEY_DOMAIN_BLOB, sealed, sn, out->p + out->len);
	} else {
		buf_reset(&op->plain);
		rc = buf_reserve(&op->plain, pn + 1);
		if (rc < 0)
			return rc == -EFBIG ? -EBADMSG : rc;
		rc = key_open(r->key, KEY_DOMAIN_BLOB, sealed, sn, op->plain.p);
		if (rc >= 0) {
			size_t got = ZSTD_decompressDCtx(op->dctx, out->p + out->len, raw_len,
							 op->plain.p, pn);

			if (ZSTD_isError(got) || got != raw_len)
				rc = -EBADMSG;
		}
	}
	if (rc < 0)
		return rc;
	key_blob_id(r->key, out->p + out->len, raw_len, check);
	if (sodium_memcmp(check, id, ID_BYTES) != 0)
		return -EBADMSG;
	out->len += raw_len;
	return 0;
}

int blob_decode(struct repo *r, const uint8_t id[ID_BYTES], const uint8_t *sealed, size_t sn,
		uint32_t raw_len, bool compressed, struct buf *out)
{
	struct opener *op = opener_take(r);
	int rc;

	if (!op)
		return -ENOMEM;
	rc = decode_with(r, op, id, sealed, sn, raw_len, compressed, out);
	opener_give(r, op);
	return rc;
}

int repo_blob_get(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES], struct buf *out,
		  struct err *e)
{
	char pack[ID_HEX], blob[ID_HEX];
	struct opener *op = NULL;
	struct blob_loc loc;
	int rc;

	hex_encode(id, ID_BYTES, blob);
	rc = repo_index_load(r, e);
	if (rc < 0)
		return rc;
	rc = repo_blob_lookup(r, t, id, &loc);
	if (rc < 0)
		return err_set(e, rc, "blob %s is not in the index", blob);
	hex_encode(loc.pack, ID_BYTES, pack);
	/* Pooled buffers: a restore reads thousands of megabyte blobs, and fresh buffers
	 * for each would cost an mmap, page faults and an munmap every time. */
	op = opener_take(r);
	if (!op)
		return err_set(e, -ENOMEM, "out of memory");
	buf_reset(&op->raw);
	/* A length of 0 would ask the store for the rest of the pack. */
	if (loc.stored_len < KEY_SEAL_OVERHEAD) {
		rc = err_set(e, -EBADMSG, "pack %s: blob %s: the index gives it %u bytes, less than "
			     "any sealed blob", pack, blob, loc.stored_len);
		goto fail;
	}
	rc = r->be->ops->get(r->be, OBJ_DATA, pack, loc.offset, loc.stored_len, &op->raw, e);
	if (rc < 0) {
		err_wrap(e, rc == -ENOENT ? -ENOENT : rc, "pack %s (blob %s)", pack, blob);
		goto fail;
	}
	rc = decode_with(r, op, id, op->raw.p, op->raw.len, loc.raw_len, loc.compressed, out);
	if (rc == -EBADMSG)
		err_reset(e, rc, "pack %s: blob %s fails authentication (corrupt or forged)", pack,
			  blob);
	else if (rc < 0)
		err_set(e, rc, "pack %s: blob %s: %s", pack, blob, strerror(-rc));
fail:
	opener_give(r, op);
	/* Another copy, when the blob is stored twice (a lost pack's blobs stored again):
	 * the message of the copy that failed stays when none opens. */
	if (rc < 0 && rc != -ENOMEM && index_dup_read(r, (unsigned)t, id, &loc, out) == 0) {
		err_clear(e);
		rc = 0;
	}
	return rc;
}

struct pack_list_ctx {
	repo_pack_fn fn;
	void *ud;
};

static int pack_list_one(void *ud, const char *name, uint64_t size)
{
	struct pack_list_ctx *c = ud;
	uint8_t id[ID_BYTES];

	if (hex_decode(name, id, ID_BYTES) < 0)
		return 0;
	return c->fn(c->ud, id, size);
}

int repo_pack_list(struct repo *r, repo_pack_fn fn, void *ud, struct err *e)
{
	struct pack_list_ctx c = { fn, ud };

	return r->be->ops->list(r->be, OBJ_DATA, pack_list_one, &c, e);
}
