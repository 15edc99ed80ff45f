/* Owns index files: which blobs live where, written after their packs are stored, so a
 * crash never indexes a pack that is not there. Packs that no index lists (a killed
 * backup) are adopted by reading their headers.
 *
 *   index := le32 magic, varint n_supersedes, id[32]*, varint n_packs,
 *            n_packs * (id[32], varint n, n * (u8 type, u8 flags, id[32], varint off,
 *                                             varint stored, varint raw))
 */
#include "repo/repo-internal.h"

#include "repo/admin.h"

#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/vec.h"

static int cmp_file(const void *a, const void *b)
{
	return memcmp(a, b, ID_BYTES);
}

static bool file_known(struct repo *r, const uint8_t id[ID_BYTES])
{
	bool known;

	pthread_mutex_lock(&r->idx_lock);
	known = r->idx.n_files &&
		bsearch(id, r->idx.files, r->idx.n_files, ID_BYTES, cmp_file) != NULL;
	pthread_mutex_unlock(&r->idx_lock);
	return known;
}

/* Remember an index file as read (or written by us) so a reload skips it. */
static int file_note(struct repo *r, const uint8_t id[ID_BYTES])
{
	struct idx *x = &r->idx;
	int rc = 0;

	pthread_mutex_lock(&r->idx_lock);
	if (x->n_files == x->cap_files) {
		size_t cap = x->cap_files ? 2 * x->cap_files : 64;
		void *p = reallocarray(x->files, cap, ID_BYTES);

		if (!p) {
			rc = -ENOMEM;
			goto out;
		}
		x->files = p;
		x->cap_files = cap;
	}
	memcpy(x->files[x->n_files++], id, ID_BYTES);
	/* Kept sorted for the membership test; index files are few (one per 64 packs). */
	qsort(x->files, x->n_files, ID_BYTES, cmp_file);
out:
	pthread_mutex_unlock(&r->idx_lock);
	return rc;
}

int index_add_pack(struct repo *r, const uint8_t pack[ID_BYTES], const struct pack_blob *b,
		   size_t n, bool copies)
{
	uint64_t off = 0;
	uint32_t pn;
	int rc;

	pthread_mutex_lock(&r->idx_lock);
	if (r->idx_dropped) {
		/* Released on purpose (a prune's repack): its index files list the pack. */
		pthread_mutex_unlock(&r->idx_lock);
		return 0;
	}
	rc = idx_pack_number(&r->idx, pack, &pn);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		struct idx_entry e = { .pack = pn, .offset = (uint32_t)off,
				       .stored_len = b[i].stored_len, .raw_len = b[i].raw_len,
				       .type = b[i].type, .compressed = b[i].compressed };

		if (off > UINT32_MAX) {
			rc = -EFBIG;
			break;
		}
		memcpy(e.id, b[i].id, ID_BYTES);
		rc = copies ? idx_put_copy(&r->idx, &e) : idx_put(&r->idx, &e);
		off += b[i].stored_len;
	}
	pthread_mutex_unlock(&r->idx_lock);
	return rc;
}

/* ---- the one encoder: both the backup's index files and maintenance's (with
 * supersedes) go through put_head and put_blob ---- */

static int put_head(struct buf *b, char (*sup)[ID_HEX], size_t n_sup, size_t n_packs)
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
		rc = buf_put_varint(b, n_packs);
	return rc;
}

static int put_pack(struct buf *b, const uint8_t id[ID_BYTES], size_t n_blobs)
{
	int rc = buf_append(b, id, ID_BYTES);

	return rc >= 0 ? buf_put_varint(b, n_blobs) : rc;
}

static int put_blob(struct buf *b, uint8_t type, uint8_t compressed, const uint8_t id[ID_BYTES],
		    uint64_t off, uint32_t stored, uint32_t raw)
{
	int rc = buf_put_u8(b, type);

	if (rc >= 0)
		rc = buf_put_u8(b, compressed);
	if (rc >= 0)
		rc = buf_append(b, id, ID_BYTES);
	if (rc >= 0)
		rc = buf_put_varint(b, off);
	if (rc >= 0)
		rc = buf_put_varint(b, stored);
	if (rc >= 0)
		rc = buf_put_varint(b, raw);
	return rc;
}

