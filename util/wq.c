/* Owns the bounded work queue: a ring of fixed-size items under one mutex, the worker
 * threads that drain it, the first-error latch, and an all-or-nothing start. */
#include "util/wq.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"
#include "util/ckd.h"

struct wq_worker {
	struct wq *q;
	pthread_t thread;
	void *tls;
	bool has_tls, started;
};

struct wq {
	struct wq_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t not_full;  /* a slot or bytes were released, or an error was latched */
	pthread_cond_t not_empty; /* an item was queued, or the queue was closed */
	pthread_cond_t idle;      /* nothing queued and nothing running */
	uint8_t *ring;
	size_t *weight; /* bytes each ring slot counts against max_bytes */
	size_t head, n, bytes, running;
	bool closed, finished;
	atomic_int error;
	struct err err; /* the latched error's message, under lock */
	struct wq_worker *w;
	unsigned n_workers;
};

static void latch_locked(struct wq *q, int code, const struct err *e)
{
	if (atomic_load(&q->error))
		return;
	if (e && e->code && e->msg[0])
		q->err = *e;
	else
		snprintf(q->err.msg, sizeof(q->err.msg), "%s", strerror(-code));
	q->err.code = code;
	atomic_store(&q->error, code);
	/* Blocked pushers must fail now, not when room appears. */
	pthread_cond_broadcast(&q->not_full);
}

/* Take the oldest item into out; the caller then runs or discards it and calls done(). */
static void pop_locked(struct wq *q, void *out, size_t *ret_weight)
{
	memcpy(out, q->ring + q->head * q->cfg.item_size, q->cfg.item_size);
	*ret_weight = q->weight[q->head];
	q->head = (q->head + 1) % q->cfg.max_items;
	q->n--;
	q->running++;
	pthread_cond_broadcast(&q->not_full);
}

static void done_locked(struct wq *q, size_t weight)
{
	q->running--;
	q->bytes -= weight;
	pthread_cond_broadcast(&q->not_full);
	if (!q->n && !q->running)
		pthread_cond_broadcast(&q->idle);
}

static void run_or_discard(struct wq *q, void *tls, void *item)
{
	struct err e = ERR_INIT;
	int r;

	if (atomic_load(&q->error)) {
		if (q->cfg.discard)
			q->cfg.discard(q->cfg.ud, item);
		return;
	}
	r = q->cfg.run(q->cfg.ud, tls, item, &e);
	if (r < 0) {
		pthread_mutex_lock(&q->lock);
		latch_locked(q, r, &e);
		pthread_mutex_unlock(&q->lock);
	}
}

static void *worker_main(void *arg)
{
	struct wq_worker *w = arg;
	struct wq *q = w->q;
	_Alignas(max_align_t) uint8_t item[WQ_ITEM_MAX];
	size_t weight;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->n && !q->closed)
			pthread_cond_wait(&q->not_empty, &q->lock);
		if (!q->n)
			break; /* closed and empty */
		pop_locked(q, item, &weight);
		pthread_mutex_unlock(&q->lock);
		run_or_discard(q, w->tls, item);
		pthread_mutex_lock(&q->lock);
		done_locked(q, weight);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Close, wake and join every started worker, then release every worker's state. */
static void stop_all(struct wq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->n_workers; i++) {
		struct wq_worker *w = &q->w[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
		if (w->has_tls && q->cfg.thread_fini)
			q->cfg.thread_fini(q->cfg.ud, w->tls);
		w->has_tls = false;
	}
	q->finished = true;
}

static int start_one(struct wq *q, unsigned i, struct err *e)
{
	struct wq_worker *w = &q->w[i];
	wq_create_fn create = q->cfg.create ? q->cfg.create : pthread_create;
	int r;

	w->q = q;
	q->n_workers = i + 1; /* stop_all releases this one's state even if it never runs */
	if (q->cfg.thread_init) {
		r = q->cfg.thread_init(q->cfg.ud, i, &w->tls);
		if (r < 0)
			return err_set(e, r, "work queue: worker %u state: %s", i, strerror(-r));
		w->has_tls = true;
	}
	r = create(&w->thread, NULL, worker_main, w);
	if (r != 0)
		return err_set(e, -r, "work queue: cannot start worker %u of %u: %s", i + 1,
		               q->cfg.threads, strerror(r));
	w->started = true;
	return 0;
}

/* Workers inherit the creator's mask: block the asynchronous signals while creating them.
 * Fault signals stay unblocked so a crash in a worker still reports (and ASan still sees
 * it). */
