/* A bounded work queue: N worker threads fed fixed-size items through a ring bounded in
 * items and in bytes, with a first-error latch and cancellation. The one queue every
 * pipeline stage uses (backup blobs, content hashing, FUSE prefetch, restore writes).
 *
 * Lifecycle:
 *   wq_new()     starts the workers (all or none: a partial start is undone);
 *   wq_push()    copies an item in, blocking while the queue is full;
 *   wq_drain()   waits until everything pushed so far has run (a barrier, queue stays open);
 *   wq_cancel()  latches an error from any thread: queued items are discarded, blocked
 *                pushers return, running items finish;
 *   wq_finish()  closes, runs what is queued (or discards it after an error), joins,
 *                returns the first error;
 *   wq_free()    cancels if not finished, joins, frees.
 *
 * Errors: the first negative return of run() (or wq_cancel's code) is latched with its
 * message. After that no further item runs: queued and later items go to discard(), and
 * wq_push() fails at once with the latched code. Workers start with SIGINT, SIGTERM and
 * every other asynchronous signal blocked, so signals reach the caller's main loop. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/attr.h"
#include "util/err.h"

#define WQ_THREADS_MAX 256
/* Items are small records (a pointer, an id and a length): workers copy one to the stack. */
#define WQ_ITEM_MAX 256

struct wq;

/* Runs one item on a worker thread. item points at a private copy of what was pushed,
 * valid for this call only. tls is the worker's state from thread_init (NULL without it,
 * or the helper's tls in wq_help). 0, or a negative errno with a message in e: the first
 * one is latched and stops the queue. */
typedef int (*wq_run_fn)(void *ud, void *tls, void *item, struct err *e);
/* Releases an item that will never run (after an error or a cancel). Must not fail. */
typedef void (*wq_discard_fn)(void *ud, void *item);
/* Per-worker state, created on the caller's thread in wq_new before worker i starts and
 * released in wq_finish/wq_free after it is joined. */
typedef int (*wq_thread_init_fn)(void *ud, unsigned i, void **ret_tls);
typedef void (*wq_thread_fini_fn)(void *ud, void *tls);
/* pthread_create's shape; a hook for tests that make thread k fail to start. */
typedef int (*wq_create_fn)(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

struct wq_config {
	unsigned threads; /* 1..WQ_THREADS_MAX */
	size_t item_size; /* bytes copied per push, 1..WQ_ITEM_MAX */
	size_t max_items; /* ring slots, > 0 */
	/* Bound on the bytes of items pushed and not yet finished (queued or running); 0 = no
	 * byte bound. One item always fits into an empty queue, so an item larger than the
	 * bound cannot deadlock. */
	size_t max_bytes;
	wq_run_fn run;                 /* required */
	wq_discard_fn discard;         /* optional */
	wq_thread_init_fn thread_init; /* optional */
	wq_thread_fini_fn thread_fini; /* optional */
	void *ud;
	wq_create_fn create; /* tests only; NULL = pthread_create */
};

/* Start cfg->threads workers. If worker k fails to start (or its thread_init fails), the
 * k already started are stopped and joined and their state released before returning the
 * error: nothing is left running. -EINVAL on a bad config, -ENOMEM, -EAGAIN. */
int wq_new(const struct wq_config *cfg, struct wq **ret, struct err *e) _must_check_;

/* Copy item (cfg->item_size bytes, weighing `bytes` against max_bytes) into the queue.
 * timeout_ms < 0 waits for room as long as it takes, 0 never waits, > 0 waits at most that
 * long. 0 when queued; -EAGAIN when there was no room in time (item not queued); the
 * latched error when the queue failed or was cancelled; -EINVAL after wq_finish. On any
 * failure the item is the caller's again (discard is not called). */
int wq_push(struct wq *q, const void *item, size_t bytes, int timeout_ms) _must_check_;

/* Run one queued item on the calling thread with the given tls (for a producer that would
 * otherwise wait in wq_drain). 1 if it ran one, 0 if none was queued, or the latched
 * error (including the one this item produced). */
int wq_help(struct wq *q, void *tls) _must_check_;

/* Wait until every item pushed so far has finished (run or discarded). The queue stays
 * open. Returns the latched error or 0. Not for use from a worker. */
int wq_drain(struct wq *q) _must_check_;

/* Latch code (negative; -ECANCELED if not) unless an error is latched already, discard
 * what is queued, wake every waiter. Safe from any thread, including workers; not from a
 * signal handler (it takes a mutex). */
void wq_cancel(struct wq *q, int code);

/* The latched error, or 0; lock-free, for polling in hot loops. */
int wq_error(struct wq *q);

/* Close, finish queued items, join the workers. Returns the first error, its message in e
 * (e untouched on success). Later calls return the same. Not from a worker. */
int wq_finish(struct wq *q, struct err *e) _must_check_;

/* Cancel (-ECANCELED) unless finished, join, release. NULL does nothing. */
void wq_free(struct wq *q);