static int encode(const struct pack_done *packs, size_t n, struct buf *b)
{
	int rc = put_head(b, NULL, 0, n);

	for (size_t i = 0; rc >= 0 && i < n; i++) {
		uint64_t off = 0;

		rc = put_pack(b, packs[i].id, packs[i].n_blobs);
		for (size_t j = 0; rc >= 0 && j < packs[i].n_blobs; j++) {
			const struct pack_blob *pb = &packs[i].blobs[j];

			rc = put_blob(b, pb->type, pb->compressed, pb->id, off, pb->stored_len,
				      pb->raw_len);
			off += pb->stored_len;
		}
	}
	return rc;
}

/* ---- maintenance's streaming writer (admin.h, repo_ixw_*): packs and blobs are encoded
 * as they come into one file's buffer, which is sealed and stored once the next pack would
 * pass IX_PACKS_PER_FILE packs or IX_BLOBS_PER_FILE blobs, so a rebuilt or pruned index is
 * never whole in memory a second time. ---- */

/* The head is written last (its pack count is known only then), into room kept at the
 * front of the buffer: magic, the supersedes, and a pack count of at most 10 bytes. */
struct repo_ixw {
	struct repo *r;
	char (*sup)[ID_HEX];
	size_t n_sup;
	struct buf b;
	size_t room;
	size_t packs, blobs; /* in the file being filled */
	size_t left;         /* blobs the current pack still expects */
	size_t files;
};

int repo_ixw_new(struct repo *r, char (*sup)[ID_HEX], size_t n_sup, struct repo_ixw **ret)
{
	struct repo_ixw *w;
	size_t room;
	int rc;

	if (n_sup > (INDEX_FILE_MAX - 32) / ID_BYTES)
		return -EFBIG;
	room = 4 + 10 + n_sup * ID_BYTES + 10;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->r = r;
	w->sup = sup;
	w->n_sup = n_sup;
	w->room = room;
	buf_init(&w->b, INDEX_FILE_MAX);
	rc = buf_reserve(&w->b, room);
	if (rc < 0) {
		repo_ixw_free(w);
		return rc;
	}
	w->b.len = room;
	*ret = w;
	return 0;
}

void repo_ixw_free(struct repo_ixw *w)
{
	if (!w)
		return;
	buf_release(&w->b);
	free(w);
}

static int ixw_flush(struct repo_ixw *w, struct err *e)
{
	struct buf head = BUF_INIT;
	size_t hl;
	int rc;

	buf_init(&head, w->room);
	rc = put_head(&head, w->sup, w->n_sup, w->packs);
	hl = head.len;
	if (rc >= 0)
		memcpy(w->b.p + w->room - hl, head.p, hl);
	buf_release(&head);
	if (rc < 0)
		return err_set(e, rc, "index head: %s", strerror(-rc));
	rc = obj_seal_put(w->r, OBJ_INDEX, KEY_DOMAIN_INDEX, w->b.p + w->room - hl,
			  w->b.len - w->room + hl, NULL, e);
	if (rc < 0)
		return rc;
	w->b.len = w->room;
	w->packs = w->blobs = 0;
	w->files++;
	return 0;
}

int repo_ixw_pack(struct repo_ixw *w, const uint8_t id[ID_BYTES], size_t n_blobs, struct err *e)
{
	int rc;

	if (w->left)
		return err_set(e, -EINVAL, "index writer: %zu blobs of the last pack missing",
			       w->left);
	if (n_blobs > PACK_MAX_BLOBS)
		return err_set(e, -EFBIG, "index writer: pack of %zu blobs", n_blobs);
	if (w->packs && (w->packs >= IX_PACKS_PER_FILE || w->blobs > IX_BLOBS_PER_FILE ||
			 n_blobs > IX_BLOBS_PER_FILE - w->blobs)) {
		rc = ixw_flush(w, e);
		if (rc < 0)
			return rc;
	}
	rc = put_pack(&w->b, id, n_blobs);
	if (rc < 0)
		return err_set(e, rc, "index too large");
	w->packs++;
	w->blobs += n_blobs;
	w->left = n_blobs;
	return 0;
}

int repo_ixw_blob(struct repo_ixw *w, const struct repo_ix_blob *x, struct err *e)
{
	int rc;

	if (!w->left)
		return err_set(e, -EINVAL, "index writer: more blobs than the pack declared");
	rc = put_blob(&w->b, x->type, x->compressed, x->id, x->offset, x->stored_len,
		      x->raw_len);
	if (rc < 0)
		return err_set(e, rc, "index too large");
	w->left--;
	return 0;
}

