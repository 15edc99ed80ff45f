/* Owns the node agent's main loop: a watch thread keeps a table of this node's unfinished
 * PodVolumeBackups; the main thread starts, cancels and reaps jobs against it. */
#include "agent/agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent-internal.h"
#include "util/banned.h"
#include "util/log.h"

/* Only a stop flag is global (style rule 11): set from signal handlers. */
static volatile sig_atomic_t stop_requested;

void agent_stop(void)
{
	stop_requested = 1;
}

bool agent_stopping(void)
{
	return stop_requested != 0;
}

static void on_signal(int sig)
{
	stop_requested = 1;
}

/* Every tracked PVB is on this node and not finished (or has a job still running). */
#define AGENT_MAX_ENTRIES 100000

struct entry {
	char *name;
	json_t *obj;
	struct job *job;
	bool seen; /* in the current re-list */
	bool gone; /* deleted while its job runs */
};

struct agent {
	struct agent_ctx ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct entry *ents;
	size_t n, cap;
	bool synced;    /* a first full list arrived */
	bool recovered; /* start-up leftovers handled */
	int running;
	char collection[512];
};

static struct entry *find(struct agent *ag, const char *name)
{
	size_t i;

	for (i = 0; i < ag->n; i++)
		if (strcmp(ag->ents[i].name, name) == 0)
			return &ag->ents[i];
	return NULL;
}

static void drop(struct agent *ag, struct entry *en)
{
	free(en->name);
	json_decref(en->obj);
	*en = ag->ents[--ag->n];
}

static void upsert(struct agent *ag, const char *name, json_t *obj)
{
	struct entry *en = find(ag, name), *grown;

	if (!en) {
		if (ag->n >= AGENT_MAX_ENTRIES) {
			log_warn("more than %d unfinished PodVolumeBackups on this node; %s waits",
			         AGENT_MAX_ENTRIES, name);
			return;
		}
		if (ag->n == ag->cap) {
			size_t cap = ag->cap ? ag->cap * 2 : 64;

			grown = realloc(ag->ents, cap * sizeof(*grown));
			if (!grown)
				return; /* the next re-list brings it back */
			ag->ents = grown;
			ag->cap = cap;
		}
		en = &ag->ents[ag->n];
		memset(en, 0, sizeof(*en));
		en->name = strdup(name);
		if (!en->name)
			return;
		ag->n++;
	}
	json_decref(en->obj);
	en->obj = json_incref(obj);
	en->seen = true;
}

/* Runs in the watch thread. */
static void on_event(void *ud, enum watch_kind kind, json_t *obj)
{
	struct agent *ag = ud;
	struct entry *en;
	struct pvb p;
	size_t i;

	pthread_mutex_lock(&ag->lock);
	if (kind == WATCH_SYNC_BEGIN) {
		for (i = 0; i < ag->n; i++)
			ag->ents[i].seen = false;
	} else if (kind == WATCH_SYNC_END) {
		/* Objects missing from a full list were deleted while we were not watching. */
		for (i = ag->n; i-- > 0;) {
			if (ag->ents[i].seen)
				continue;
			if (ag->ents[i].job)
				ag->ents[i].gone = true;
			else
				drop(ag, &ag->ents[i]);
		}
		ag->synced = true;
	} else if (pvb_parse(obj, &p) == 0 && strcmp(p.node, ag->ctx.cfg->node) == 0) {
		en = find(ag, p.name);
		if (kind == WATCH_DELETED) {
			if (en && en->job)
				en->gone = true;
			else if (en)
				drop(ag, en);
		} else if (pvb_terminal(p.phase) && !(en && en->job)) {
			if (en)
				drop(ag, en);
		} else {
			upsert(ag, p.name, obj);
		}
	}
	pthread_cond_signal(&ag->cond);
	pthread_mutex_unlock(&ag->lock);
}

static bool watch_stop(void *ud)
{
	return agent_stopping();
}

static void watch_note(void *ud, enum watch_note level, const char *msg)
{
	if (level == WATCH_NOTE_WARN)
		log_warn("%s", msg);
	else
		log_info("%s", msg);
}

static void *watch_main(void *ud)
{
	struct agent *ag = ud;
	struct watch_params wp = {
		.collection = ag->collection, .timeout_sec = 300, .fn = on_event, .ud = ag,
		.stop = watch_stop, .note = watch_note,
	};
	struct err e = ERR_INIT;
	struct kube *k = NULL;

	if (kube_new(&ag->ctx.kc, &k) < 0) {
		log_error("cannot create the API client for the watch");
		agent_stop();
		return NULL;
	}
	if (watch_run(k, &wp, &e) < 0)
		log_error("watch ended: %s", e.msg);
	kube_free(k);
	return NULL;
}

