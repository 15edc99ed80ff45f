/* Owns the fetch plan: the walker collects the blobs a group of files needs (a batch), the
 * batch is sorted by pack and offset and cut into runs of adjacent blobs (small gaps read
 * and dropped, a run's span capped), and each run is one ranged read on a worker, which
 * opens every blob in it and writes it to each place that wants it (all-zero blobs are
 * skipped so they stay holes). One GET per run instead of one per blob is what makes a
 * restore from S3 as fast as a local one; the cap and the batch bound the memory. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "repo/backend.h"
#include "util/banned.h"
#include "util/ckd.h"
#include "util/fsutil.h"

/* Blobs closer than this are fetched in one read with the gap dropped: a GET costs about
 * as much as this many bytes on a fast link, and skipped blobs (other snapshots' data,
 * excluded files) are usually small. */
#define RUN_GAP (256u * 1024)
/* A run's span: a default pack (16 MiB and its last blob) in one read, so a restore that
 * needs a whole pack costs one GET of it (12 MiB runs cost two to three per pack). */
#define RUN_CAP (20u * 1024 * 1024)
/* The same from a local folder, where a read is a system call however short: a run of
 * 4 MiB costs nothing more, and the run buffers (one per worker, kept) stay small. With
 * RUN_CAP the four workers' buffers grew to 62 MiB, whose first touch in the read was
 * two thirds of a 1 GiB restore's page faults (16 000 of 24 000); with this cap the
 * restore's peak RSS is 50 MiB instead of 90 and its faults 16 000 instead of 29 000, CPU
 * seconds unchanged. On a VM a fresh page can also cost a host fault that no CPU counter
 * shows (a first 19 MiB KDF: 57 ms wall for 19 ms CPU). */
#define RUN_CAP_LOCAL (4u * 1024 * 1024)
/* A run's plaintext: a run is opened by one worker, blob after blob, so its plaintext is
 * the unit of work the cores share. A default pack of text (zstd ~4x) is ~70 MiB to
 * decompress, re-hash and write, ~0.15 s of one core: when the walk ended with such a run
 * in flight, the other core sat idle to the end (0.03-0.12 s with one thread runnable
 * after the walker finished, in a ~1.7 s restore of the 1 GiB bench tree; 0.004-0.010 s
 * with this cap). Incompressible packs stay one read each; a pack of text costs two
 * (57 to 60 reads for the bench tree's 39 packs). */
#define RUN_PLAIN_CAP (36u * 1024 * 1024)
/* A batch is sent on at this many blobs (about 100 bytes each), files or bytes of
 * content. Small batches keep the walker and the workers busy at once: the walker creates
 * the next batch's files while the workers read the runs queued (up to RUN_BYTES_MAX), so
 * a batch of about half that lets neither wait on the other. Batches of 4096 files (the
 * fd budget) left the workers idle while the walker created each one's files (the first
 * 4096 alone before any read), and the walker idle while they drained it. A cut between
 * batches costs no more reads: the run it splits waits for the next batch (hold_run). */
#define BATCH_NEEDS (64u * 1024)
#define BATCH_FILES 1024u
#define BATCH_BYTES (24ull * 1024 * 1024)
#define WORKERS_MAX 8
/* Bytes of runs queued or being read at once: two full runs, or many small
 * ones (the peak memory of a restore is mostly this). Run buffers are kept from one run
 * to the next in a pool: freeing a 12 MiB buffer after every run made each read fault in
 * and zero fresh pages, then unmap them (13% of a 1 GiB restore's CPU in the kernel's
 * fault and munmap paths). Only a buffer grown past RUN_KEEP by a blob larger than a run
 * is given back; the rest are freed when the workers stop. */
#define RUN_BYTES_MAX (40u * 1024 * 1024)
#define RUN_KEEP      (2u * RUN_CAP)
#define QUEUE_RUNS    64
/* How long a walker waits for room in the queue before polling cancel. */
#define PUSH_POLL_MS 200

struct rrun {
	struct rbatch *b;
	size_t first, n;
	uint64_t start, len;
};

/* The worker's buffers: the run as read, and one blob's plaintext. */
struct rtls {
	struct buf run, plain; /* run: from the shared pool while a run is read */
};