int repo_ixw_finish(struct repo_ixw *w, size_t *ret_files, struct err *e)
{
	int rc = 0;

	if (w->left)
		return err_set(e, -EINVAL, "index writer: %zu blobs of the last pack missing",
			       w->left);
	if (w->packs || !w->files)
		rc = ixw_flush(w, e);
	if (rc >= 0 && ret_files)
		*ret_files = w->files;
	return rc;
}

int index_file_write(struct repo *r, const struct pack_done *packs, size_t n, struct err *e)
{
	uint8_t id[ID_BYTES];
	char name[ID_HEX];
	struct buf b = BUF_INIT;
	int rc;

	if (!n)
		return 0;
	buf_init(&b, INDEX_FILE_MAX);
	rc = encode(packs, n, &b);
	if (rc < 0) {
		err_set(e, rc, "index too large");
		goto fail;
	}
	rc = obj_seal_put(r, OBJ_INDEX, KEY_DOMAIN_INDEX, b.p, b.len, name, e);
	if (rc >= 0 && hex_decode(name, id, ID_BYTES) == 0)
		rc = file_note(r, id);
fail:
	buf_release(&b);
	return rc;
}

/* Fetch, open and decode index file `name`, bounds-checking every field: the one parser of
 * the index format, shared by loading and `cat index`. */
int index_walk(struct repo *r, const char *name, ix_fn fn, void *ud, struct err *e)
{
	struct buf b = BUF_INIT;
	uint64_t n_sup, n, nb;
	struct ix_entry x;
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
		rc = rd_bytes(&rd, ID_BYTES, &x.pack);
		if (rc >= 0)
			rc = rd_varint(&rd, &nb);
		if (rc >= 0 && nb > PACK_MAX_BLOBS)
			rc = -EBADMSG;
		for (uint64_t j = 0; rc >= 0 && j < nb; j++) {
			rc = rd_u8(&rd, &x.type);
			if (rc >= 0)
				rc = rd_u8(&rd, &x.compressed);
			if (rc >= 0)
				rc = rd_bytes(&rd, ID_BYTES, &x.id);
			if (rc >= 0)
				rc = rd_varint(&rd, &x.offset);
			if (rc >= 0)
				rc = rd_varint(&rd, &x.stored_len);
			if (rc >= 0)
				rc = rd_varint(&rd, &x.raw_len);
			if (rc >= 0 && (x.type >= _BLOB_TYPE_MAX || x.offset > UINT32_MAX ||
					x.stored_len > UINT32_MAX || x.raw_len > REPO_BLOB_MAX))
				rc = -EBADMSG;
			if (rc >= 0)
				rc = fn(ud, &x);
		}
	}
	if (rc == -EBADMSG)
		err_set(e, rc, "index %s is malformed", name);
fail:
	buf_release(&b);
	return rc;
}

/* A load settles the index (idx_settle) and gives the freed pages back after each file and
 * every this many entries of a big file: the shards' tables of recent puts cost ~66 bytes
 * an entry against 48 in their arrays, and each merge leaves the array it grew out of
 * free. Best after the file's buffer is gone, so a file of the size maintenance and
 * backups write (IX_BLOBS_PER_FILE, one pack of PACK_WRITE_BLOBS) settles only then:
 * settling at its last entry, buffer in hand, cost 2 MiB more at a million blobs. */
#define LOAD_SETTLE_EVERY (IX_BLOBS_PER_FILE + IX_BLOBS_PER_FILE / 2)

struct load {
	struct repo *r;
	size_t since; /* entries put since the last settle */
};

static void load_settle(struct load *l)
{
	pthread_mutex_lock(&l->r->idx_lock);
	idx_settle(&l->r->idx);
	pthread_mutex_unlock(&l->r->idx_lock);
	malloc_trim(0);
	l->since = 0;
}

