/* Owns the worker pool: a byte-bounded queue of claimed blobs, drained by threads that
 * compress, seal and pack them, so memory stays flat however fast the walker reads. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static void bk_set_fail(struct bk *b, const struct err *e, int code)
{
	pthread_mutex_lock(&b->fail_lock);
	if (!b->fail.code) {
		b->fail = *e;
		b->fail.code = code;
	}
	pthread_mutex_unlock(&b->fail_lock);
	atomic_store(&b->failed, true);
}

bool bk_should_stop(struct bk *b)
{
	if (atomic_load(&b->failed))
		return true;
	return b->o->cancel && b->o->cancel(b->o->ud);
}

static void *worker(void *arg)
{
	struct bk *b = arg;
	struct queue *q = &b->q;

	for (;;) {
		struct err e = ERR_INIT;
		struct job j;
		ssize_t rc;

		pthread_mutex_lock(&q->lock);
		while (!q->n && !q->closed)
			pthread_cond_wait(&q->not_empty, &q->lock);
		if (!q->n) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		j = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		q->busy++;
		pthread_mutex_unlock(&q->lock);

		rc = atomic_load(&b->failed) ? 0 : repo_blob_put(b->repo, j.type, j.id, j.data,
								  j.len, &e);
		if (rc < 0)
			bk_set_fail(b, &e, (int)rc);
		else
			atomic_fetch_add(&b->bytes_added, (uint64_t)rc);
		pthread_mutex_lock(&q->lock);
		if (j.cap >= SPARE_MIN && q->n_spare < SPARE_BUFS) {
			q->spare[q->n_spare++] = (struct spare){ j.data, j.cap };
			j.data = NULL;
		}
		q->busy--;
		q->bytes -= j.len;
		pthread_cond_broadcast(&q->not_full);
		if (!q->n && !q->busy)
			pthread_cond_broadcast(&q->drained);
		pthread_mutex_unlock(&q->lock);
		free(j.data);
	}
}

int bk_workers_start(struct bk *b, int n)
{
	struct queue *q = &b->q;

	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->drained, NULL);
	q->cap = 256;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	b->workers = calloc((size_t)n, sizeof(*b->workers));
	if (!q->ring || !b->workers)
		return err_set(b->e, -ENOMEM, "out of memory");
	for (; b->n_workers < n; b->n_workers++)
		if (pthread_create(&b->workers[b->n_workers], NULL, worker, b) != 0)
			return err_set(b->e, -EAGAIN, "cannot start worker threads");
	return 0;
}

int bk_workers_stop(struct bk *b)
{
	struct queue *q = &b->q;

	if (q->ring) {
		pthread_mutex_lock(&q->lock);
		q->closed = true;
		pthread_cond_broadcast(&q->not_empty);
		pthread_mutex_unlock(&q->lock);
	}
	for (int i = 0; i < b->n_workers; i++)
		pthread_join(b->workers[i], NULL);
	b->n_workers = 0;
	free(b->workers);
	b->workers = NULL;
	if (q->ring) {
		for (size_t i = 0; i < q->n; i++)
			free(q->ring[(q->head + i) % q->cap].data);
		free(q->ring);
		q->ring = NULL;
		for (size_t i = 0; i < q->n_spare; i++)
			free(q->spare[i].p);
		q->n_spare = 0;
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->not_full);
		pthread_cond_destroy(&q->not_empty);
		pthread_cond_destroy(&q->drained);
	}
	if (b->fail.code) {
		*b->e = b->fail;
		return b->fail.code;
	}
	return 0;
}

int bk_submit(struct bk *b, enum blob_type t, const uint8_t id[ID_BYTES], const void *p,
	      size_t n)
{
	struct queue *q = &b->q;
	struct job j = { .type = t, .len = n };

	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; n >= SPARE_MIN && i < q->n_spare; i++)
		if (q->spare[i].cap >= n) {
			j.data = q->spare[i].p;
			j.cap = q->spare[i].cap;
			q->spare[i] = q->spare[--q->n_spare];
			break;
		}
	pthread_mutex_unlock(&q->lock);
	if (!j.data) {
		/* Big chunks get a reusable buffer rounded up to fit most later ones; small
		 * ones (small files) come from the heap, which is cheap for them. */
		j.cap = n < SPARE_MIN ? (n ? n : 1) : n < (2u << 20) ? (2u << 20) : n;
		j.data = malloc(j.cap);
	}
	if (!j.data)
		return err_set(b->e, -ENOMEM, "out of memory");
	memcpy(j.data, p, n);
	memcpy(j.id, id, ID_BYTES);
	pthread_mutex_lock(&q->lock);
	/* One job always fits, so a chunk larger than the budget cannot deadlock. */
	while ((q->n == q->cap || (q->bytes && q->bytes + n > QUEUE_BYTES_MAX)) &&
	       !atomic_load(&b->failed))
		pthread_cond_wait(&q->not_full, &q->lock);
	if (atomic_load(&b->failed)) {
		pthread_mutex_unlock(&q->lock);
		free(j.data);
		return -ECANCELED; /* the worker's error is reported by bk_workers_stop */
	}
	q->ring[(q->head + q->n) % q->cap] = j;
	q->n++;
	q->bytes += n;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int bk_save_blob(struct bk *b, enum blob_type t, const void *p, size_t n,
		 uint8_t ret_id[ID_BYTES])
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
