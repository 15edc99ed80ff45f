/* Runs the exec hooks of many pods at once: a util/wq queue with at most cfg->hook_workers
 * pods' hooks in flight, so one slow hook (its timeout may be minutes) holds up only its
 * own pod. A pod's hooks still run in order on one worker. The calling thread (the loop's)
 * hears of each pod as soon as its hooks returned, in the order they finish, so it can
 * start that pod's volumes at once; it stays the only thread that uses the API client or
 * writes the Backup's status: a worker writes only its job's own status object. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/wq.h"

struct pool {
	struct ctl *c;
	struct ctl_hookjob *jobs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t *order; /* indexes of finished jobs, in finishing order */
	size_t n_done;
};

static void finished(struct pool *p, size_t idx)
{
	pthread_mutex_lock(&p->mu);
	p->order[p->n_done++] = idx;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void run_job(struct ctl *c, struct ctl_hookjob *j)
{
	j->status = json_object();
	j->r = j->status ? ctl_hooks_run(c, j->pod, j->hooks, j->status, j->msg, sizeof(j->msg))
	                 : -ENOMEM;
}

static int run(void *ud, void *tls, void *item, struct err *e)
{
	struct pool *p = ud;
	size_t idx;

	(void)tls;
	(void)e;
	memcpy(&idx, item, sizeof(idx));
	run_job(p->c, &p->jobs[idx]);
	finished(p, idx);
	return 0; /* a failed hook is the job's outcome, never the queue's */
}

/* Only after a cancel, which nothing here asks for; the waiter must still hear of it. */
static void discard(void *ud, void *item)
{
	struct pool *p = ud;
	size_t idx;

	memcpy(&idx, item, sizeof(idx));
	p->jobs[idx].r = -ECANCELED;
	snprintf(p->jobs[idx].msg, sizeof(p->jobs[idx].msg), "hook not run: cancelled");
	finished(p, idx);
}

unsigned ctl_hook_workers(const struct ctl *c)
{
	unsigned n = c->cfg->hook_workers;

	if (n == 0)
		return CTL_HOOK_WORKERS;
	return n > WQ_THREADS_MAX ? WQ_THREADS_MAX : n;
}

int ctl_hooks_par(struct ctl *c, struct ctl_hookjob *jobs, size_t n, ctl_hookjob_done_fn done,
                  void *ud)
{
	struct pool p = { .c = c, .jobs = jobs };
	struct wq_config cfg = {
		.item_size = sizeof(size_t),
		.max_items = n,
		.run = run,
		.discard = discard,
		.ud = &p,
	};
	struct wq *q = NULL;
	struct err e = ERR_INIT;
	size_t taken = 0, pushed = 0, bytes;
	int r = 0, rd;

	if (n == 0)
		return 0;
	cfg.threads = ctl_hook_workers(c);
	if (cfg.threads > n)
		cfg.threads = (unsigned)n;
	if (ckd_mul(&bytes, n, sizeof(*p.order)))
		return -ENOMEM;
	p.order = malloc(bytes);
	if (!p.order)
		return -ENOMEM;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	if (cfg.threads < 2 || wq_new(&cfg, &q, &e) < 0) {
		/* One at a time on this thread: slower, never wrong. */
		if (e.msg[0])
			ctl_note(c, CTL_NOTE_WARN, "hooks run one at a time: %s", e.msg);
		q = NULL;
		for (size_t i = 0; i < n; i++) {
			run_job(c, &jobs[i]);
			rd = done(ud, &jobs[i]);
			if (rd < 0 && r == 0)
				r = rd;
		}
		goto fail;
	}
	/* The ring holds every job: no push waits, and the done calls below run while the
	 * first hooks are still going. */
	for (; pushed < n; pushed++)
		if (wq_push(q, &pushed, 0, 0) < 0)
			break;
	if (pushed < n) {
		for (size_t i = pushed; i < n; i++) {
			run_job(c, &jobs[i]);
			finished(&p, i);
		}
	}
	while (taken < n) {
		size_t upto;

		pthread_mutex_lock(&p.mu);
		while (p.n_done == taken)
			pthread_cond_wait(&p.cv, &p.mu);
		upto = p.n_done;
		pthread_mutex_unlock(&p.mu);
		for (; taken < upto; taken++) {
			rd = done(ud, &jobs[p.order[taken]]);
			if (rd < 0 && r == 0)
				r = rd;
		}
	}
	if (wq_finish(q, &e) < 0)
		ctl_note(c, CTL_NOTE_WARN, "hook workers: %s", e.msg);
fail:
	wq_free(q);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	free(p.order);
	return r;
}

void ctl_hooks_merge(json_t *status, const struct ctl_hookjob *j)
{
	static const char *const keys[] = { "attempted", "failed" };
	const json_t *from = json_object_get(j->status, "hooks"), *msgs, *m;
	json_t *hk = json_object_get(status, "hooks");
	size_t i;

	if (json_is_object(from)) {
		if (!json_is_object(hk)) {
			hk = json_object();
			json_object_set_new(status, "hooks", hk);
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_get(from, keys[i]))
				json_object_set_new(
				    hk, keys[i],
				    json_integer(
				        json_integer_value(json_object_get(hk, keys[i])) +
				        json_integer_value(json_object_get(from, keys[i]))));
	}
	msgs = json_object_get(j->status, "warningMessages");
	json_array_foreach(msgs, i, m) ctl_status_add(status, false, "%s", json_string_value(m));
	msgs = json_object_get(j->status, "errorMessages");
	json_array_foreach(msgs, i, m) ctl_status_add(status, true, "%s", json_string_value(m));
}

void ctl_hookjobs_free(struct ctl_hookjob *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++) {
		json_decref(jobs[i].hooks);
		json_decref(jobs[i].status);
	}
	free(jobs);
}