static bool all_zero(const uint8_t *p, size_t n)
{
	/* Word-at-a-time: the common case (real data) fails within the first bytes. */
	size_t i = 0;
	uint64_t acc = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		acc |= w;
		if (acc)
			return false;
	}
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Write p at off, leaving out every file block (4 KiB, aligned in the file) that is all
 * zeros: the file was made at its full size and is all holes, so those blocks read as
 * zeros anyway. A preallocated database file, or one read into the page cache before its
 * backup, is stored with long runs of zeros inside its blobs; written out they would cost
 * the restored file its holes. The runs between zero blocks go out in one write each, so
 * real data costs one pwrite per blob, as before. */
static int write_sparse(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	const uint64_t blk = 4096;
	size_t i = 0, start = 0;
	bool in_data = false;

	while (i < n) {
		/* The rest of the file block this byte falls in. */
		size_t step = (size_t)(blk - (off + i) % blk);
		bool zero;

		if (step > n - i)
			step = n - i;
		zero = all_zero(p + i, step);
		if (!zero && !in_data) {
			start = i;
			in_data = true;
		} else if (zero && in_data) {
			int rc = pwrite_full(fd, p + start, i - start, (off_t)(off + start));

			if (rc < 0)
				return rc;
			in_data = false;
		}
		i += step;
	}
	return in_data ? pwrite_full(fd, p + start, n - start, (off_t)(off + start)) : 0;
}

static void batch_put(struct rs *s, struct rbatch *b)
{
	if (atomic_fetch_sub(&b->refs, 1) == 1)
		rs_batch_bury(s, b); /* freed by the walker that allocated it (reap.c) */
}

/* The need is over: the blob was written, or its file is bad for the reason given. */
static void need_done(struct rs *s, struct rneed *x, int code, const char *why)
{
	if (code < 0) {
		rs_file_bad(s, x->f, code, "%s", why);
		/* The first failed content stops the restore unless asked to go on (the file
		 * itself is named by rs_file_done either way). */
		if (code != -ECANCELED)
			rs_fail(s, code, "%s: %s", x->f->path, x->f->why.msg);
	}
	rs_file_done(s, x->f);
}

static void release_run(struct rs *s, const struct rrun *r, int code, const char *why)
{
	for (size_t i = 0; i < r->n; i++)
		need_done(s, &r->b->v[r->first + i], code, why);
	batch_put(s, r->b);
}

static void discard_run(void *ud, void *item)
{
	release_run(ud, item, -ECANCELED, "the restore stopped before its content was written");
}

/* Write one opened blob where x wants it. */
static void write_need(struct rs *s, struct rneed *x, const struct buf *plain)
{
	char why[128];
	int rc = 0;

	if (plain->len != x->len) {
		snprintf(why, sizeof(why), "blob length %zu differs from the tree's %llu",
		         plain->len, (unsigned long long)x->len);
		need_done(s, x, -EBADMSG, why);
		return;
	}
	if (s->o->no_sparse)
		rc = pwrite_full(x->f->fd, plain->p, plain->len, (off_t)x->off);
	else
		rc = write_sparse(x->f->fd, plain->p, plain->len, x->off);
	if (rc < 0) {
		snprintf(why, sizeof(why), "write failed: %s", strerror(-rc));
		need_done(s, x, rc, why);
		return;
	}
	atomic_fetch_add(&s->bytes, x->len);
	need_done(s, x, 0, NULL);
}

/* The free run buffer that fits a run of len best: the smallest that holds it, else the
 * largest (grown once, not by realloc: that would copy it and hold both for a moment).
 * Handing big runs the big buffers keeps the buffers' total near the bytes in flight
 * (RUN_BYTES_MAX), where a buffer per worker would grow every one to a whole pack. */
