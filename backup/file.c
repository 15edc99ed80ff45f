/* Owns reading one regular file: data extents found with SEEK_DATA/SEEK_HOLE (holes are
 * recorded, never read), each extent cut by the chunker, each chunk deduplicated. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/fsutil.h"
#include "util/vec.h"

/* Read this much at a time: a bigger read only touches more buffer pages (RSS). */
#define READ_STEP (1u * 1024 * 1024)
/* The read buffer holds a maximum-size chunk (8 MiB by default), but chunks average 1 MiB:
 * sliding the unconsumed tail down once the buffer holds this much keeps the pages it ever
 * touches to about this many, unless one chunk really is bigger. The slide copies a partial
 * chunk (half the average size) per MiB read, a memmove within the cache, noise beside
 * hashing them. 2 MiB instead of 4 cut the peak RSS of the 1 GiB first backup by ~1.5 MiB
 * (6 alternating runs each, bench tree of mkdata.sh; chunks there reach 2.3 MiB, so the
 * buffer touches ~3 MiB) at the same CPU time. */
#define READ_WINDOW (2u * 1024 * 1024)
/* From this size on, a fully allocated file is still probed for unwritten extents: two
 * lseeks cost nothing next to reading a megabyte. */
#define BK_PROBE_HOLES_MIN (1u * 1024 * 1024)

struct extents {
	struct extent *v;
	size_t n, cap;
};

static int ext_add(struct extents *x, const uint8_t *id, uint64_t len, bool hole)
{
	if (hole && x->n && x->v[x->n - 1].hole) {
		x->v[x->n - 1].len += len;
		return 0;
	}
	if (VEC_RESERVE1(x->v, x->cap, x->n, 8))
		return -ENOMEM;
	memset(&x->v[x->n], 0, sizeof(x->v[0]));
	if (id)
		memcpy(x->v[x->n].id, id, ID_BYTES);
	x->v[x->n].len = len;
	x->v[x->n].hole = hole;
	x->n++;
	return 0;
}

/* Chunks cut and handed to the hash helpers, oldest first, still pointing into the read
 * buffer: a ring, so the walker waits for the oldest one only when it needs its bytes. */
struct pending {
	struct htask t[HASH_BATCH];
	size_t head, n;
};

/* Wait for the oldest pending chunk's hash, then dedup and queue it (which copies it). */
static int retire(struct bk *b, struct pending *q, struct extents *x)
{
	struct htask *t = &q->t[q->head];
	int rc;

	hashpool_wait_one(&b->hp, t);
	q->head = (q->head + 1) % HASH_BATCH;
	q->n--;
	rc = bk_save_hashed(b, BLOB_DATA, t->p, t->n, t->id);
	if (rc >= 0)
		rc = ext_add(x, t->id, t->n, false);
	if (rc < 0)
		return rc;
	b->prog.bytes_done += t->n;
	bk_progress(b, false);
	return 0;
}

/* Retire pending chunks, in order, until none holds bytes of buf[lo, hi): the next slide
 * or read writes there. */
static int retire_below(struct bk *b, struct pending *q, struct extents *x, size_t lo, size_t hi)
{
	for (;;) {
		bool hit = false;
		int rc;

		for (size_t i = 0; i < q->n && !hit; i++) {
			const struct htask *t = &q->t[(q->head + i) % HASH_BATCH];
			size_t at = (size_t)(t->p - b->rbuf);

			hit = at < hi && lo < at + t->n;
		}
		if (!hit)
			return 0;
		rc = retire(b, q, x);
		if (rc < 0)
			return rc;
	}
}

/* Read more of [*off, end) into the buffer after its unconsumed bytes. 0, or -errno. */
static int refill(struct bk *b, int fd, uint64_t *off, uint64_t end, size_t *len, bool *eof)
{
	size_t want = b->rcap - *len;
	ssize_t k;

	if (want > READ_STEP)
		want = READ_STEP;
	if (want > end - *off)
		want = (size_t)(end - *off);
	if (!want) {
		*eof = true;
		return 0;
	}
	k = pread_full(fd, b->rbuf + *len, want, (off_t)*off);
	if (k < 0)
		return (int)k;
	*len += (size_t)k;
	*off += (uint64_t)k;
	if ((size_t)k < want)
		*eof = true; /* shrank under us; the caller notices via fstat */
	return bk_should_stop(b) ? -ECANCELED : 0;
}

/* Chunk [off, end) of fd. Returns bytes read (short when the file shrank). Each chunk is
 * handed to the hash helpers as soon as it is cut and waited for only when its bytes are
 * about to be overwritten, so hashing overlaps the next reads and cuts: the mutated backup
 * (nearly all dedup hits) was bound by the walker hashing alone. */
