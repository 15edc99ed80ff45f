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
/* /healthz fails once the watch has been failing (or has not synced) this long. */
#define AGENT_WATCH_UNHEALTHY_SEC 60
/* With no event the main loop still runs this often: a waiting PodVolumeRestore's pod is
 * looked at again (pods are not watched), /healthz and the stop flag are read. */
#define AGENT_IDLE_MS 500

struct agent {
	struct agent_ctx ctx;
	pthread_mutex_t lock;
	struct agent_wake wake;
	struct ptab tab;
	bool synced;    /* a first full list arrived */
	bool recovered; /* start-up leftovers handled */
	int running;
	time_t started, failing_since; /* monotonic seconds; 0: the watch is fine */
	struct restorer *restorer;     /* PodVolumeRestores (restorer.c) */
};

static time_t mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void drop(struct agent *ag, struct pentry *en)
{
	ptab_del(&ag->tab, en);
}

static void upsert(struct agent *ag, struct pentry *en, const char *uid, json_t *obj)
{
	if (!en) {
		if (ag->tab.n >= AGENT_MAX_ENTRIES) {
			log_warn(
			    "more than %d unfinished PodVolumeBackups on this node; uid %s waits",
			    AGENT_MAX_ENTRIES, uid);
			return;
		}
		if (ptab_add(&ag->tab, uid, &en) < 0)
			return; /* the next re-list brings it back */
	}
	json_decref(en->obj);
	en->obj = json_incref(obj);
	en->seen = true;
}

/* Runs in the watch thread. Objects of other nodes are never kept. */
static void on_event(void *ud, enum watch_kind kind, json_t *obj)
{
	struct agent *ag = ud;
	struct pentry *en, *next;
	struct pvb p;

	pthread_mutex_lock(&ag->lock);
	ag->failing_since = 0;
	if (kind == WATCH_SYNC_BEGIN) {
		for (en = ptab_next(&ag->tab, NULL); en; en = ptab_next(&ag->tab, en))
			en->seen = false;
	} else if (kind == WATCH_SYNC_END) {
		/* Objects missing from a full list were deleted while we were not watching. */
		for (en = ptab_next(&ag->tab, NULL); en; en = next) {
			next = ptab_next(&ag->tab, en);
			if (en->seen)
				continue;
			if (en->job)
				en->gone = true;
			else
				drop(ag, en);
		}
		ag->synced = true;
	} else if (pvb_parse(obj, &p) == 0 && p.uid && strcmp(p.node, ag->ctx.cfg->node) == 0) {
		en = ptab_find(&ag->tab, p.uid);
		if (kind == WATCH_DELETED) {
			if (en && en->job)
				en->gone = true;
			else if (en)
				drop(ag, en);
		} else if (pvb_terminal(p.phase) && !(en && en->job)) {
			if (en)
				drop(ag, en);
		} else {
			upsert(ag, en, p.uid, obj);
		}
	}
	pthread_mutex_unlock(&ag->lock);
	agent_wake(&ag->wake);
}

static bool watch_stop(void *ud)
{
	return agent_stopping();
}

static void watch_note(void *ud, enum watch_note level, const char *msg)
{
	struct agent *ag = ud;

	pthread_mutex_lock(&ag->lock);
	if (level == WATCH_NOTE_WARN && !ag->failing_since)
		ag->failing_since = mono_sec();
	else if (level == WATCH_NOTE_INFO)
		ag->failing_since = 0;
	pthread_mutex_unlock(&ag->lock);
	if (level == WATCH_NOTE_WARN)
		log_warn("%s", msg);
	else
		log_info("%s", msg);
}

/* Under the lock: what /healthz says about the watch. */
static void health(struct agent *ag)
{
	time_t now = mono_sec();
	bool ok = ag->synced
	              ? !ag->failing_since || now - ag->failing_since < AGENT_WATCH_UNHEALTHY_SEC
	              : now - ag->started < AGENT_WATCH_UNHEALTHY_SEC;

	metrics_healthy(ag->ctx.metrics, ok);
}