static void block_async_signals(sigset_t *old)
{
	static const int sync_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS, SIGTRAP };
	sigset_t set;

	sigfillset(&set);
	for (size_t i = 0; i < sizeof(sync_sigs) / sizeof(sync_sigs[0]); i++)
		sigdelset(&set, sync_sigs[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static int check_config(const struct wq_config *c, struct err *e)
{
	size_t ring;

	if (!c->run || !c->threads || c->threads > WQ_THREADS_MAX || !c->item_size ||
	    c->item_size > WQ_ITEM_MAX || !c->max_items)
		return err_set(e, -EINVAL, "work queue: bad configuration");
	if (ckd_mul(&ring, c->item_size, c->max_items))
		return err_set(e, -EOVERFLOW, "work queue: %zu items are too many", c->max_items);
	return 0;
}

int wq_new(const struct wq_config *cfg, struct wq **ret, struct err *e)
{
	pthread_condattr_t ca;
	struct wq *q = NULL;
	sigset_t old;
	int r;

	r = check_config(cfg, e);
	if (r < 0)
		return r;
	q = calloc(1, sizeof(*q));
	if (!q)
		return err_set(e, -ENOMEM, "out of memory");
	q->cfg = *cfg;
	pthread_mutex_init(&q->lock, NULL);
	/* Timed pushes measure against a clock that wall-clock jumps do not move. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->not_full, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->idle, NULL);
	q->ring = calloc(cfg->max_items, cfg->item_size);
	q->weight = calloc(cfg->max_items, sizeof(*q->weight));
	q->w = calloc(cfg->threads, sizeof(*q->w));
	if (!q->ring || !q->weight || !q->w) {
		r = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	block_async_signals(&old);
	for (unsigned i = 0; i < cfg->threads && r >= 0; i++)
		r = start_one(q, i, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	*ret = q;
	return 0;
fail:
	/* The started workers hold pointers into q: join them before it goes. */
	wq_cancel(q, r);
	wq_free(q);
	return r;
}

static int deadline_wait(struct wq *q, const struct timespec *deadline)
{
	if (!deadline) {
		pthread_cond_wait(&q->not_full, &q->lock);
		return 0;
	}
	return pthread_cond_timedwait(&q->not_full, &q->lock, deadline) == ETIMEDOUT ? -EAGAIN : 0;
}

static bool full_locked(const struct wq *q, size_t bytes)
{
	size_t max = q->cfg.max_bytes;

	if (q->n == q->cfg.max_items)
		return true;
	/* An empty queue takes any item, so one larger than the bound still moves. */
	return max && q->bytes && (q->bytes >= max || bytes > max - q->bytes);
}

int wq_push(struct wq *q, const void *item, size_t bytes, int timeout_ms)
{
	struct timespec dl, *deadline = NULL;
	int r = 0;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		deadline = &dl;
	}
	pthread_mutex_lock(&q->lock);
	while (!q->closed && !atomic_load(&q->error) && full_locked(q, bytes) && r == 0)
		r = timeout_ms == 0 ? -EAGAIN : deadline_wait(q, deadline);
	if (q->closed)
		r = -EINVAL;
	else if (atomic_load(&q->error))
		r = atomic_load(&q->error);
	if (r == 0) {
		size_t tail = (q->head + q->n) % q->cfg.max_items;

		memcpy(q->ring + tail * q->cfg.item_size, item, q->cfg.item_size);
		q->weight[tail] = bytes;
		q->n++;
		q->bytes += bytes;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int wq_help(struct wq *q, void *tls)
{
	_Alignas(max_align_t) uint8_t item[WQ_ITEM_MAX];
	size_t weight;
	int r;

	pthread_mutex_lock(&q->lock);
	if (!q->n) {
		pthread_mutex_unlock(&q->lock);
		return atomic_load(&q->error);
	}
	pop_locked(q, item, &weight);
	pthread_mutex_unlock(&q->lock);
	run_or_discard(q, tls, item);
	pthread_mutex_lock(&q->lock);
	done_locked(q, weight);
	pthread_mutex_unlock(&q->lock);
	r = atomic_load(&q->error);
	return r < 0 ? r : 1;
}

int wq_drain(struct wq *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->n || q->running)
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return atomic_load(&q->error);
}

void wq_cancel(struct wq *q, int code)
{
	struct err e = ERR_INIT;

	if (code >= 0)
		code = -ECANCELED;
	err_set(&e, code, "work queue cancelled: %s", strerror(-code));
	pthread_mutex_lock(&q->lock);
	latch_locked(q, code, &e);
	/* Idle workers wake only for items; the queued ones are discarded as they pop. */
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

int wq_error(struct wq *q)
{
	return atomic_load(&q->error);
}

int wq_finish(struct wq *q, struct err *e)
{
	int r;

	if (!q->finished)
		stop_all(q);
	pthread_mutex_lock(&q->lock);
	r = atomic_load(&q->error);
	if (r < 0)
		*e = q->err;
	pthread_mutex_unlock(&q->lock);
	return r;
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	if (!q->finished) {
		wq_cancel(q, -ECANCELED);
		stop_all(q);
	}
	free(q->w);
	free(q->weight);
	free(q->ring);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