static int64_t chunk_range(struct bk *b, int fd, uint64_t off, uint64_t end, struct extents *x)
{
	const struct chunker *c = repo_chunker(b->repo);
	struct pending q = { .head = 0 };
	/* The search of the chunk at pos resumes after each refill instead of starting over
	 * at its min: with 1 MiB reads and 1 MiB chunks most chunks were searched partly
	 * twice. The slide moves the bytes, which chunker_next allows. */
	struct chunker_scan scan = CHUNKER_SCAN_INIT;
	size_t len = 0, pos = 0;
	uint64_t done = 0;
	bool eof = false;
	int rc = 0;

	while (!eof || pos < len) {
		size_t cut = 0, tail, step;

		if (q.n == HASH_BATCH) {
			rc = retire(b, &q, x);
			if (rc < 0)
				goto fail;
		}
		if (pos < len)
			cut = chunker_next(c, &scan, b->rbuf + pos, len - pos, eof);
		if (cut) {
			struct htask *t = &q.t[(q.head + q.n++) % HASH_BATCH];

			t->p = b->rbuf + pos;
			t->n = cut;
			t->queued = false;
			pos += cut;
			done += cut;
			/* The last chunk at eof is hashed by the walker when retired: a small
			 * file's only chunk is not worth waking a helper for. */
			if (!eof || pos < len)
				hashpool_add(&b->hp, t);
			continue;
		}
		if (eof)
			break;
		/* Slide the unconsumed tail down only when the read window is used up (or the
		 * buffer, for a chunk bigger than the window): moving it on every read would
		 * copy each byte many times. */
		step = READ_STEP < end - off ? READ_STEP : (size_t)(end - off);
		if (pos && (b->rcap - len < READ_STEP || len + READ_STEP > READ_WINDOW)) {
			tail = len - pos;
			rc = retire_below(b, &q, x, 0, tail + step);
			if (rc < 0)
				goto fail;
			memmove(b->rbuf, b->rbuf + pos, tail);
			len = tail;
			pos = 0;
		} else {
			rc = retire_below(b, &q, x, len, len + step);
			if (rc < 0)
				goto fail;
		}
		rc = refill(b, fd, &off, end, &len, &eof);
		if (rc < 0)
			goto fail;
	}
	while (q.n) {
		rc = retire(b, &q, x);
		if (rc < 0)
			goto fail;
	}
	return (int64_t)done;
fail:
	/* Queued hashes point into the buffer and at q: finish them before returning. */
	for (; q.n; q.n--, q.head = (q.head + 1) % HASH_BATCH)
		hashpool_wait_one(&b->hp, &q.t[q.head]);
	return rc;
}

static int read_extents(struct bk *b, int fd, const struct stat *st, struct extents *x,
                        uint64_t *ret_read)
{
	uint64_t size = (uint64_t)st->st_size, off = 0, got = 0;
	/* Files with fewer blocks than bytes have holes. A big file may also own blocks that
	 * were never written (fallocate: databases preallocate their files); SEEK_DATA skips
	 * those too, so they are kept as holes instead of read and stored as zeros. Small,
	 * fully allocated files (most files) skip the two syscalls. */
	bool sparse = (uint64_t)st->st_blocks * 512 < size || size >= BK_PROBE_HOLES_MIN;
	int64_t k;
	int rc;

	while (off < size) {
		uint64_t data = off, hole = size;

		if (sparse) {
			off_t d = lseek(fd, (off_t)off, SEEK_DATA);

			if (d < 0 && errno == ENXIO)
				d = (off_t)size; /* only a hole remains */
			else if (d < 0)
				sparse = false, d = (off_t)off;
			data = (uint64_t)d;
			if (sparse && data < size) {
				off_t h = lseek(fd, d, SEEK_HOLE);

				hole = h < 0 ? size : (uint64_t)h;
			}
			if (data > size)
				data = size;
			if (hole > size)
				hole = size;
		}
		if (data > off) {
			rc = ext_add(x, NULL, data - off, true);
			if (rc < 0)
				return rc;
			b->prog.bytes_done = ckd_sat_add_i64max(b->prog.bytes_done, data - off);
		}
		if (data >= size)
			break;
		k = chunk_range(b, fd, data, hole, x);
		if (k < 0)
			return (int)k;
		got += (uint64_t)k;
		off = data + (uint64_t)k;
		if ((uint64_t)k < hole - data)
			break; /* shrank */
	}
	*ret_read = got;
	return 0;
}

int bk_file_content(struct bk *b, int fd, const struct stat *st, struct node *n)
{
	struct extents x = { 0 };
	uint64_t got = 0;
	struct stat after;
	int rc;

	rc = read_extents(b, fd, st, &x, &got);
	if (rc < 0)
		goto fail;
	if (fstat(fd, &after) < 0) {
		rc = -errno;
		goto fail;
	}
	if (after.st_size != st->st_size || after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != st->st_mtim.tv_nsec || got + 0 > (uint64_t)st->st_size) {
		n->flags |= NODE_CHANGED_DURING_READ;
		bk_warn(b, -EAGAIN, "%s: file changed while being read; stored as read", b->path);
	}
	for (size_t i = 0; i < x.n; i++)
		if (x.v[i].hole)
			n->flags |= NODE_SPARSE;
	/* The recorded size is what the extents add up to, so restore is self-consistent. */
	n->size = 0;
	for (size_t i = 0; i < x.n; i++)
		n->size += x.v[i].len;
	if (n->size < (uint64_t)st->st_size && !(n->flags & NODE_CHANGED_DURING_READ)) {
		n->flags |= NODE_CHANGED_DURING_READ;
		bk_warn(b, -EAGAIN, "%s: file shrank while being read", b->path);
	}
	n->content = x.v;
	n->n_content = x.n;
	x.v = NULL;
fail:
	free(x.v);
	return rc;
}
