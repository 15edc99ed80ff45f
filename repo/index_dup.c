/* Owns the choice among a blob's copies (the side table of idx_dup.c): once index files
 * are loaded, each blob indexed twice is found at a copy whose pack exists and is long
 * enough for it, and a read that fails at one copy tries the others. A lost pack whose
 * blobs a later backup stored again so restores, mounts and checks from the new copies
 * before `repair index` runs, whatever order the index files load in. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

/* More packs involved in duplicates than this: one listing of data/ instead of a HEAD
 * each (a listing costs one request per thousand packs on S3). */
#define DUP_STAT_MAX 32
/* Copies of one blob a failed read tries: more exist only in a forged index. */
#define DUP_TRY_MAX 8
/* Size of a pack that could not be asked for: every copy in it is taken as whole. */
#define SIZE_UNKNOWN UINT64_MAX

struct dpack {
	uint32_t num;
	uint64_t size;
};

struct dpacks {
	struct repo *r;
	struct dpack *v;
	size_t n;
};

static int dpack_cmp(const void *a, const void *b)
{
	const struct dpack *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static struct dpack *dpack_of(const struct dpacks *s, uint32_t num)
{
	struct dpack k = { .num = num };

	return bsearch(&k, s->v, s->n, sizeof(*s->v), dpack_cmp);
}

/* The packs that hold a copy of some duplicated blob, each once. Caller holds idx_lock. */
static int collect_packs(struct idx *x, struct dpacks *s)
{
	size_t k = 0;

	s->v = calloc(x->n_dups ? x->n_dups : 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	for (size_t i = 0; i < x->n_dups; i++)
		s->v[i].num = x->dups[i].pack;
	qsort(s->v, x->n_dups, sizeof(*s->v), dpack_cmp);
	for (size_t i = 0; i < x->n_dups; i++)
		if (!k || s->v[k - 1].num != s->v[i].num)
			s->v[k++].num = s->v[i].num;
	s->n = k;
	return 0;
}

static int listed(void *ud, const char *name, uint64_t size)
{
	struct dpacks *s = ud;
	uint8_t id[ID_BYTES];
	struct dpack *d;
	uint32_t num;
	int rc;

	if (hex_decode(name, id, ID_BYTES) < 0)
		return 0;
	pthread_mutex_lock(&s->r->idx_lock);
	rc = idx_pack_find(&s->r->idx, id, &num);
	pthread_mutex_unlock(&s->r->idx_lock);
	if (rc == 0 && (d = dpack_of(s, num)))
		d->size = size;
	return 0;
}

/* Each involved pack's size: 0 when it is gone, SIZE_UNKNOWN when the store did not say
 * (the load goes on: a store failing now fails the read later, with its own message). */
static void pack_sizes(struct dpacks *s, struct err *e)
{
	struct repo *r = s->r;
	char hex[ID_HEX];
	int rc;

	if (s->n > DUP_STAT_MAX) {
		for (size_t i = 0; i < s->n; i++)
			s->v[i].size = 0;
		rc = r->be->ops->list(r->be, OBJ_DATA, listed, s, e);
		for (size_t i = 0; rc < 0 && i < s->n; i++)
			s->v[i].size = SIZE_UNKNOWN;
		err_clear(e);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		pthread_mutex_lock(&r->idx_lock);
		hex_encode(r->idx.packs[s->v[i].num], ID_BYTES, hex);
		pthread_mutex_unlock(&r->idx_lock);
		rc = backend_stat(r->be, OBJ_DATA, hex, &s->v[i].size, e);
		if (rc < 0)
			s->v[i].size = rc == -ENOENT ? 0 : SIZE_UNKNOWN;
		err_clear(e);
	}
}

static bool fits(const struct dpacks *s, const struct idx_entry *c)
{
	const struct dpack *d = dpack_of(s, c->pack);

	return !d || (uint64_t)c->offset + c->stored_len <= d->size;
}

/* Per duplicated blob: the copy found stays unless its pack lacks it; then the first copy
 * whose pack holds it is found instead. Caller holds idx_lock. -ENOMEM (a put that needed
 * a wider record) leaves that blob's copy as it was. */
static int choose(struct idx *x, const struct dpacks *s)
{
	for (size_t i = 0, j; i < x->n_dups; i = j) {
		const struct idx_entry *g = &x->dups[i];
		struct idx_entry p;
		bool found = idx_find(x, g->type, g->id, &p);

		for (j = i + 1; j < x->n_dups && x->dups[j].type == g->type &&
		                !memcmp(x->dups[j].id, g->id, ID_BYTES);
		     j++)
			;
		if (!found || p.pack == IDX_PENDING || fits(s, &p))
			continue;
		for (size_t k = i; k < j; k++)
			if (fits(s, &x->dups[k])) {
				int rc = idx_put(x, &x->dups[k]);

				if (rc < 0)
					return rc;
				break;
			}
	}
	return 0;
}

int index_dups_resolve(struct repo *r, struct err *e)
{
	struct dpacks s = { .r = r };
	int rc;

	pthread_mutex_lock(&r->idx_lock);
	if (!r->idx.dups_new) {
		pthread_mutex_unlock(&r->idx_lock);
		return 0;
	}
	idx_dup_sort(&r->idx);
	rc = collect_packs(&r->idx, &s);
	r->idx.dups_new = false;
	pthread_mutex_unlock(&r->idx_lock);
	if (rc < 0)
		return err_set(e, rc, "out of memory");
	pack_sizes(&s, e);
	pthread_mutex_lock(&r->idx_lock);
	idx_dup_sort(&r->idx); /* a reader's fallback cannot add copies, but be exact */
	rc = choose(&r->idx, &s);
	pthread_mutex_unlock(&r->idx_lock);
	free(s.v);
	return rc < 0 ? err_set(e, rc, "out of memory") : 0;
}

/* One copy fetched and opened into out (nothing appended on failure). */
static int read_copy(struct repo *r, const uint8_t id[ID_BYTES], const uint8_t pack[ID_BYTES],
                     const struct idx_entry *c, struct buf *out, struct err *e)
{
	struct buf raw = BUF_INIT;
	char hex[ID_HEX];
	int rc;

	if (c->stored_len < KEY_SEAL_OVERHEAD || c->stored_len > REPO_BLOB_MAX + (64u << 10))
		return -EBADMSG;
	hex_encode(pack, ID_BYTES, hex);
	buf_init(&raw, c->stored_len);
	rc = r->be->ops->get(r->be, OBJ_DATA, hex, c->offset, c->stored_len, &raw, e);
	if (rc >= 0 && raw.len != c->stored_len)
		rc = -EBADMSG;
	if (rc >= 0)
		rc = blob_decode(r, id, raw.p, raw.len, c->raw_len, c->compressed, out);
	buf_release(&raw);
	return rc;
}

int index_dup_read(struct repo *r, unsigned type, const uint8_t id[ID_BYTES],
                   const struct blob_loc *failed, struct buf *out)
{
	struct idx_entry c[DUP_TRY_MAX];
	uint8_t packs[DUP_TRY_MAX][ID_BYTES];
	struct err e = ERR_INIT;
	size_t n;
	int rc = -ENOENT;

	pthread_mutex_lock(&r->idx_lock);
	n = idx_dup_copies(&r->idx, type, id, c, DUP_TRY_MAX);
	if (n > DUP_TRY_MAX)
		n = DUP_TRY_MAX;
	for (size_t i = 0; i < n; i++)
		memcpy(packs[i], r->idx.packs[c[i].pack], ID_BYTES);
	pthread_mutex_unlock(&r->idx_lock);
	for (size_t i = 0; i < n; i++) {
		struct idx_entry p;

		if (!memcmp(packs[i], failed->pack, ID_BYTES) && c[i].offset == failed->offset &&
		    c[i].stored_len == failed->stored_len)
			continue;
		rc = read_copy(r, id, packs[i], &c[i], out, &e);
		err_clear(&e);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			continue;
		/* Later reads go straight to the copy that opened. The blob is in out
		 * either way: a put that fails for memory leaves the copy found before,
		 * which this fallback still reads. */
		pthread_mutex_lock(&r->idx_lock);
		if (idx_find(&r->idx, type, id, &p) && p.pack != IDX_PENDING &&
		    idx_put(&r->idx, &c[i]) < 0)
			err_clear(&e);
		pthread_mutex_unlock(&r->idx_lock);
		return 0;
	}
	return rc;
}
