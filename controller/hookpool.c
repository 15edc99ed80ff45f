/* Runs exec hooks on worker threads while the loop goes on: one util/wq queue for the
 * controller with at most cfg->hook_workers pods' hooks in flight, so a pre hook that
 * takes minutes holds up only its own pod, never other Backups, schedules or expiry. A
 * pod's hooks still run in order on one worker. Jobs stay in the pool until the loop takes
 * them back on a later pass; the loop stays the only thread that uses the API client or
 * writes a Backup's status: a worker writes only its job's own status object. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/wq.h"

/* Jobs queued or running at once; one more waits for a later pass (-EAGAIN). */
#define HOOKPOOL_QUEUE 4096

struct ctl_hookpool {
	struct ctl *c;
	struct wq *q;
	pthread_mutex_t mu;
	struct ctl_hookjob *jobs; /* every job not taken back yet */
};

static void run_job(struct ctl *c, struct ctl_hookjob *j)
{
	j->status = json_object();
	j->r = j->status ? ctl_hooks_run(c, j->pod, j->hooks, j->status, j->msg, sizeof(j->msg))
	                 : -ENOMEM;
}

static void finished(struct ctl_hookpool *p, struct ctl_hookjob *j)
{
	pthread_mutex_lock(&p->mu);
	j->done = true;
	pthread_mutex_unlock(&p->mu);
}

static int run(void *ud, void *tls, void *item, struct err *e)
{
	struct ctl_hookpool *p = ud;
	struct ctl_hookjob *j;

	(void)tls;
	(void)e;
	memcpy(&j, item, sizeof(j));
	run_job(p->c, j);
	finished(p, j);
	return 0; /* a failed hook is the job's outcome, never the queue's */
}

/* Only at shutdown: a job that never ran is still finished, so it is freed. */
static void discard(void *ud, void *item)
{
	struct ctl_hookpool *p = ud;
	struct ctl_hookjob *j;

	memcpy(&j, item, sizeof(j));
	j->r = -ECANCELED;
	snprintf(j->msg, sizeof(j->msg), "hook not run: the controller stopped");
	finished(p, j);
}

unsigned ctl_hook_workers(const struct ctl *c)
{
	unsigned n = c->cfg->hook_workers;

	if (n == 0)
		return CTL_HOOK_WORKERS;
	return n > WQ_THREADS_MAX ? WQ_THREADS_MAX : n;
}

static int pool_get(struct ctl *c, struct ctl_hookpool **ret)
{
	struct ctl_hookpool *p = c->hp;
	struct wq_config cfg = {
		.threads = ctl_hook_workers(c),
		.item_size = sizeof(struct ctl_hookjob *),
		.max_items = HOOKPOOL_QUEUE,
		.run = run,
		.discard = discard,
	};
	struct err e = ERR_INIT;
	int r;

	if (p) {
		*ret = p;
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	cfg.ud = p;
	r = wq_new(&cfg, &p->q, &e);
	if (r < 0) {
		ctl_note(c, CTL_NOTE_WARN, "hook workers: %s", e.msg);
		free(p);
		return r;
	}
	pthread_mutex_init(&p->mu, NULL);
	c->hp = *ret = p;
	return 0;
}

void ctl_hookjob_free(struct ctl_hookjob *j)
{
	if (!j)
		return;
	json_decref(j->pod);
	json_decref(j->hooks);
	json_decref(j->status);
	free(j);
}

int ctl_hookjob_start(struct ctl *c, const char *buid, enum ctl_hook_kind kind, json_t *pod,
                      json_t *hooks)
{
	const char *puid = ctl_meta(pod, "uid");
	struct ctl_hookpool *p = NULL;
	struct ctl_hookjob *j = calloc(1, sizeof(*j));
	int r;

	if (!j) {
		json_decref(pod);
		json_decref(hooks);
		return -ENOMEM;
	}
	j->pod = pod;
	j->hooks = hooks;
	j->kind = kind;
	if (!buid || !puid ||
	    (size_t)snprintf(j->buid, sizeof(j->buid), "%s", buid) >= sizeof(j->buid) ||
	    (size_t)snprintf(j->puid, sizeof(j->puid), "%s", puid) >= sizeof(j->puid)) {
		r = -EINVAL;
		goto fail;
	}
	r = pool_get(c, &p);
	if (r < 0)
		goto fail;
	/* In the list before a worker can finish it: take() must find it either way. */
	pthread_mutex_lock(&p->mu);
	j->next = p->jobs;
	p->jobs = j;
	pthread_mutex_unlock(&p->mu);
	r = wq_push(p->q, &j, 0, 0);
	if (r == 0)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (struct ctl_hookjob **pp = &p->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	pthread_mutex_unlock(&p->mu);
fail:
	ctl_hookjob_free(j);
	return r;
}

int ctl_hookjob_take(struct ctl *c, const char *buid, const char *puid, enum ctl_hook_kind kind,
                     struct ctl_hookjob **ret)
{
	struct ctl_hookpool *p = c->hp;
	int found = 0;

	*ret = NULL;
	if (!p || !buid || !puid)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (struct ctl_hookjob **pp = &p->jobs; *pp; pp = &(*pp)->next) {
		struct ctl_hookjob *j = *pp;

		if (j->kind != kind || strcmp(j->buid, buid) || strcmp(j->puid, puid))
			continue;
		found = 1;
		if (j->done) {
			*pp = j->next;
			j->next = NULL;
			*ret = j;
			found = 2;
		}
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

static bool listed(const json_t *backups, const char *buid)
{
	const json_t *b;
	size_t i;

	json_array_foreach(backups, i, b)
	{
		const char *u = ctl_meta(b, "uid");

		if (u && strcmp(u, buid) == 0)
			return true;
	}
	return false;
}

void ctl_hookpool_sweep(struct ctl *c, const json_t *backups)
{
	struct ctl_hookpool *p = c->hp;
	struct ctl_hookjob *gone = NULL;

	if (!p || !json_is_array(backups))
		return;
	pthread_mutex_lock(&p->mu);
	for (struct ctl_hookjob **pp = &p->jobs; *pp;) {
		struct ctl_hookjob *j = *pp;

		if (!j->done || listed(backups, j->buid)) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->next = gone;
		gone = j;
	}
	pthread_mutex_unlock(&p->mu);
	while (gone) {
		struct ctl_hookjob *j = gone;

		gone = j->next;
		ctl_note(c, CTL_NOTE_INFO, "pod %s/%s: hook of a vanished backup finished",
		         ctl_meta(j->pod, "namespace"), ctl_meta(j->pod, "name"));
		ctl_hookjob_free(j);
	}
}

void ctl_hookpool_free(struct ctl *c)
{
	struct ctl_hookpool *p = c->hp;
	struct err e = ERR_INIT;

	if (!p)
		return;
	/* Queued hooks are discarded, running ones see ctl_stopping() and end. */
	wq_cancel(p->q, -ECANCELED);
	if (wq_finish(p->q, &e) < 0)
		err_clear(&e); /* the cancel's own -ECANCELED */
	wq_free(p->q);
	while (p->jobs) {
		struct ctl_hookjob *j = p->jobs;

		p->jobs = j->next;
		ctl_hookjob_free(j);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
	c->hp = NULL;
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
