/* Owns prune: mark every blob a snapshot reaches, sweep packs nobody uses, repack packs
 * that are mostly unused, and replace the index, in an order that a kill at any instant
 * leaves consistent (new packs -> new index -> old index files gone -> old packs gone). */
#include "maint/maint.h"
#include "maint/maint-internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"
#include "util/vec.h"

enum pack_fate { FATE_KEEP, FATE_DELETE, FATE_REPACK, FATE_MISSING };

/* One pack as the index files list it (its first listing). Which of its entries are the
 * copies kept is one bit per entry in struct prune's keep, from first_seq on: the index
 * files are walked again for the repack and the new index, never held. */
struct plan_pack {
	uint8_t id[ID_BYTES];
	uint64_t size, used_bytes;
	uint64_t first_seq; /* its first entry's number in the walk */
	size_t n_blobs, n_used;
	enum pack_fate fate;
};

struct present {
	uint8_t id[ID_BYTES];
	uint64_t size;
	bool indexed;
};

struct prune {
	struct repo *r;
	struct repo_lock *lock;
	const struct repo_prune_opts *o;
	struct repo_prune_result *res;
	struct err *e;
	struct maint_ixnames names; /* the old index files, listed once */
	struct plan_pack *plan;
	size_t n_plan, cap_plan;
	uint64_t *keep; /* bit per entry of the walk: this copy is the one kept */
	size_t cap_keep;  /* words */
	uint64_t seq;     /* entries walked */
	struct present *present;
	size_t n_present, cap_present;
	/* Blobs are (type, id): a file chunk and a tree segment with the same bytes share an
	 * id and are two blobs, each kept on its own. */
	struct repo_blobset used_trees, used_data, claimed; /* claimed: the copy kept */
	struct repo_ixw *w; /* the new index, written from the start of the repack */
	size_t written;     /* packs the repack wrote and w indexed */
	/* The second walk: the pack being written or repacked, its entries seen, and the
	 * range of it read last (repack). */
	size_t at_pack, at_blob;
	struct buf data;
	uint64_t data_at;
	size_t copied_open; /* blobs copied into the open packs */
	/* Packs repacked, then packs deleted without a repack (a repacked pack's deletion is
	 * part of its repack). */
	struct repo_maint_meter meter;
};

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, ID_BYTES);
}

static int note_present(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct prune *p = ud;

	if (VEC_RESERVE1(p->present, p->cap_present, p->n_present, 256))
		return -ENOMEM;
	memcpy(p->present[p->n_present].id, pack, ID_BYTES);
	p->present[p->n_present].size = size;
	p->present[p->n_present].indexed = false;
	p->n_present++;
	return 0;
}

static int mark_node(void *ud, const char *path, const struct node *n)
{
	struct prune *p = ud;
	int rc = 0;

	(void)path;
	if (n->type != NODE_FILE)
		return 0;
	for (size_t i = 0; rc >= 0 && i < n->n_content; i++)
		if (!n->content[i].hole)
			rc = repo_blobset_add(&p->used_data, BLOB_DATA, n->content[i].id);
	return rc < 0 ? rc : 0;
}

/* Every blob that any snapshot reaches. A tree that cannot be read stops prune: deleting
 * data while the picture is incomplete could remove what that tree needs. */
static int mark(struct prune *p)
{
	struct snapshot *v = NULL;
	size_t n = 0;
	int rc;

	rc = repo_snapshot_list(p->r, &v, &n, p->e);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		char id[ID_HEX];

		rc = repo_walk(p->r, v[i].tree, v[i].n_tree, &p->used_trees, mark_node, p, p->e);
		hex_encode(v[i].id, ID_BYTES, id);
		if (rc < 0)
			err_wrap(p->e, rc, "snapshot %.8s (prune stops: run 'cairn repair snapshots')",
				 id);
		if (rc >= 0)
			rc = repo_lock_refresh(p->lock, p->e);
	}
	snapshot_list_free(v, n);
	return rc;
}