static void run_buf_take(struct rs *s, uint64_t len, struct buf *ret)
{
	size_t best = SIZE_MAX, big = SIZE_MAX;

	buf_init(ret, RUN_CAP + REPO_BLOB_MAX + (64u << 10));
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_run_bufs; i++) {
		size_t cap = s->run_bufs[i].cap;

		if (cap >= len && (best == SIZE_MAX || cap < s->run_bufs[best].cap))
			best = i;
		if (big == SIZE_MAX || cap > s->run_bufs[big].cap)
			big = i;
	}
	if (best == SIZE_MAX)
		best = big;
	if (best != SIZE_MAX) {
		*ret = s->run_bufs[best];
		s->run_bufs[best] = s->run_bufs[--s->n_run_bufs];
	}
	pthread_mutex_unlock(&s->lock);
	buf_reset(ret);
	if (ret->cap < len) {
		size_t max = ret->max;

		buf_release(ret);
		buf_init(ret, max);
		(void)!buf_reserve(ret, (size_t)len); /* else the read says -ENOMEM */
	}
}

static void run_buf_give(struct rs *s, struct buf *b)
{
	pthread_mutex_lock(&s->lock);
	if (b->cap > RUN_KEEP || s->n_run_bufs == WORKERS_MAX)
		buf_release(b); /* grown by a blob larger than a run */
	else
		s->run_bufs[s->n_run_bufs++] = *b;
	pthread_mutex_unlock(&s->lock);
	buf_init(b, b->max); /* the pool's now */
}

static void run_bufs_free(struct rs *s)
{
	for (size_t i = 0; i < s->n_run_bufs; i++)
		buf_release(&s->run_bufs[i]);
	free(s->run_bufs);
	s->run_bufs = NULL;
	s->n_run_bufs = 0;
}

/* The run's pack could not be read (gone, cut short or unreadable since the index was
 * loaded): each blob is opened from another copy, when the repository holds one (a blob
 * stored again after its pack was lost). A blob with no other copy fails with the pack's
 * own error, which says more than the copy lookup's. */
static void run_copies(struct rs *s, struct rtls *t, struct rrun *r, int code, const char *why)
{
	struct rneed *v = r->b->v + r->first;
	struct err e = ERR_INIT;

	for (size_t i = 0; i < r->n; i++) {
		struct rneed *x = &v[i];
		int rc;

		if (rs_stopping(s)) {
			need_done(s, x, -ECANCELED,
			          "the restore stopped before its content was written");
			continue;
		}
		if (atomic_load(&x->f->bad)) {
			need_done(s, x, 0, NULL);
			continue;
		}
		buf_reset(&t->plain);
		err_clear(&e);
		rc = repo_blob_open(s->repo, x->id, &x->loc, NULL, 0, &t->plain, &e);
		if (rc == -ENOMEM)
			need_done(s, x, rc, e.msg);
		else if (rc < 0)
			need_done(s, x, code, why);
		else
			write_need(s, x, &t->plain);
	}
	batch_put(s, r->b);
}

/* A run being read. Its blobs are opened in order as their bytes arrive (run_watch), so
 * from S3 the first blobs of a 16 MiB run are decrypted and written while the rest are
 * still on the wire: a worker no longer alternates between a network wait and a CPU
 * burst, and the two runs in flight keep the server busy. */
struct rfeed {
	struct rs *s;
	struct rtls *t;
	struct rrun *r;
	size_t next;             /* the first need of the run not yet done */
	const struct rneed *have; /* whose blob t->plain holds */
	bool stuck;               /* a blob did not open inside the read: the rest wait */
};

/* Do need f->next from the run's bytes at p. here: inside the read, where no other copy
 * may be fetched (the read holds a connection; fetching another could wait for one
 * forever): a blob that does not open is left, with the rest, for after the read (false). */
