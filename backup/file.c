/* Owns reading one regular file: data extents found with SEEK_DATA/SEEK_HOLE (holes are
 * recorded, never read), each extent cut by the chunker, each chunk deduplicated. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

/* Read this much at a time: a bigger read only touches more buffer pages (RSS). */
#define READ_STEP (1u * 1024 * 1024)
/* The read buffer holds a maximum-size chunk (8 MiB by default), but chunks average 1 MiB:
 * sliding the unconsumed tail down once the buffer holds this much keeps the pages it ever
 * touches to about this many, unless one chunk really is bigger. The slide copies a partial
 * chunk (half the average size) per few MiB read, noise beside hashing them. */
#define READ_WINDOW (4u * 1024 * 1024)

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
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 8;
		void *p = reallocarray(x->v, cap, sizeof(*x->v));

		if (!p)
			return -ENOMEM;
		x->v = p;
		x->cap = cap;
	}
	memset(&x->v[x->n], 0, sizeof(x->v[0]));
	if (id)
		memcpy(x->v[x->n].id, id, ID_BYTES);
	x->v[x->n].len = len;
	x->v[x->n].hole = hole;
	x->n++;
	return 0;
}

/* Hash a batch of cut chunks together (hashpool), then dedup and queue them in order. */
static int flush_batch(struct bk *b, struct htask *t, size_t n, struct extents *x)
{
	int rc;

	hashpool_run(&b->hp, t, n);
	for (size_t i = 0; i < n; i++) {
		rc = bk_save_hashed(b, BLOB_DATA, t[i].p, t[i].n, t[i].id);
		if (rc >= 0)
			rc = ext_add(x, t[i].id, t[i].n, false);
		if (rc < 0)
			return rc;
		b->prog.bytes_done += t[i].n;
	}
	bk_progress(b, false);
	return 0;
}

/* Chunk [off, end) of fd. Returns bytes read (short when the file shrank). Chunks are cut
 * from the buffer in batches; a batch is hashed before the buffer is refilled. */
static int64_t chunk_range(struct bk *b, int fd, uint64_t off, uint64_t end, struct extents *x)
{
	const struct chunker *c = repo_chunker(b->repo);
	struct htask batch[HASH_BATCH];
	size_t len = 0, pos = 0, n = 0;
	uint64_t done = 0;
	bool eof = false;
	int rc;

	while (!eof || pos < len) {
		size_t cut = 0;

		if (pos < len && n < HASH_BATCH)
			cut = chunker_cut(c, b->rbuf + pos, len - pos, eof);
		if (cut) {
			batch[n].p = b->rbuf + pos;
			batch[n++].n = cut;
			pos += cut;
			done += cut;
			continue;
		}
		/* The batch points into the buffer: finish it before moving any bytes. */
		if (n) {
			rc = flush_batch(b, batch, n, x);
			if (rc < 0)
				return rc;
			n = 0;
		}
		if (pos < len && eof)
			continue;
		{
			/* Need more bytes. Slide the unconsumed tail down only when the read
			 * window is used up (or the buffer, for a chunk bigger than the window):
			 * moving it on every read would copy each byte many times. */
			size_t want;
			ssize_t k;

			if (pos && (b->rcap - len < READ_STEP || len + READ_STEP > READ_WINDOW)) {
				memmove(b->rbuf, b->rbuf + pos, len - pos);
				len -= pos;
				pos = 0;
			}
			want = b->rcap - len;
			if (want > READ_STEP)
				want = READ_STEP;
			if (want > end - off)
				want = (size_t)(end - off);
			if (!want) {
				eof = true;
				continue;
			}
			k = pread_full(fd, b->rbuf + len, want, (off_t)off);
			if (k < 0)
				return k;
			len += (size_t)k;
			off += (uint64_t)k;
			if ((size_t)k < want)
				eof = true; /* shrank under us; the caller notices via fstat */
			if (bk_should_stop(b))
				return -ECANCELED;
		}
	}
	if (n) {
		rc = flush_batch(b, batch, n, x);
		if (rc < 0)
			return rc;
	}
	return (int64_t)done;
}

static int read_extents(struct bk *b, int fd, const struct stat *st, struct extents *x,
                        uint64_t *ret_read)
{
	uint64_t size = (uint64_t)st->st_size, off = 0, got = 0;
	/* Only files with fewer blocks than bytes can have holes: skip two syscalls for the
	 * rest (most files). */
	bool sparse = (uint64_t)st->st_blocks * 512 < size;
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
			b->prog.bytes_done += data - off;
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