/* Packs no index lists may be a running backup's, uploaded but not yet indexed: whatever
 * the locks say (a lock can be removed by hand, or judged stale a moment too early), one
 * younger than the lock stale age, or of unknown age, is kept (counted as indexed, so the
 * sweep leaves it). A later prune removes it once it is old. */
static int keep_young(struct prune *p)
{
	for (size_t i = 0; i < p->n_present; i++) {
		struct err e = ERR_INIT;
		int64_t age = 0;
		int rc;

		if (p->present[i].indexed)
			continue;
		rc = repo_pack_age(p->r, p->present[i].id, &age, &e);
		if (rc == -ENOENT)
			continue; /* gone already */
		if (rc < 0 && rc != -EOPNOTSUPP)
			return err_set(p->e, rc, "%s", e.msg);
		if (rc == -EOPNOTSUPP || age < repo_lock_stale_sec()) {
			p->present[i].indexed = true;
			p->res->packs_young++;
		}
	}
	return 0;
}

static bool keep_has(const struct prune *p, uint64_t seq)
{
	return seq / 64 < p->cap_keep && (p->keep[seq / 64] >> (seq % 64) & 1);
}

static int keep_set(struct prune *p, uint64_t seq)
{
	if (seq / 64 >= p->cap_keep) {
		size_t cap = p->cap_keep ? 2 * p->cap_keep : 1024;
		uint64_t *v;

		while (seq / 64 >= cap)
			cap *= 2;
		v = reallocarray(p->keep, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + p->cap_keep, 0, (cap - p->cap_keep) * sizeof(*v));
		p->keep = v;
		p->cap_keep = cap;
	}
	p->keep[seq / 64] |= 1ull << (seq % 64);
	return 0;
}

/* The first walk: a plan entry per pack, and which copy of every used blob stays. */
static int plan_begin(void *ud, const uint8_t pack[ID_BYTES])
{
	struct prune *p = ud;
	struct plan_pack *pp;
	struct present *pr;

	if (VEC_RESERVE1(p->plan, p->cap_plan, p->n_plan, 64))
		return -ENOMEM;
	pp = &p->plan[p->n_plan++];
	memset(pp, 0, sizeof(*pp));
	memcpy(pp->id, pack, ID_BYTES);
	pp->first_seq = p->seq;
	pr = p->n_present ? bsearch(pack, p->present, p->n_present, sizeof(*pr), cmp_id) : NULL;
	if (!pr) {
		pp->fate = FATE_MISSING;
		p->res->packs_missing++;
		return 0;
	}
	pr->indexed = true;
	pp->size = pr->size;
	return 0;
}

static int plan_blob(void *ud, const struct repo_ix_blob *b)
{
	struct prune *p = ud;
	struct plan_pack *pp = &p->plan[p->n_plan - 1];
	struct repo_prune_result *res = p->res;
	struct repo_blobset *used = b->type == BLOB_TREE ? &p->used_trees : &p->used_data;
	struct repo_blobkey k;
	uint64_t seq = p->seq++;
	int rc;

	pp->n_blobs++;
	if (pp->fate == FATE_MISSING)
		return 0;
	repo_blobset_key(used, b->type, b->id, &k); /* one lookup for both sets */
	if (!repo_blobset_has_key(used, &k)) {
		res->blobs_unused++;
		return 0;
	}
	rc = repo_blobset_add_key(&p->claimed, &k);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		res->blobs_duplicate++;
		return 0;
	}
	rc = keep_set(p, seq);
	if (rc < 0)
		return rc;
	pp->n_used++;
	pp->used_bytes += b->stored_len;
	res->blobs_used++;
	return 0;
}

static int plan_end(void *ud)
{
	(void)ud;
	return 0;
}