static int add_entry(void *ud, const struct ix_entry *x)
{
	struct load *l = ud;
	struct repo *r = l->r;
	struct idx_entry ent = { .offset = (uint32_t)x->offset,
				 .stored_len = (uint32_t)x->stored_len,
				 .raw_len = (uint32_t)x->raw_len,
				 .type = x->type,
				 .compressed = x->compressed ? 1 : 0 };
	int rc;

	memcpy(ent.id, x->id, ID_BYTES);
	pthread_mutex_lock(&r->idx_lock);
	rc = idx_pack_number(&r->idx, x->pack, &ent.pack);
	if (rc >= 0)
		rc = idx_put_copy(&r->idx, &ent);
	pthread_mutex_unlock(&r->idx_lock);
	if (rc >= 0 && ++l->since >= LOAD_SETTLE_EVERY)
		load_settle(l);
	return rc;
}

/* 1M blobs of 12-16 bytes, peak RSS of check: 16 files of 65 536 entries 76.0 -> 70.0 MiB,
 * 5 files of up to 300 000 entries 87.1 -> 83.9; of an unchanged backup 68.6 -> 62.8. */
int index_file_read(struct repo *r, const char *name, struct err *e)
{
	struct load l = { .r = r };
	int rc = index_walk(r, name, add_entry, &l, e);

	/* The file's buffer is free too now. */
	load_settle(&l);
	return rc;
}

/* The names of the index files not read yet, in listing order. */
struct load_names {
	struct repo *r;
	uint8_t (*v)[ID_BYTES];
	size_t n, cap;
};

static int load_name(void *ud, const char *name, uint64_t size)
{
	struct load_names *c = ud;
	uint8_t id[ID_BYTES];

	if (hex_decode(name, id, ID_BYTES) < 0 || file_known(c->r, id))
		return 0;
	if (VEC_RESERVE1(c->v, c->cap, c->n, 64))
		return -ENOMEM;
	memcpy(c->v[c->n++], id, ID_BYTES);
	return 0;
}

/* Test builds only: CAIRN_TEST_INDEX_ORDER=reverse reads the index files in the reverse of
 * the listing's order, so a suite sees both orders whatever the store lists first. */
static bool test_reverse(void)
{
#ifdef CAIRN_TEST_HOOKS
	const char *s = getenv("CAIRN_TEST_INDEX_ORDER");

	return s && !strcmp(s, "reverse");
#else
	return false;
#endif
}

/* The whole listing first, then the files: a listing is not held open (a page of an S3
 * listing) while index files are fetched, and the order can be turned for tests. */
ssize_t repo_index_reload(struct repo *r, struct err *e)
{
	struct load_names c = { .r = r };
	bool rev = test_reverse();
	char name[ID_HEX];
	ssize_t rc;
	size_t i;

	/* After a drop, whatever the index took since (nothing, in a prune) is no whole
	 * picture: every file is read again into an empty index. */
	pthread_mutex_lock(&r->idx_lock);
	if (r->idx_dropped)
		idx_release(&r->idx);
	r->idx_dropped = false;
	pthread_mutex_unlock(&r->idx_lock);
	rc = r->be->ops->list(r->be, OBJ_INDEX, load_name, &c, e);
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	for (i = 0; rc >= 0 && i < c.n; i++) {
		const uint8_t *id = c.v[rev ? c.n - 1 - i : i];

		hex_encode(id, ID_BYTES, name);
		rc = index_file_read(r, name, e);
		if (rc >= 0)
			rc = file_note(r, id);
	}
	if (rc >= 0)
		rc = index_dups_resolve(r, e);
	free(c.v);
	if (rc < 0)
		return rc;
	r->idx.loaded = true;
	return (ssize_t)c.n;
}

/* 1M tiny blobs: the index is ~40 MB of prune's 70 MiB peak, and a repack's new packs
 * re-laid every shard as their pack numbers widened its records (34 MB of allocations)
 * while the sweep, which reads the index files themselves, needs none of it. */
void repo_index_drop(struct repo *r)
{
	pthread_mutex_lock(&r->idx_lock);
	idx_release(&r->idx);
	r->idx_dropped = true;
	pthread_mutex_unlock(&r->idx_lock);
	/* The shards' arrays are many blocks below the mmap threshold: give them back. */
	malloc_trim(0);
}

int repo_index_load(struct repo *r, struct err *e)
{
	ssize_t rc;

	if (r->idx.loaded)
		return 0;
	rc = repo_index_reload(r, e);
	return rc < 0 ? (int)rc : 0;
}

/* A known pack: its id (first, so ids sort the array) and its number in the index. */
struct known_pack {
	uint8_t id[ID_BYTES];
	uint32_t num;
};

