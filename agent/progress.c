/* Owns the progress writes of a running job: a thread with its own API client puts the
 * newest numbers into the object's status at most once per interval, so the data path
 * (the backup chunkers or the restore walker, which report) never waits for the API server. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdlib.h>

#include "util/banned.h"
#include "util/log.h"

struct progress {
	struct kube *k;
	char path[1100]; /* the status subresource */
	char what[300];  /* "pvb ns/name" or "pvr ns/name", for the log */
	unsigned interval_sec;
	progress_gone_fn gone;
	void *ud;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, fresh; /* fresh: numbers not written yet */
	uint64_t done, total;
	pthread_t thread;
};

static int edit_fn(void *ud, json_t *obj)
{
	return pvb_status_apply(obj, ud);
}

/* Outside the lock. Not retried: the next write (or the job's end) carries newer numbers. */
static void put(struct progress *p, uint64_t done, uint64_t total)
{
	struct pvb_status st = { .phase = PVB_IN_PROGRESS, .has_progress = true };
	struct err e = ERR_INIT;
	int r;

	st.bytes_done = done;
	st.total_bytes = total > done ? total : done;
	r = kube_update_retry(p->k, p->path, edit_fn, &st, NULL, &e);
	if (r == -ENOENT && p->gone)
		p->gone(p->ud); /* deleted under the job */
	else if (r < 0)
		log_warn("%s: progress not recorded: %s", p->what, e.msg);
}

static void *progress_main(void *ud)
{
	struct progress *p = ud;
	struct timespec at;
	uint64_t done, total;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += p->interval_sec;
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &at) != ETIMEDOUT)
			;
		if (p->stop || !p->fresh)
			continue;
		done = p->done;
		total = p->total;
		p->fresh = false;
		pthread_mutex_unlock(&p->lock);
		put(p, done, total);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int progress_start(const struct kube_config *kc, const char *status_path, const char *what,
                   unsigned interval_sec, progress_gone_fn gone, void *ud, struct progress **ret)
{
	struct progress *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int r;

	if (!p)
		return -ENOMEM;
	r = kube_new(kc, &p->k);
	if (r < 0) {
		free(p);
		return r;
	}
	snprintf(p->path, sizeof(p->path), "%s", status_path);
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->interval_sec = interval_sec ? interval_sec : 1;
	p->gone = gone;
	p->ud = ud;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = -pthread_create(&p->thread, NULL, progress_main, p);
	if (r < 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		kube_free(p->k);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void progress_note(struct progress *p, uint64_t done, uint64_t total)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->done = done;
	p->total = total;
	p->fresh = true;
	pthread_mutex_unlock(&p->lock);
}

void progress_stop(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* A write under way finishes first: the job's own end is written after it. */
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	kube_free(p->k);
	free(p);
}