/* Decide each pack's fate: which copy of every used blob stays, what is dropped. */
static int plan(struct prune *p)
{
	static const struct maint_ixwalk_ops ops = { NULL, plan_begin, plan_blob, plan_end };
	uint64_t total = 0, unused = 0;
	size_t *cand = NULL, n_cand = 0;
	int rc;

	rc = maint_ixwalk(p->r, p->names.v, p->names.n, &ops, p, p->e);
	if (rc == -ENOMEM)
		return err_set(p->e, rc, "out of memory");
	if (rc < 0)
		return rc;
	cand = calloc(p->n_plan ? p->n_plan : 1, sizeof(*cand));
	if (!cand)
		return err_set(p->e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_plan; i++) {
		struct plan_pack *pp = &p->plan[i];

		if (pp->fate == FATE_MISSING)
			continue;
		if (!pp->n_used) {
			pp->fate = FATE_DELETE;
			continue;
		}
		total += pp->size;
		unused += pp->size - (pp->used_bytes < pp->size ? pp->used_bytes : pp->size);
		if (pp->used_bytes < pp->size)
			cand[n_cand++] = i;
	}
	/* Repack the emptiest packs first until what stays unused is within the limit. */
	for (size_t a = 1; a < n_cand; a++)
		for (size_t b = a; b > 0; b--) {
			const struct plan_pack *x = &p->plan[cand[b]], *y = &p->plan[cand[b - 1]];

			/* x->used/x->size < y->used/y->size, cross-multiplied */
			size_t t = cand[b];

			if ((double)x->used_bytes * (double)y->size >=
			    (double)y->used_bytes * (double)x->size)
				break;
			cand[b] = cand[b - 1];
			cand[b - 1] = t;
		}
	for (size_t k = 0; k < n_cand; k++) {
		struct plan_pack *pp = &p->plan[cand[k]];
		uint64_t waste = pp->size - pp->used_bytes;

		if ((double)unused <= p->o->max_unused_pct / 100.0 * (double)total)
			break;
		pp->fate = FATE_REPACK;
		unused -= waste;
		total -= waste;
	}
	p->res->bytes_unused_after = unused;
	free(cand);
	return keep_young(p);
}

/* Packs are read for a repack in ranges of this size (or one blob, when larger), from the
 * next blob kept: a 16 MiB pack of tiny blobs is never whole in memory, and runs of unused
 * blobs longer than a range are not read at all. */
#define REPACK_RANGE (4u << 20)
/* At most this many blobs go into one new pack (2.9 MB of the writer's list). */
#define REPACK_PACK_BLOBS 65536u

/* The sealed bytes of b within [*at, *at + data->len), fetching a new range at b when b
 * is not wholly in the current one. NULL (rc -EBADMSG) when the pack ends before b does. */
static const uint8_t *range_blob(struct prune *p, const char *name, uint64_t size,
				 const struct repo_ix_blob *b, struct buf *data, uint64_t *at,
				 int *rc)
{
	uint64_t end = (uint64_t)b->offset + b->stored_len, n;

	*rc = 0;
	if (b->offset >= *at && end <= *at + data->len)
		return data->p + (b->offset - *at);
	n = b->stored_len > REPACK_RANGE ? b->stored_len : REPACK_RANGE;
	if (b->offset >= size || end > size) {
		*rc = -EBADMSG;
		return NULL;
	}
	if (n > size - b->offset)
		n = size - b->offset;
	buf_reset(data);
	*at = b->offset;
	*rc = backend_get(repo_backend(p->r), OBJ_DATA, name, b->offset, n, data, p->e);
	if (*rc >= 0 && end > *at + data->len)
		*rc = -EBADMSG;
	return *rc < 0 ? NULL : data->p;
}

/* The packs the repack finished since the last call; with finish, the open ones too. */
static int index_add_written(struct prune *p, bool finish)
{
	size_t k = 0;
	int rc = repo_ixw_add_written(p->r, p->w, finish, &k, p->e);

	if (finish)
		p->copied_open = 0;

	p->written += k;
	return rc;
}