/* Decide, under the lock, what the main thread does next; the API calls happen outside. */
static void dispatch(struct agent *ag, json_t **recover, size_t *n_recover, size_t max_recover)
{
	const struct agent_config *cfg = ag->ctx.cfg;
	size_t i;

	/* Nothing before the first full list: start-up must see every leftover first. */
	if (!ag->synced)
		return;
	for (i = ag->n; i-- > 0;) {
		struct entry *en = &ag->ents[i];
		struct pvb p;

		if (en->job && job_done(en->job)) {
			job_free(en->job);
			en->job = NULL;
			ag->running--;
		}
		if (pvb_parse(en->obj, &p) < 0) {
			if (!en->job)
				drop(ag, en);
			continue;
		}
		if (en->job) {
			if (p.cancel || p.deleting || en->gone)
				job_cancel(en->job, false);
			continue;
		}
		/* The watch may not have shown the job's own writes yet: forget the entry
		 * and let the next event bring back the real state. */
		if (en->gone || p.phase != PVB_NEW) {
			if (!ag->recovered && !en->gone &&
			    (p.phase == PVB_ACCEPTED || p.phase == PVB_IN_PROGRESS) &&
			    *n_recover < max_recover)
				recover[(*n_recover)++] = json_incref(en->obj);
			drop(ag, en);
			continue;
		}
		if (!pvb_uploader_served(p.uploader, cfg->uploader_types))
			continue;
		if (ag->running >= cfg->concurrency && !p.cancel)
			continue;
		if (job_start(&ag->ctx, en->obj, &en->job) == 0)
			ag->running++;
	}
	ag->recovered = true;
}

static void main_loop(struct agent *ag, struct kube *k)
{
	json_t *recover[64];
	size_t n_recover, i;
	struct timespec ts;

	while (!agent_stopping()) {
		n_recover = 0;
		pthread_mutex_lock(&ag->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 300 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ag->cond, &ag->lock, &ts);
		dispatch(ag, recover, &n_recover, ELEMENTSOF(recover));
		pthread_mutex_unlock(&ag->lock);
		for (i = 0; i < n_recover; i++) {
			job_recover(&ag->ctx, k, recover[i]);
			json_decref(recover[i]);
		}
	}
}

static void shutdown_jobs(struct agent *ag)
{
	size_t i;

	pthread_mutex_lock(&ag->lock);
	for (i = 0; i < ag->n; i++)
		if (ag->ents[i].job)
			job_cancel(ag->ents[i].job, true);
	pthread_mutex_unlock(&ag->lock);
	for (i = 0; i < ag->n; i++) {
		job_free(ag->ents[i].job); /* joins: each job records its end first */
		ag->ents[i].job = NULL;
	}
}

int agent_run(const struct agent_config *cfg, struct err *e)
{
	struct agent ag = { .ctx.cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal };
	struct kube *k = NULL;
	pthread_t watcher;
	bool watching = false;
	int r;

	if (!cfg->node || !cfg->node[0])
		return err_set(e, -EINVAL, "no node name: give --node or set NODE_NAME");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, -ENOMEM, "cannot initialise libcurl");
	pthread_mutex_init(&ag.lock, NULL);
	pthread_cond_init(&ag.cond, NULL);
	r = kcfg_load(cfg->kubeconfig, &ag.ctx.kc, e);
	if (r < 0)
		goto fail;
	ag.ctx.ns = cfg->ns && cfg->ns[0] ? cfg->ns : ag.ctx.kc.ns;
	snprintf(ag.collection, sizeof(ag.collection),
	         "/apis/velero.io/v1/namespaces/%s/podvolumebackups", ag.ctx.ns);
	r = kube_new(&ag.ctx.kc, &k);
	if (r < 0)
		goto fail;
	r = metrics_start(cfg->metrics_address, &ag.ctx.metrics, e);
	if (r < 0)
		goto fail;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = -pthread_create(&watcher, NULL, watch_main, &ag);
	if (r < 0) {
		err_set(e, r, "cannot start the watch thread");
		goto fail;
	}
	watching = true;
	log_info("cairn agent on node %s: watching %s at %s (concurrency %d)", cfg->node,
	         ag.collection, ag.ctx.kc.server, cfg->concurrency);
	if (ag.ctx.metrics)
		log_info("metrics and /healthz on port %u", metrics_port(ag.ctx.metrics));
	main_loop(&ag, k);
	log_info("stopping: ending running backups");
	r = 0;
fail:
	agent_stop();
	if (watching)
		pthread_join(watcher, NULL);
	shutdown_jobs(&ag);
	while (ag.n > 0)
		drop(&ag, &ag.ents[0]);
	free(ag.ents);
	metrics_stop(ag.ctx.metrics);
	kube_free(k);
	kcfg_release(&ag.ctx.kc);
	pthread_cond_destroy(&ag.cond);
	pthread_mutex_destroy(&ag.lock);
	curl_global_cleanup();
	return r;
}
