/* Owns the worker pool: a byte-bounded queue of claimed blobs, drained by threads that
 * compress, seal and pack them, so memory stays flat however fast the walker reads. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"
#include "util/ckd.h"

/* How long a producer waits for room before it looks at the cancel callback again. */
#define PUSH_POLL_MS 200

bool bk_should_stop(struct bk *b)
{
	if (b->q && wq_error(b->q))
		return true;
	if (!b->o->cancel || !b->o->cancel(b->o->ud))
		return false;
	/* Queued blobs are dropped, not uploaded: stopping takes one upload, not a queue. */
	if (b->q)
		wq_cancel(b->q, -ECANCELED);
	return true;
}

/* Keep big buffers for the next chunks; the rest go back to the heap. The job's bytes no
 * longer count as in flight. */
static void recycle(struct bk *b, struct job *j)
{
	pthread_mutex_lock(&b->spare_lock);
	b->inflight -= j->len;
	pthread_cond_signal(&b->room);
	if (j->data && j->cap >= SPARE_MIN && b->n_spare < SPARE_BUFS &&
	    j->cap <= SPARE_BYTES - b->spare_bytes) {
		b->spare[b->n_spare++] = (struct spare){ j->data, j->cap };
		b->spare_bytes += j->cap;
		j->data = NULL;
	}
	pthread_mutex_unlock(&b->spare_lock);
	free(j->data);
	j->data = NULL;
}

static int put_job(void *ud, void *tls, void *item, struct err *e)
{
	struct bk *b = ud;
	struct job *j = item;
	ssize_t rc;

	(void)tls;
	rc = repo_blob_put_room(b->repo, j->type, j->id, j->data, j->len, e);
	if (rc >= 0)
		atomic_fetch_add(&b->bytes_added, (uint64_t)rc);
	recycle(b, j);
	return rc < 0 ? (int)rc : 0;
}

static void drop_job(void *ud, void *item)
{
	recycle(ud, item);
}

int bk_workers_start(struct bk *b, int n)
{
	pthread_condattr_t ca;
	int rc;

	struct wq_config cfg = {
		.threads = (unsigned)n,
		.item_size = sizeof(struct job),
		.max_items = QUEUE_ITEMS_MAX,
		.max_bytes = (size_t)n * QUEUE_BYTES_PER_WORKER < QUEUE_BYTES_MIN
		                 ? QUEUE_BYTES_MIN
		                 : (size_t)n * QUEUE_BYTES_PER_WORKER,
		.run = put_job,
		.discard = drop_job,
		.ud = b,
	};

	/* Timed waits for room run on the monotonic clock, like the queue's. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->room, &ca);
	pthread_condattr_destroy(&ca);
	b->inflight = 0;
	b->inflight_max = cfg.max_bytes;
	rc = wq_new(&cfg, &b->q, b->e);
	if (rc < 0)
		pthread_cond_destroy(&b->room);
	return rc;
}

int bk_workers_stop(struct bk *b)
{
	struct err e = ERR_INIT;
	int rc = 0;

	if (b->q) {
		rc = wq_finish(b->q, &e);
		wq_free(b->q);
		b->q = NULL;
		pthread_cond_destroy(&b->room);
		for (size_t i = 0; i < b->n_spare; i++)
			free(b->spare[i].p);
		b->n_spare = 0;
		b->spare_bytes = 0;
	}
	/* A worker's message is the cause; a cancel is reported by the caller. */
	if (rc < 0 && rc != -ECANCELED)
		*b->e = e;
	return rc;
}

/* A buffer for n bytes and the room repo_blob_put_room seals a raw blob in: a spare one
 * when it fits, else a fresh one. */
static int job_buffer(struct bk *b, struct job *j, size_t n)
{
	if (ckd_add(&n, n, (size_t)REPO_BLOB_ROOM_BEFORE + REPO_BLOB_ROOM_AFTER))
		return -ENOMEM;
	pthread_mutex_lock(&b->spare_lock);
	for (size_t i = 0; n >= SPARE_MIN && i < b->n_spare; i++)
		if (b->spare[i].cap >= n) {
			j->data = b->spare[i].p;
			j->cap = b->spare[i].cap;
			b->spare_bytes -= j->cap;
			b->spare[i] = b->spare[--b->n_spare];
			break;
		}
	pthread_mutex_unlock(&b->spare_lock);
	if (!j->data) {
		/* Big chunks get a reusable buffer rounded up to fit most later ones; small
		 * ones (small files) come from the heap, which is cheap for them. */
		j->cap = n < SPARE_MIN ? (n ? n : 1) : n < (2u << 20) ? (2u << 20) : n;
		j->data = malloc(j->cap);
	}
	return j->data ? 0 : -ENOMEM;
}

/* Wait until n more bytes fit in flight (any n when none are), then count them. Checked
 * in slices: a cancel must not wait for a slow upload to make room. The wait comes before
 * the chunk is copied: a walker blocked with its copy in hand held one more chunk buffer
 * than the queue bound allows for, ~1.2 MiB of the peak RSS (issue 15). -ECANCELED when
 * the backup stops. */
static int reserve(struct bk *b, size_t n)
{
	pthread_mutex_lock(&b->spare_lock);
	while (b->inflight && (n > b->inflight_max || b->inflight > b->inflight_max - n)) {
		struct timespec dl;

		pthread_mutex_unlock(&b->spare_lock);
		/* Not under the lock: a cancel drops queued jobs, which recycle takes it. */
		if (bk_should_stop(b))
			return -ECANCELED;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += PUSH_POLL_MS * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&b->spare_lock);
		if (b->inflight && (n > b->inflight_max || b->inflight > b->inflight_max - n))
			pthread_cond_timedwait(&b->room, &b->spare_lock, &dl);
	}
	b->inflight += n;
	pthread_mutex_unlock(&b->spare_lock);
	return 0;
}

int bk_submit(struct bk *b, enum blob_type t, const uint8_t id[ID_BYTES], const void *p, size_t n)
{
	struct job j = { .type = t, .len = n };
	int rc;

	if (reserve(b, n) < 0)
		return -ECANCELED; /* the worker's error is reported by bk_workers_stop */
	if (job_buffer(b, &j, n) < 0) {
		recycle(b, &j); /* gives back the reservation */
		return err_set(b->e, -ENOMEM, "out of memory");
	}
	memcpy(j.data + REPO_BLOB_ROOM_BEFORE, p, n);
	memcpy(j.id, id, ID_BYTES);
	/* Wait in slices: a cancel must not wait for a slow upload to make room. */
	while ((rc = wq_push(b->q, &j, n, PUSH_POLL_MS)) == -EAGAIN)
		if (bk_should_stop(b))
			break;
	if (rc < 0) {
		recycle(b, &j);
		return -ECANCELED; /* the worker's error is reported by bk_workers_stop */
	}
	return 0;
}

int bk_save_blob(struct bk *b, enum blob_type t, const void *p, size_t n, uint8_t ret_id[ID_BYTES])
{
	key_blob_id(repo_key(b->repo), p, n, ret_id);
	return bk_save_hashed(b, t, p, n, ret_id);
}

int bk_save_hashed(struct bk *b, enum blob_type t, const void *p, size_t n,
                   const uint8_t ret_id[ID_BYTES])
{
	if (!repo_blob_claim(b->repo, t, ret_id))
		return 0;
	if (t == BLOB_DATA)
		b->sum.data_blobs++;
	else
		b->sum.tree_blobs++;
	return bk_submit(b, t, ret_id, p, n);
}