/* Sorted copy of known pack ids for membership tests while listing data/, and each known
 * pack's listed size by number (UINT64_MAX: not listed). */
struct orphan_scan {
	struct repo *r;
	struct err *e;
	struct known_pack *known;
	size_t n_known;
	uint64_t *sizes;
	ssize_t adopted;
};

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, ID_BYTES);
}

static int adopt_one(void *ud, const char *name, uint64_t size)
{
	struct orphan_scan *s = ud;
	struct pack_blob *blobs = NULL;
	uint8_t id[ID_BYTES];
	size_t n = 0;
	int rc;

	const struct known_pack *k;

	if (hex_decode(name, id, ID_BYTES) < 0)
		return 0;
	k = bsearch(id, s->known, s->n_known, sizeof(*s->known), cmp_id);
	if (k) {
		s->sizes[k->num] = size;
		return 0;
	}
	rc = pack_read_header(s->r, id, size, &blobs, &n, s->e);
	if (rc == -EBADMSG) {
		/* A damaged orphan is check's business; the backup simply does not reuse it. */
		err_clear(s->e);
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = index_add_pack(s->r, id, blobs, n, true);
	if (rc < 0) {
		free(blobs);
		return rc;
	}
	pthread_mutex_lock(&s->r->idx_lock);
	if (s->r->n_done == s->r->cap_done) {
		size_t cap = s->r->cap_done ? 2 * s->r->cap_done : 16;
		void *p = reallocarray(s->r->done, cap, sizeof(*s->r->done));

		if (!p) {
			pthread_mutex_unlock(&s->r->idx_lock);
			free(blobs);
			return -ENOMEM;
		}
		s->r->done = p;
		s->r->cap_done = cap;
	}
	memcpy(s->r->done[s->r->n_done].id, id, ID_BYTES);
	s->r->done[s->r->n_done].blobs = blobs;
	s->r->done[s->r->n_done].n_blobs = n;
	s->r->n_done++;
	pthread_mutex_unlock(&s->r->idx_lock);
	s->adopted++;
	return 0;
}

/* Entries of known packs that reach past the pack's listed size (0 when not there). */
struct lost_scan {
	const uint64_t *sizes;
	size_t n_known;
	uint8_t *bad; /* by pack number */
	struct idx_entry *drop;
	size_t n_drop, cap_drop;
};

static int lost_one(void *ud, const struct idx_entry *x)
{
	struct lost_scan *l = ud;

	if (x->pack >= l->n_known || (uint64_t)x->offset + x->stored_len <= l->sizes[x->pack])
		return 0;
	if (VEC_RESERVE1(l->drop, l->cap_drop, l->n_drop, 64))
		return -ENOMEM;
	l->drop[l->n_drop++] = *x;
	l->bad[x->pack] = 1;
	return 0;
}

/* x's pack lacks it: a copy in a pack the listing showed long enough becomes the one
 * found instead (the blob is not lost): 1, or 0 when there is none, or -ENOMEM. Caller
 * holds idx_lock. */
static int other_copy(struct repo *r, const struct lost_scan *l, const struct idx_entry *x)
{
	struct idx_entry c[8];
	size_t n = idx_dup_copies(&r->idx, x->type, x->id, c, 8);

	for (size_t k = 0; k < n && k < 8; k++) {
		int rc;

		if (c[k].pack >= l->n_known ||
		    (uint64_t)c[k].offset + c[k].stored_len > l->sizes[c[k].pack])
			continue;
		if (!idx_find(&r->idx, x->type, x->id, NULL))
			return 0;
		rc = idx_put(&r->idx, &c[k]);
		return rc < 0 ? rc : 1;
	}
	return 0;
}

/* A pack the listing did not show is asked for once more by name (a store whose listing
 * lags its writes must not make a backup store everything again), then dropped. */
static int drop_lost(struct repo *r, struct orphan_scan *s, struct err *e)
{
	struct lost_scan l = { .sizes = s->sizes, .n_known = s->n_known };
	int rc = 0;

	for (size_t i = 0; i < s->n_known; i++) {
		char hex[ID_HEX];
		uint64_t size;

		if (s->sizes[s->known[i].num] != UINT64_MAX)
			continue;
		hex_encode(s->known[i].id, ID_BYTES, hex);
		rc = backend_stat(r->be, OBJ_DATA, hex, &size, e);
		if (rc == -ENOENT) {
			err_clear(e);
			size = 0;
		} else if (rc < 0) {
			return rc;
		}
		s->sizes[s->known[i].num] = size;
	}
	l.bad = calloc(s->n_known ? s->n_known : 1, 1);
	if (!l.bad)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_lock(&r->idx_lock);
	rc = idx_foreach(&r->idx, lost_one, &l);
	for (size_t i = 0; rc == 0 && i < l.n_drop; i++) {
		int moved = other_copy(r, &l, &l.drop[i]);

		if (moved < 0) {
			rc = moved;
			break;
		}
		if (moved)
			continue;
		idx_remove(&r->idx, l.drop[i].type, l.drop[i].id);
		r->lost_blobs++;
	}
	if (rc == 0) {
		for (size_t i = 0; i < s->n_known; i++)
			if (l.bad[i] && !r->lost_packs++)
				memcpy(r->lost_first, r->idx.packs[i], ID_BYTES);
	}
	pthread_mutex_unlock(&r->idx_lock);
	free(l.drop);
	free(l.bad);
	return rc < 0 ? err_set(e, rc, "out of memory") : 0;
}

size_t repo_lost_packs(const struct repo *r, size_t *ret_blobs, uint8_t first[ID_BYTES])
{
	*ret_blobs = r->lost_blobs;
	if (r->lost_packs)
		memcpy(first, r->lost_first, ID_BYTES);
	return r->lost_packs;
}

ssize_t repo_index_adopt_orphans(struct repo *r, struct err *e)
{
	struct orphan_scan s = { .r = r, .e = e };
	int rc;

	rc = repo_index_load(r, e);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->idx_lock);
	s.n_known = r->idx.n_packs;
	s.known = malloc((s.n_known ? s.n_known : 1) * sizeof(*s.known));
	s.sizes = malloc((s.n_known ? s.n_known : 1) * sizeof(*s.sizes));
	for (size_t i = 0; s.known && s.sizes && i < s.n_known; i++) {
		memcpy(s.known[i].id, r->idx.packs[i], ID_BYTES);
		s.known[i].num = (uint32_t)i;
		s.sizes[i] = UINT64_MAX;
	}
	pthread_mutex_unlock(&r->idx_lock);
	if (!s.known || !s.sizes) {
		free(s.known);
		free(s.sizes);
		return err_set(e, -ENOMEM, "out of memory");
	}
	qsort(s.known, s.n_known, sizeof(*s.known), cmp_id);
	rc = r->be->ops->list(r->be, OBJ_DATA, adopt_one, &s, e);
	if (rc >= 0)
		rc = drop_lost(r, &s, e);
	free(s.known);
	free(s.sizes);
	if (rc < 0)
		return rc;
	/* Record the adoption so the next run does not read those headers again. */
	rc = repo_flush(r, e);
	return rc < 0 ? rc : s.adopted;
}