/* One kept entry of a repacked pack: read (within the current range), verified, copied. */
static int repack_blob(struct prune *p, const struct plan_pack *pp, const struct repo_ix_blob *b)
{
	char name[ID_HEX], bid[ID_HEX];
	const uint8_t *sealed;
	int rc;

	hex_encode(pp->id, ID_BYTES, name);
	sealed = range_blob(p, name, pp->size, b, &p->data, &p->data_at, &rc);
	if (rc == -EBADMSG || (sealed && (rc = repo_blob_verify(p->r, b, sealed)) < 0)) {
		hex_encode(b->id, ID_BYTES, bid);
		rc = err_reset(p->e, rc,
			       "pack %s: blob %s is damaged; prune stops before deleting "
			       "anything (run 'cairn check --read-data')",
			       name, bid);
	}
	if (rc >= 0)
		rc = repo_blob_copy(p->r, b, sealed, p->e);
	if (rc >= 0)
		p->res->blobs_repacked++;
	/* The open pack's writer lists its blobs in memory (44 bytes each, doubling): a pack
	 * of 300 000 tiny blobs would hold 13 MB of list, with room for twice that. Finish
	 * it earlier; blobs of ordinary size fill a pack long before. */
	if (rc >= 0 && ++p->copied_open >= REPACK_PACK_BLOBS)
		rc = index_add_written(p, true);
	return rc;
}

/* The second walk, over the same index files: a kept pack's entries go to the new index,
 * a repacked pack's kept copies to new packs (indexed once the pack is done). The walk
 * must meet the packs and entries the first one did; anything else is an error before
 * anything is deleted. */
static int sweep_begin(void *ud, const uint8_t pack[ID_BYTES])
{
	struct prune *p = ud;
	const struct plan_pack *pp;
	int rc = 0;

	if (p->at_pack >= p->n_plan || memcmp(p->plan[p->at_pack].id, pack, ID_BYTES))
		return err_set(p->e, -ESTALE, "the index files changed during prune");
	pp = &p->plan[p->at_pack];
	p->at_blob = 0;
	if (pp->fate == FATE_KEEP)
		rc = repo_ixw_pack(p->w, pp->id, pp->n_blobs, p->e);
	if (pp->fate == FATE_REPACK) {
		buf_reset(&p->data); /* a range of another pack is no range of this one */
		p->data_at = 0;
	}
	return rc;
}

static int sweep_blob(void *ud, const struct repo_ix_blob *b)
{
	struct prune *p = ud;
	const struct plan_pack *pp = &p->plan[p->at_pack];
	uint64_t seq = pp->first_seq + p->at_blob;

	if (p->at_blob++ >= pp->n_blobs)
		return err_set(p->e, -ESTALE, "the index files changed during prune");
	if (pp->fate == FATE_KEEP)
		return repo_ixw_blob(p->w, b, p->e);
	if (pp->fate == FATE_REPACK && keep_has(p, seq))
		return repack_blob(p, pp, b);
	return 0;
}

static int sweep_end(void *ud)
{
	struct prune *p = ud;
	const struct plan_pack *pp = &p->plan[p->at_pack++];
	int rc = 0;

	if (p->at_blob != pp->n_blobs)
		return err_set(p->e, -ESTALE, "the index files changed during prune");
	if (pp->fate != FATE_REPACK)
		return 0;
	rc = repo_lock_refresh(p->lock, p->e);
	if (rc >= 0)
		repo_maint_meter_add(&p->meter, 1, pp->size);
	if (rc >= 0)
		rc = index_add_written(p, false);
	return rc;
}

static int sweep(struct prune *p)
{
	static const struct maint_ixwalk_ops ops = { NULL, sweep_begin, sweep_blob, sweep_end };
	int rc = repo_ixw_new(p->r, p->names.v, p->names.n, &p->w);

	if (rc < 0)
		return err_set(p->e, rc, "index writer: %s", strerror(-rc));
	buf_init(&p->data, REPO_BLOB_MAX + (size_t)KEY_SEAL_OVERHEAD + REPACK_RANGE);
	rc = maint_ixwalk(p->r, p->names.v, p->names.n, &ops, p, p->e);
	if (rc == -ENOMEM)
		return err_set(p->e, rc, "out of memory");
	if (rc >= 0 && p->at_pack != p->n_plan)
		rc = err_set(p->e, -ESTALE, "the index files changed during prune");
	buf_release(&p->data);
	return rc;
}