static bool feed_need(struct rfeed *f, const uint8_t *p, bool here)
{
	struct rs *s = f->s;
	struct rtls *t = f->t;
	struct rrun *r = f->r;
	struct rneed *x = &r->b->v[r->first + f->next];
	/* The same blob wanted twice (a file repeating itself, or two equal files) sits next
	 * to itself after the sort: it is opened once. */
	bool again =
	    f->have && f->have->loc.offset == x->loc.offset && !memcmp(f->have->id, x->id, ID_BYTES);
	struct err e = ERR_INIT;
	int rc = 0;

	if (rs_stopping(s)) {
		need_done(s, x, -ECANCELED, "the restore stopped before its content was written");
	} else if (atomic_load(&x->f->bad)) {
		need_done(s, x, 0, NULL); /* one missing blob is enough: it will not appear */
	} else {
		if (!again) {
			const uint8_t *sealed = p + (x->loc.offset - r->start);

			buf_reset(&t->plain);
			if (here) {
				rc = repo_blob_open_here(s->repo, x->id, &x->loc, sealed,
				                         x->loc.stored_len, &t->plain);
				if (rc < 0 && rc != -ENOMEM) {
					f->have = NULL;
					return false;
				}
				if (rc == -ENOMEM)
					err_set(&e, rc, "out of memory");
			} else {
				rc = repo_blob_open(s->repo, x->id, &x->loc, sealed,
				                    x->loc.stored_len, &t->plain, &e);
			}
			f->have = rc >= 0 ? x : NULL;
		}
		if (rc < 0)
			need_done(s, x, rc, e.msg);
		else
			write_need(s, x, &t->plain);
	}
	f->next++;
	return true;
}

static void run_watch(void *ud, const struct buf *out)
{
	struct rfeed *f = ud;

	while (!f->stuck && f->next < f->r->n) {
		const struct rneed *x = &f->r->b->v[f->r->first + f->next];

		/* Whole bytes only: a sealed blob is opened once, and all of it. */
		if (x->loc.offset - f->r->start + x->loc.stored_len > out->len)
			break;
		if (!feed_need(f, out->p, true))
			f->stuck = true;
	}
}

static int run_one(void *ud, void *tls, void *item, struct err *unused)
{
	struct rs *s = ud;
	struct rtls *t = tls;
	struct rrun *r = item;
	struct rfeed f = { .s = s, .t = t, .r = r };
	struct err e = ERR_INIT;
	int rc;

	(void)unused;
	/* After a fatal error or a cancel nothing more is fetched: the files are incomplete. */
	if (rs_stopping(s)) {
		discard_run(s, r);
		return 0;
	}
	run_buf_take(s, r->len, &t->run);
	atomic_fetch_add(&s->runs, 1);
	rc = repo_pack_read_watch(s->repo, r->b->v[r->first].loc.pack, r->start, r->len, &t->run,
	                          run_watch, &f, &e);
	if (rc >= 0 && t->run.len != r->len)
		rc = err_set(&e, -EBADMSG, "pack read came back short");
	if (rc < 0) {
		/* The needs done while the bytes came stay done; the rest go on without them. */
		struct rrun rest = *r;

		rest.first += f.next;
		rest.n -= f.next;
		run_buf_give(s, &t->run);
		if (rc == -ENOMEM)
			release_run(s, &rest, rc, e.msg);
		else
			run_copies(s, t, &rest, rc, e.msg);
		return 0;
	}
	while (f.next < r->n)
		(void)feed_need(&f, t->run.p, false);
	batch_put(s, r->b);
	run_buf_give(s, &t->run);
	return 0;
}

static int tls_init(void *ud, unsigned i, void **ret)
{
	struct rtls *t = calloc(1, sizeof(*t));

	(void)ud;
	(void)i;
	if (!t)
		return -ENOMEM;
	buf_init(&t->plain, REPO_BLOB_MAX);
	*ret = t;
	return 0;
}

static void tls_fini(void *ud, void *tls)
{
	struct rtls *t = tls;

	(void)ud;
	buf_release(&t->plain);
	free(t);
}