struct json_ctx {
	json_t *packs, *blobs;
	const uint8_t *pack;
};

static int json_entry(void *ud, const struct ix_entry *x)
{
	struct json_ctx *c = ud;
	char hex[ID_HEX];

	if (!c->blobs || c->pack != x->pack) {
		c->blobs = json_array();
		c->pack = x->pack;
		hex_encode(x->pack, ID_BYTES, hex);
		if (!c->blobs || json_array_append_new(c->packs, json_pack("{s:s, s:o}", "id", hex,
									   "blobs", c->blobs)) < 0)
			return -ENOMEM;
	}
	hex_encode(x->id, ID_BYTES, hex);
	return json_array_append_new(c->blobs,
				     json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "id", hex, "type",
					       x->type ? "tree" : "data", "offset",
					       (json_int_t)x->offset, "length",
					       (json_int_t)x->stored_len, "raw_length",
					       (json_int_t)x->raw_len, "compressed", x->compressed)) < 0
		       ? -ENOMEM
		       : 0;
}

int repo_index_file_json(struct repo *r, const char *name, json_t **ret, struct err *e)
{
	struct json_ctx c = { .packs = json_array() };
	int rc;

	if (!c.packs)
		return err_set(e, -ENOMEM, "out of memory");
	rc = index_walk(r, name, json_entry, &c, e);
	if (rc < 0) {
		json_decref(c.packs);
		return rc;
	}
	*ret = json_pack("{s:o}", "packs", c.packs);
	return 0;
}