/* Deletions in batches (one request each on S3), the lock refreshed between them so a
 * long deletion phase does not let it go stale. With sizes, names from first_counted on
 * advance the progress (sizes[i] bytes each). */
static int del_batches(struct prune *p, enum obj_type t, const char *const *names, size_t n,
		       const uint64_t *sizes, size_t first_counted)
{
	enum { BATCH = 1000 };
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < n; i += BATCH) {
		size_t k = n - i < BATCH ? n - i : BATCH;
		uint64_t packs = 0, bytes = 0;

		rc = backend_del_many(repo_backend(p->r), t, names + i, k, p->e);
		if (rc >= 0)
			rc = repo_lock_refresh(p->lock, p->e);
		for (size_t j = i; sizes && j < i + k; j++)
			if (j >= first_counted) {
				packs++;
				bytes += sizes[j];
			}
		if (rc >= 0 && packs)
			repo_maint_meter_add(&p->meter, packs, bytes);
	}
	return rc;
}

static int index_finish(struct prune *p)
{
	size_t files = 0;
	int rc = index_add_written(p, true);

	if (rc >= 0)
		rc = repo_ixw_finish(p->w, &files, p->e);
	p->res->packs_written = p->written;
	p->res->index_new = files;
	return rc;
}

/* The new index set is complete (untouched packs + new packs): the old files go; only
 * then the packs they alone listed. */