int rs_fetch_start(struct rs *s, int workers)
{
	struct wq_config c = {
		.threads = (unsigned)(workers < 1             ? 1
		                      : workers > WORKERS_MAX ? WORKERS_MAX
		                                              : workers),
		.item_size = sizeof(struct rrun),
		.max_items = QUEUE_RUNS,
		.max_bytes = RUN_BYTES_MAX,
		.run = run_one,
		.discard = discard_run,
		.thread_init = tls_init,
		.thread_fini = tls_fini,
		.ud = s,
	};
	struct rlimit rl;
	rlim_t fds = 1024;
	int rc;

	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	/* Each unfinished file holds its fd, and its folder may hold one more until its last
	 * file is done; leave room for the repository's own. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fds = rl.rlim_cur;
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fds = 1u << 20;
	s->max_live = fds > 256 ? (size_t)(fds - 128) / 2 : 32;
	if (s->max_live > 8192)
		s->max_live = 8192;
	s->run_cap = strcmp(repo_backend(s->repo)->ops->scheme, "local") == 0 ? RUN_CAP_LOCAL
	                                                                       : RUN_CAP;
	s->run_bufs = calloc(WORKERS_MAX, sizeof(*s->run_bufs));
	if (!s->run_bufs)
		return err_set(s->e, -ENOMEM, "out of memory");
	rc = wq_new(&c, &s->q, s->e);
	if (rc < 0)
		run_bufs_free(s);
	return rc;
}

static int need_cmp(const void *pa, const void *pb)
{
	const struct rneed *a = pa, *b = pb;
	int c = memcmp(a->loc.pack, b->loc.pack, ID_BYTES);

	if (c)
		return c;
	if (a->loc.offset != b->loc.offset)
		return a->loc.offset < b->loc.offset ? -1 : 1;
	return memcmp(a->id, b->id, ID_BYTES);
}

/* Queue one run, polling cancel while the queue is full. */
static void push_run(struct rs *s, struct rrun *r)
{
	for (;;) {
		int rc = wq_push(s->q, r, r->len, PUSH_POLL_MS);

		if (rc >= 0)
			return;
		if (rc != -EAGAIN || rs_stopping(s)) {
			discard_run(s, r);
			return;
		}
		rs_reap(s); /* files finish while the queue is full: do not let them pile up */
	}
}

/* Move the needs v[first, first + n) of b into a new batch that becomes the one being
 * filled: their pending references go with them. They do not count against the new
 * batch's file and byte limits (the fd budget still bounds their files: rs_room sends
 * everything on when it runs out), so a batch of new files fills as before. False (and
 * nothing moved) when out of memory: the caller queues them instead. */
static bool carry_over(struct rs *s, const struct rbatch *b, size_t first, size_t n)
{
	struct rbatch *nb = calloc(1, sizeof(*nb));
	size_t cap = 256;

	while (cap < n)
		cap *= 2;
	if (nb)
		nb->v = reallocarray(NULL, cap, sizeof(*nb->v));
	if (!nb || !nb->v) {
		free(nb);
		return false;
	}
	nb->cap = cap;
	memcpy(nb->v, b->v + first, n * sizeof(*nb->v));
	nb->n = n;
	s->batch = nb;
	return true;
}

/* Whether the run v[i, j) of a batch cut because it was full should wait for the next
 * batch instead of being read now: it is the last run of the pack the walker was in
 * (the next files' blobs most likely follow it in that pack, and one read then takes
 * both, where a cut between batches cost a second ranged GET of the same pack), and it
 * can still grow (a run near either cap is read now). The caps and the needs bound keep
 * it from being held for ever. */
static bool hold_run(const struct rs *s, const struct rbatch *b, size_t i, size_t j, uint64_t span,
                     uint64_t plain, const uint8_t tail[ID_BYTES])
{
	if (span >= s->run_cap - s->run_cap / 8 || plain >= RUN_PLAIN_CAP - RUN_PLAIN_CAP / 8 ||
	    j - i > BATCH_NEEDS / 4)
		return false;
	if (memcmp(b->v[i].loc.pack, tail, ID_BYTES) != 0)
		return false;
	/* Not the pack's last run in this batch: the walk has gone past it. */
	return j == b->n || memcmp(b->v[j].loc.pack, tail, ID_BYTES) != 0;
}

/* Plan the batch and queue its runs. With hold, the batch was cut for its size alone and
 * the walk goes on: one run may stay behind to merge with the next batch (hold_run). */
static void flush(struct rs *s, bool hold)
{
	struct rbatch *b = s->batch;
	uint8_t tail[ID_BYTES];
	size_t i = 0;

	if (!b)
		return;
	s->batch = NULL;
	if (!b->n) {
		free(b->v);
		free(b);
		return;
	}
	/* The pack of the blob wanted last, before the sort forgets the walk's order. */
	memcpy(tail, b->v[b->n - 1].loc.pack, ID_BYTES);
	hold = hold && !rs_stopping(s);
	qsort(b->v, b->n, sizeof(*b->v), need_cmp);
	atomic_store(&b->refs, 1); /* the flusher's, dropped after the last push */
	while (i < b->n) {
		struct rrun r = { .b = b, .first = i, .start = b->v[i].loc.offset };
		uint64_t end = r.start + b->v[i].loc.stored_len;
		uint64_t plain = b->v[i].len;
		size_t j = i + 1;

		for (; j < b->n; j++) {
			const struct rneed *x = &b->v[j];
			uint64_t xe = (uint64_t)x->loc.offset + x->loc.stored_len;

			if (memcmp(x->loc.pack, b->v[i].loc.pack, ID_BYTES) != 0 ||
			    x->loc.offset > end + RUN_GAP)
				break;
			if (xe > end && xe - r.start > s->run_cap)
				break;
			/* A blob wanted again (same place) stays with its first: opened once. */
			if (x->loc.offset >= end &&
			    ckd_sat_add_i64max(plain, x->len) > RUN_PLAIN_CAP)
				break;
			plain = ckd_sat_add_i64max(plain, x->len); /* a forged length: no wrap */
			if (xe > end)
				end = xe;
		}
		r.n = j - i;
		r.len = end - r.start;
		if (hold && hold_run(s, b, i, j, r.len, plain, tail) && carry_over(s, b, i, j - i)) {
			hold = false; /* one run at most */
			i = j;
			continue;
		}
		atomic_fetch_add(&b->refs, 1);
		push_run(s, &r);
		i = j;
	}
	batch_put(s, b);
}

void rs_flush(struct rs *s)
{
	flush(s, false);
}

void rs_room(struct rs *s)
{
	rs_reap(s); /* once per file: the records finished since the last one */
	pthread_mutex_lock(&s->lock);
	if (s->live >= s->max_live) {
		/* The files holding the budget may be in the batch not yet sent. */
		pthread_mutex_unlock(&s->lock);
		rs_flush(s);
		pthread_mutex_lock(&s->lock);
		while (s->live >= s->max_live && !atomic_load(&s->failed))
			rs_wait_polling(s, &s->idle);
	}
	pthread_mutex_unlock(&s->lock);
}

int rs_need(struct rs *s, struct rfile *f, uint64_t off, const struct extent *x)
{
	struct rbatch *b = s->batch;
	struct rneed *n;
	char hex[ID_HEX];

	if (atomic_load(&f->bad))
		return 0; /* one missing blob is enough: it will not appear */
	if (!b) {
		b = s->batch = calloc(1, sizeof(*b));
		if (!b)
			return err_set(s->e, -ENOMEM, "out of memory");
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct rneed *v = reallocarray(b->v, cap, sizeof(*v));

		if (!v)
			return err_set(s->e, -ENOMEM, "out of memory");
		b->v = v;
		b->cap = cap;
	}
	n = &b->v[b->n];
	memcpy(n->id, x->id, ID_BYTES);
	if (repo_blob_lookup(s->repo, BLOB_DATA, x->id, &n->loc) < 0) {
		hex_encode(x->id, ID_BYTES, hex);
		rs_file_bad(s, f, -ENOENT, "blob %s is not in the index", hex);
		rs_fail(s, -ENOENT, "%s: %s", f->path, f->why.msg);
		return 0;
	}
	n->f = f;
	n->off = off;
	n->len = x->len;
	if (!b->n || b->v[b->n - 1].f != f)
		b->files++;
	b->n++;
	b->bytes += x->len;
	atomic_fetch_add(&f->pending, 1);
	if (b->n >= BATCH_NEEDS || b->bytes >= BATCH_BYTES || b->files >= BATCH_FILES ||
	    b->files >= s->max_live / 2)
		flush(s, true);
	return 0;
}

int rs_fetch_stop(struct rs *s)
{
	struct err e = ERR_INIT;
	int rc;

	if (!s->q)
		return s->fail.code;
	rs_flush(s);
	rc = wq_finish(s->q, &e);
	wq_free(s->q);
	s->q = NULL;
	run_bufs_free(s);
	rs_reap(s); /* the workers are gone */
	if (rc < 0 && !s->fail.code)
		s->fail = e;
	if (s->fail.code && !s->e->code)
		*s->e = s->fail;
	return s->fail.code;
}
