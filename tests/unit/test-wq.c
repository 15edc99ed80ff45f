/* The bounded work queue: FIFO order with one worker, every item once with many, the
 * first-error latch, cancel while producers block on a full queue, an all-or-nothing
 * start when thread k fails, the byte bound, help, and signals blocked in workers. */
#include "util/wq.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/tap.h"
#include "util/banned.h"

#define DEADLINE_S 60

struct item {
	unsigned k;
	size_t weight;
};

struct ctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_closed; /* run() waits while true */
	unsigned in_run;
	unsigned order[4096];
	size_t n_order;
	atomic_uint ran, discarded;
	atomic_uchar seen[20000];
	unsigned fail_at; /* run fails on this k (0 = never) */
	atomic_size_t running_bytes, max_running_bytes;
	atomic_int sig_ok, sig_bad;
	atomic_int inits, finis;
};

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

static void ctx_release(struct ctx *c)
{
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static void gate(struct ctx *c, bool closed)
{
	pthread_mutex_lock(&c->lock);
	c->gate_closed = closed;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static int run(void *ud, void *tls, void *p, struct err *e)
{
	struct ctx *c = ud;
	struct item *it = p;
	size_t now, max;
	sigset_t cur;

	(void)tls;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (sigismember(&cur, SIGINT) && sigismember(&cur, SIGTERM))
		atomic_fetch_add(&c->sig_ok, 1);
	else
		atomic_fetch_add(&c->sig_bad, 1);
	now = atomic_fetch_add(&c->running_bytes, it->weight) + it->weight;
	max = atomic_load(&c->max_running_bytes);
	while (now > max && !atomic_compare_exchange_weak(&c->max_running_bytes, &max, now))
		;
	pthread_mutex_lock(&c->lock);
	c->in_run++;
	pthread_cond_broadcast(&c->cond);
	while (c->gate_closed)
		pthread_cond_wait(&c->cond, &c->lock);
	c->in_run--;
	if (c->n_order < ELEMENTSOF(c->order))
		c->order[c->n_order++] = it->k;
	pthread_mutex_unlock(&c->lock);
	if (it->k < ELEMENTSOF(c->seen))
		atomic_fetch_add(&c->seen[it->k], 1);
	atomic_fetch_add(&c->ran, 1);
	atomic_fetch_sub(&c->running_bytes, it->weight);
	if (c->fail_at && it->k == c->fail_at)
		return err_set(e, -EIO, "item %u failed", it->k);
	return 0;
}

static void discard(void *ud, void *p)
{
	struct ctx *c = ud;

	(void)p;
	atomic_fetch_add(&c->discarded, 1);
}

static struct wq_config config(struct ctx *c, unsigned threads, size_t max_items, size_t max_bytes)
{
	return (struct wq_config){ .threads = threads,
		                   .item_size = sizeof(struct item),
		                   .max_items = max_items,
		                   .max_bytes = max_bytes,
		                   .run = run,
		                   .discard = discard,
		                   .ud = c };
}

/* Poll a condition with a generous deadline (never sleep-and-hope). */
static bool wait_for(struct ctx *c, bool (*cond)(struct ctx *))
{
	for (int i = 0; i < DEADLINE_S * 1000; i++) {
		if (cond(c))
			return true;
		usleep(1000);
	}
	return false;
}

static bool one_in_run(struct ctx *c)
{
	bool r;

	pthread_mutex_lock(&c->lock);
	r = c->in_run >= 1;
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void test_order(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;
	bool in_order = true;
	int r = 0;

	ctx_init(&c);
	cfg = config(&c, 1, 8, 0);
	is_int(wq_new(&cfg, &q, &e), 0, "one worker starts");
	for (unsigned k = 0; k < 1000 && r == 0; k++)
		r = wq_push(q, &(struct item){ .k = k }, 0, -1);
	is_int(r, 0, "1000 pushes through an 8-slot ring");
	is_int(wq_finish(q, &e), 0, "finish: no error");
	is_int(c.n_order, 1000, "every item ran");
	for (unsigned k = 0; k < c.n_order; k++)
		in_order &= c.order[k] == k;
	ok(in_order, "one worker runs items in push order");
	ok(atomic_load(&c.sig_bad) == 0 && atomic_load(&c.sig_ok) == 1000,
	   "SIGINT and SIGTERM are blocked in workers");
	wq_free(q);
	ctx_release(&c);
}

static void test_all_once(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;
	unsigned once = 0;
	int r = 0;

	ctx_init(&c);
	cfg = config(&c, 4, 16, 0);
	is_int(wq_new(&cfg, &q, &e), 0, "four workers start");
	for (unsigned k = 0; k < 20000 && r == 0; k++)
		r = wq_push(q, &(struct item){ .k = k }, 0, -1);
	is_int(r, 0, "20000 pushes");
	is_int(wq_drain(q), 0, "drain: no error");
	is_int(atomic_load(&c.ran), 20000, "drain returns after every item ran");
	is_int(wq_finish(q, &e), 0, "finish");
	for (unsigned k = 0; k < 20000; k++)
		once += atomic_load(&c.seen[k]) == 1;
	is_int(once, 20000, "each item ran exactly once");
	wq_free(q);
	ctx_release(&c);
}

static void test_error_latch(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;
	int r = 0;

	ctx_init(&c);
	c.fail_at = 5;
	cfg = config(&c, 2, 64, 0);
	/* Nothing runs (so nothing fails) until all ten are queued. */
	gate(&c, true);
	is_int(wq_new(&cfg, &q, &e), 0, "start");
	for (unsigned k = 1; k <= 10 && r == 0; k++)
		r = wq_push(q, &(struct item){ .k = k }, 0, -1);
	is_int(r, 0, "ten pushes before the failure is known");
	gate(&c, false);
	is_int(wq_drain(q), -EIO, "drain reports the worker's error");
	is_int(wq_error(q), -EIO, "the error is latched");
	is_int(wq_push(q, &(struct item){ .k = 11 }, 0, -1), -EIO, "a later push fails fast");
	wq_cancel(q, -ESHUTDOWN);
	is_int(wq_finish(q, &e), -EIO, "finish returns the first error, not a later cancel");
	is_str(e.msg, "item 5 failed", "with the worker's message");
	is_int(atomic_load(&c.ran) + atomic_load(&c.discarded), 10,
	       "every pushed item either ran or was discarded");
	is_int(wq_finish(q, &e), -EIO, "a second finish returns the same");
	wq_free(q);
	ctx_release(&c);
}

struct producer {
	struct wq *q;
	atomic_int attempts, pushed;
	int result;
	pthread_t t;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	int r;

	for (unsigned k = 0;; k++) {
		atomic_fetch_add(&p->attempts, 1);
		r = wq_push(p->q, &(struct item){ .k = k }, 0, -1);
		if (r < 0)
			break;
		atomic_fetch_add(&p->pushed, 1);
	}
	p->result = r;
	return NULL;
}

static struct producer prods[3];

static bool producers_blocked(struct ctx *c)
{
	(void)c;
	for (size_t i = 0; i < ELEMENTSOF(prods); i++)
		if (atomic_load(&prods[i].attempts) == atomic_load(&prods[i].pushed))
			return false;
	return true;
}

static void test_cancel_blocked(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;
	unsigned pushed = 0;
	bool all_cancelled = true;

	ctx_init(&c);
	cfg = config(&c, 1, 2, 0);
	gate(&c, true);
	is_int(wq_new(&cfg, &q, &e), 0, "start");
	for (size_t i = 0; i < ELEMENTSOF(prods); i++) {
		prods[i].q = q;
		pthread_create(&prods[i].t, NULL, produce, &prods[i]);
	}
	ok(wait_for(&c, one_in_run), "the worker holds an item");
	ok(wait_for(&c, producers_blocked), "every producer waits in a push on the full queue");
	wq_cancel(q, -ESHUTDOWN);
	for (size_t i = 0; i < ELEMENTSOF(prods); i++) {
		pthread_join(prods[i].t, NULL);
		all_cancelled &= prods[i].result == -ESHUTDOWN;
		pushed += (unsigned)atomic_load(&prods[i].pushed);
	}
	ok(all_cancelled, "blocked producers return the cancel code");
	gate(&c, false);
	is_int(wq_finish(q, &e), -ESHUTDOWN, "finish returns the cancel code");
	is_int(atomic_load(&c.ran), 1, "only the item already running ran");
	is_int(atomic_load(&c.discarded), pushed - 1, "queued items were discarded");
	wq_free(q);
	ctx_release(&c);
}

static atomic_int creates;
static int fail_create_at = -1;

static int flaky_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	if (atomic_fetch_add(&creates, 1) == fail_create_at)
		return EAGAIN;
	return pthread_create(t, a, fn, arg);
}

static int tls_init(void *ud, unsigned i, void **ret)
{
	struct ctx *c = ud;

	atomic_fetch_add(&c->inits, 1);
	*ret = malloc(16 + i); /* ASan reports a leak if fini is skipped */
	return *ret ? 0 : -ENOMEM;
}

static void tls_fini(void *ud, void *tls)
{
	struct ctx *c = ud;

	atomic_fetch_add(&c->finis, 1);
	free(tls);
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int baseline;

static bool back_to_baseline(struct ctx *c)
{
	(void)c;
	return count_threads() == baseline;
}

static void test_partial_start(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;

	ctx_init(&c);
	baseline = count_threads();
	cfg = config(&c, 4, 8, 0);
	cfg.create = flaky_create;
	cfg.thread_init = tls_init;
	cfg.thread_fini = tls_fini;
	fail_create_at = 2;
	is_int(wq_new(&cfg, &q, &e), -EAGAIN, "thread 3 of 4 failing fails the start");
	ok(q == NULL, "no queue is returned");
	ok(strstr(e.msg, "worker 3 of 4") != NULL, "the message names the worker: %s", e.msg);
	is_int(atomic_load(&creates), 3, "no thread is started after the failure");
	is_int(atomic_load(&c.finis), atomic_load(&c.inits), "every worker state is released");
	ok(wait_for(&c, back_to_baseline), "the two started workers were joined");
	fail_create_at = -1;
	ctx_release(&c);
}

static void test_bytes(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;
	int r = 0;

	ctx_init(&c);
	cfg = config(&c, 2, 64, 1000);
	gate(&c, true);
	is_int(wq_new(&cfg, &q, &e), 0, "start");
	is_int(wq_push(q, &(struct item){ .k = 1, .weight = 5000 }, 5000, 0), 0,
	       "an item over the bound enters an empty queue");
	ok(wait_for(&c, one_in_run), "it runs");
	is_int(wq_push(q, &(struct item){ .k = 2, .weight = 1 }, 1, 0), -EAGAIN,
	       "a running item's bytes still count");
	is_int(wq_push(q, &(struct item){ .k = 3, .weight = 1 }, 1, 20), -EAGAIN,
	       "a timed push gives up");
	gate(&c, false);
	is_int(wq_drain(q), 0, "drain");
	gate(&c, true);
	is_int(wq_push(q, &(struct item){ .k = 4, .weight = 600 }, 600, 0), 0, "600 of 1000");
	is_int(wq_push(q, &(struct item){ .k = 5, .weight = 300 }, 300, 0), 0, "900 of 1000");
	is_int(wq_push(q, &(struct item){ .k = 6, .weight = 200 }, 200, 0), -EAGAIN,
	       "1100 of 1000 is refused");
	is_int(wq_push(q, &(struct item){ .k = 7, .weight = 100 }, 100, 0), 0, "1000 of 1000");
	gate(&c, false);
	is_int(wq_drain(q), 0, "drain");
	/* Concurrent producers and workers: the bytes running never exceed the bound. */
	atomic_store(&c.max_running_bytes, 0);
	for (unsigned k = 100; k < 2100 && r == 0; k++)
		r = wq_push(q, &(struct item){ .k = k, .weight = 300 }, 300, -1);
	is_int(r, 0, "2000 pushes of 300 bytes");
	is_int(wq_finish(q, &e), 0, "finish");
	ok(atomic_load(&c.max_running_bytes) <= 1000, "at most 1000 bytes ran at once (%zu)",
	   atomic_load(&c.max_running_bytes));
	wq_free(q);
	ctx_release(&c);
}

static void test_help_and_free(void)
{
	struct ctx c;
	struct wq_config cfg;
	struct wq *q = NULL;
	struct err e = ERR_INIT;

	ctx_init(&c);
	cfg = config(&c, 1, 8, 0);
	is_int(wq_new(&cfg, &q, &e), 0, "start");
	gate(&c, true);
	is_int(wq_push(q, &(struct item){ .k = 1 }, 0, -1), 0, "push");
	ok(wait_for(&c, one_in_run), "the worker holds it");
	is_int(wq_push(q, &(struct item){ .k = 2 }, 0, -1), 0, "push another");
	gate(&c, false);
	{
		int h = wq_help(q, NULL);

		ok(h == 1 || h == 0, "help runs a queued item or finds none (%d)", h);
	}
	is_int(wq_drain(q), 0, "drain");
	is_int(atomic_load(&c.ran), 2, "both ran");
	is_int(wq_help(q, NULL), 0, "nothing left to help with");
	/* Free without finish: queued work is discarded and the workers are joined. */
	gate(&c, true);
	is_int(wq_push(q, &(struct item){ .k = 3 }, 0, -1), 0, "push");
	ok(wait_for(&c, one_in_run), "running");
	is_int(wq_push(q, &(struct item){ .k = 4 }, 0, -1), 0, "queued behind it");
	wq_cancel(q, 0);
	is_int(wq_error(q), -ECANCELED, "cancel with no code latches -ECANCELED");
	gate(&c, false);
	wq_free(q);
	is_int(atomic_load(&c.discarded), 1, "free discarded the queued item");
	ctx_release(&c);
}

int main(void)
{
	struct wq_config bad = { 0 };
	struct wq *q = NULL;
	struct err e = ERR_INIT;

	alarm(5 * DEADLINE_S); /* a deadlock fails the test instead of hanging CI */
	is_int(wq_new(&bad, &q, &e), -EINVAL, "a zero config is refused");
	test_order();
	test_all_once();
	test_error_latch();
	test_cancel_blocked();
	test_partial_start();
	test_bytes();
	test_help_and_free();
	wq_free(NULL);
	return tap_done();
}