static void *watch_main(void *ud)
{
	struct agent *ag = ud;
	struct watch_params wp = {
		.collection = ag->ctx.collection,
		.timeout_sec = 300,
		.fn = on_event,
		.ud = ag,
		.stop = watch_stop,
		.note = watch_note,
		.note_ud = ag,
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

/* Under the lock: reap a finished job; remember an end the server refused to record. */
static void reap(struct agent *ag, struct pentry *en)
{
	if (!en->job || !job_done(en->job))
		return;
	en->gave_up = job_gave_up(en->job);
	job_free(en->job);
	en->job = NULL;
	ag->running--;
}

/* Decide, under the lock, what the main thread does next; the API calls happen outside.
 * Start-up leftovers (this node's, in this API group only): Accepted ones are claimed
 * again, InProgress ones go to recover[] to be failed with a message. */
static void dispatch(struct agent *ag, json_t **recover, size_t *n_recover, size_t max_recover)
{
	const struct agent_config *cfg = ag->ctx.cfg;
	struct pentry *en, *next;
	bool first = !ag->recovered;

	/* Nothing before the first full list: start-up must see every leftover first. */
	if (!ag->synced)
		return;
	for (en = ptab_next(&ag->tab, NULL); en; en = next) {
		struct pvb p;

		next = ptab_next(&ag->tab, en);
		reap(ag, en);
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
		if (en->gave_up || en->gone) {
			if (en->gone)
				drop(ag, en);
			continue;
		}
		if (first && p.phase == PVB_ACCEPTED)
			en->resume = true;
		if (p.phase != PVB_NEW && !(en->resume && p.phase == PVB_ACCEPTED)) {
			/* The watch may not have shown the job's own writes yet: forget the
			 * entry and let the next event bring back the real state. */
			if (first && p.phase == PVB_IN_PROGRESS && *n_recover < max_recover)
				recover[(*n_recover)++] = json_incref(en->obj);
			drop(ag, en);
			continue;
		}
		if (ag->running >= cfg->concurrency && !p.cancel)
			continue;
		if (job_start(&ag->ctx, en->obj, en->resume, &en->job) == 0)
			ag->running++;
		en->resume = false;
	}
	ag->recovered = true;
}

static void main_loop(struct agent *ag, struct kube *k)
{
	json_t *recover[64];
	size_t n_recover, i;

	while (!agent_stopping()) {
		n_recover = 0;
		agent_wake_wait(&ag->wake, AGENT_IDLE_MS);
		pthread_mutex_lock(&ag->lock);
		dispatch(ag, recover, &n_recover, ELEMENTSOF(recover));
		health(ag);
		pthread_mutex_unlock(&ag->lock);
		for (i = 0; i < n_recover; i++) {
			job_recover(&ag->ctx, k, recover[i]);
			json_decref(recover[i]);
		}
		restorer_tick(ag->restorer, k);
		repocache_expire(ag->ctx.rcache);
	}
}

static void shutdown_jobs(struct agent *ag)
{
	struct pentry *en;

	pthread_mutex_lock(&ag->lock);
	for (en = ptab_next(&ag->tab, NULL); en; en = ptab_next(&ag->tab, en))
		if (en->job)
			job_cancel(en->job, true);
	pthread_mutex_unlock(&ag->lock);
	for (en = ptab_next(&ag->tab, NULL); en; en = ptab_next(&ag->tab, en)) {
		job_free(en->job); /* joins: each job records its end first */
		en->job = NULL;
	}
}

/* Fail loudly at start when --host-pods is not this node's kubelet pods folder: every
 * running pod of the node must have its <uid> folder there. */
static int check_host_pods(struct agent *ag, struct kube *k, struct err *e)
{
	char sel[300], q[400], path[512];
	json_t *list = NULL;
	size_t n = 0;
	int r;

	snprintf(sel, sizeof(sel), "spec.nodeName=%s", ag->ctx.cfg->node);
	r = kube_query_escape(sel, q, sizeof(q));
	if (r < 0)
		return err_set(e, r, "node name too long");
	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=%s", q);
	r = kube_get(k, path, &list, e);
	if (r < 0)
		return err_wrap(e, r, "pods of node %s", ag->ctx.cfg->node);
	r = kubelet_check_pods(ag->ctx.cfg->host_pods, json_object_get(list, "items"), &n, e);
	json_decref(list);
	if (r == 0)
		log_info("kubelet pods folder %s: %zu running pods of node %s found there",
		         ag->ctx.cfg->host_pods, n, ag->ctx.cfg->node);
	return r;
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
	agent_wake_init(&ag.wake);
	ag.ctx.wake = &ag.wake;
	r = kcfg_load(cfg->kubeconfig, &ag.ctx.kc, e);
	if (r < 0)
		goto fail;
	ag.ctx.ns = cfg->ns && cfg->ns[0] ? cfg->ns : ag.ctx.kc.ns;
	snprintf(ag.ctx.collection, sizeof(ag.ctx.collection),
	         CAIRN_API "/namespaces/%s/podvolumebackups", ag.ctx.ns);
	ptab_init(&ag.tab);
	ag.started = mono_sec();
	r = kube_new(&ag.ctx.kc, &k);
	if (r < 0)
		goto fail;
	r = check_host_pods(&ag, k, e);
	if (r < 0)
		goto fail;
	r = metrics_start(cfg->metrics_address, &ag.ctx.metrics, e);
	if (r < 0)
		goto fail;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = repocache_new(&ag.ctx.rcache);
	if (r < 0)
		goto fail;
	r = restorer_start(&ag.ctx, &ag.restorer, e);
	if (r < 0)
		goto fail;
	r = -pthread_create(&watcher, NULL, watch_main, &ag);
	if (r < 0) {
		err_set(e, r, "cannot start the watch thread");
		goto fail;
	}
	watching = true;
	log_info("cairn agent on node %s: watching %s at %s (concurrency %d)", cfg->node,
	         ag.ctx.collection, ag.ctx.kc.server, cfg->concurrency);
	if (ag.ctx.metrics)
		log_info("metrics and /healthz on port %u", metrics_port(ag.ctx.metrics));
	main_loop(&ag, k);
	log_info("stopping: ending running backups; running restores resume at the next start");
	r = 0;
fail:
	agent_stop();
	if (watching)
		pthread_join(watcher, NULL);
	shutdown_jobs(&ag);
	restorer_free(ag.restorer);
	repocache_free(ag.ctx.rcache); /* after the restores that put into it: wipes its key */
	ptab_release(&ag.tab);
	metrics_stop(ag.ctx.metrics);
	kube_free(k);
	kcfg_release(&ag.ctx.kc);
	agent_wake_release(&ag.wake);
	pthread_mutex_destroy(&ag.lock);
	curl_global_cleanup();
	return r;
}