static int commit(struct prune *p)
{
	size_t n = 0, n_repacked;
	size_t most = p->names.n + p->n_plan + p->n_present + 1;
	char(*hex)[ID_HEX] = NULL;
	const char **names = NULL;
	uint64_t *sizes = NULL;
	int rc = 0;

	hex = calloc(most, sizeof(*hex));
	names = calloc(most, sizeof(*names));
	sizes = calloc(most, sizeof(*sizes));
	if (!hex || !names || !sizes) {
		rc = err_set(p->e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = index_finish(p);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < p->names.n; i++)
		names[n++] = p->names.v[i];
	rc = del_batches(p, OBJ_INDEX, names, n, NULL, 0);
	n = 0;
	/* Repacked packs first: the progress counted them when they were repacked. */
	for (size_t i = 0; rc >= 0 && i < p->n_plan; i++)
		if (p->plan[i].fate == FATE_REPACK)
			hex_encode(p->plan[i].id, ID_BYTES, hex[n++]);
	n_repacked = n;
	for (size_t i = 0; rc >= 0 && i < p->n_plan; i++)
		if (p->plan[i].fate == FATE_DELETE) {
			sizes[n] = p->plan[i].size;
			hex_encode(p->plan[i].id, ID_BYTES, hex[n++]);
		}
	/* Packs no index listed: under the exclusive lock no backup can still be writing
	 * them, so they are leftovers of killed runs. */
	for (size_t i = 0; rc >= 0 && i < p->n_present; i++)
		if (!p->present[i].indexed) {
			sizes[n] = p->present[i].size;
			hex_encode(p->present[i].id, ID_BYTES, hex[n++]);
		}
	for (size_t i = 0; i < n; i++)
		names[i] = hex[i];
	if (rc >= 0)
		rc = del_batches(p, OBJ_DATA, names, n, sizes, n_repacked);
fail:
	free(sizes);
	free(names);
	free(hex);
	return rc;
}

static void tally(struct prune *p)
{
	struct repo_prune_result *res = p->res;

	for (size_t i = 0; i < p->n_present; i++) {
		res->packs++;
		res->bytes_before += p->present[i].size;
		if (!p->present[i].indexed) {
			res->packs_orphaned++;
			continue;
		}
	}
	res->bytes_after = res->bytes_before;
	for (size_t i = 0; i < p->n_plan; i++) {
		if (p->plan[i].fate == FATE_DELETE)
			res->packs_deleted++;
		if (p->plan[i].fate == FATE_REPACK)
			res->packs_repacked++;
		if (p->plan[i].fate == FATE_DELETE || p->plan[i].fate == FATE_REPACK)
			res->bytes_after -= p->plan[i].size;
		if (p->plan[i].fate == FATE_REPACK)
			res->bytes_after += p->plan[i].used_bytes;
	}
	for (size_t i = 0; i < p->n_present; i++)
		if (!p->present[i].indexed)
			res->bytes_after -= p->present[i].size;
	res->index_old = p->names.n;
}

/* The work ahead: every pack to repack or delete, with its size. */
static void meter_start(struct prune *p)
{
	struct repo_maint_meter *m = &p->meter;

	m->fn = p->o->progress;
	m->ud = p->o->progress_ud;
	m->ms = p->o->progress_ms;
	m->p.phase = "prune";
	for (size_t i = 0; i < p->n_plan; i++)
		if (p->plan[i].fate == FATE_DELETE || p->plan[i].fate == FATE_REPACK) {
			m->p.packs_total++;
			m->p.bytes_total += p->plan[i].size;
		}
	for (size_t i = 0; i < p->n_present; i++)
		if (!p->present[i].indexed) {
			m->p.packs_total++;
			m->p.bytes_total += p->present[i].size;
		}
	repo_maint_meter_add(m, 0, 0);
}

int repo_prune(struct repo *r, struct repo_lock *held, const struct repo_prune_opts *o,
	       struct repo_prune_result *ret, struct err *e)
{
	struct repo_prune_result res = { 0 };
	struct prune p = { .r = r, .lock = held, .o = o, .res = &res, .e = e };
	int rc;

	if (!held)
		return err_set(e, -EINVAL, "prune needs an exclusive lock");
	rc = repo_index_load(r, e);
	if (rc >= 0)
		rc = maint_ixnames(r, &p.names, e);
	/* The load frees each index file's buffer under the index's own arrays: give those
	 * pages back, or they stay resident (glibc trims only the heap's top) through the
	 * mark and the repack. */
	malloc_trim(0);
	if (rc >= 0)
		rc = repo_pack_list(r, note_present, &p, e);
	if (rc >= 0 && (repo_blobset_init(&p.used_trees, r) < 0 ||
			repo_blobset_init(&p.used_data, r) < 0 || repo_blobset_init(&p.claimed, r) < 0))
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc < 0)
		goto fail;
	if (p.n_present)
		qsort(p.present, p.n_present, sizeof(*p.present), cmp_id);
	rc = mark(&p);
	if (rc >= 0)
		rc = plan(&p);
	/* The sets number blobs by their place in the index, which the repack changes. */
	repo_blobset_release(&p.used_trees);
	repo_blobset_release(&p.used_data);
	repo_blobset_release(&p.claimed);
	if (rc < 0)
		goto fail;
	tally(&p);
	if (!o->dry_run) {
		/* From here on nothing looks a blob up: the sweep walks the index files, and
		 * the index would be stale after the commit anyway. Dropped, the new packs do
		 * not go into it either; the next user of r loads the new index files. */
		repo_index_drop(r);
		meter_start(&p);
		rc = sweep(&p);
		if (rc >= 0)
			rc = commit(&p);
		if (rc < 0)
			goto fail;
		/* Under the exclusive lock no writer runs; the age spares a writer that lost
		 * its lock but not its process. */
		backend_sweep_tmp(repo_backend(r), (int64_t)time(NULL) - repo_lock_stale_sec());
		res.bytes_after = 0;
		/* Measured, not estimated: the packs a new list shows. */
		p.n_present = 0;
		rc = repo_pack_list(r, note_present, &p, e);
		for (size_t i = 0; rc >= 0 && i < p.n_present; i++)
			res.bytes_after += p.present[i].size;
		if (rc < 0)
			goto fail;
	}
	*ret = res;
fail:
	repo_ixw_free(p.w);
	buf_release(&p.data);
	free(p.plan);
	free(p.keep);
	maint_ixnames_release(&p.names);
	free(p.present);
	repo_blobset_release(&p.used_trees);
	repo_blobset_release(&p.used_data);
	repo_blobset_release(&p.claimed);
	return rc;
}
