/* Owns the agent's side of restores: a watch of the PodVolumeRestores (which, unlike
 * backups, name no node: the target pod's node decides), the table of unfinished ones this
 * node may take, and the decisions of when to claim, resume, cancel and reap. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/log.h"

#define RESTORER_MAX_ENTRIES 100000
/* How often a waiting PVR's target pod is looked at (one GET each). */
#define RESTORER_CHECK_SEC 1
#define RESTORER_BATCH     64

struct restorer {
	const struct agent_ctx *a;
	char collection[512];
	pthread_mutex_t lock;
	struct ptab tab;
	bool synced, recovered, watching;
	int running;
	pthread_t watcher;
};

static time_t mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Under the lock. A PodVolumeRestore pvr_parse refuses (a name that is not a DNS name,
 * a snapshot that is not an id) is never run; it is kept in the table only so the log says
 * so once per object instead of at every re-list, and leaves with the next re-list that
 * does not bring it. Its names are not printed: they are what failed the check. */
static bool uid_printable(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return false;
	return true;
}

static void on_refused(struct restorer *rs, enum watch_kind kind, const json_t *obj)
{
	const char *uid =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
	struct pentry *en;

	if (!uid_printable(uid))
		return;
	en = ptab_find(&rs->tab, uid);
	if (kind == WATCH_DELETED) {
		if (en && !en->rjob)
			ptab_del(&rs->tab, en);
		return;
	}
	if (!en && (rs->tab.n >= RESTORER_MAX_ENTRIES || ptab_add(&rs->tab, uid, &en) < 0))
		return;
	en->seen = true;
	if (!en->refused)
		log_warn("restores: PodVolumeRestore uid %s ignored: its pod, namespace, volume "
		         "or location is not a valid name, or its snapshot is not an id",
		         uid);
	en->refused = true;
}

static void on_object(struct restorer *rs, enum watch_kind kind, json_t *obj)
{
	const char *node = rs->a->cfg->node;
	struct pentry *en;
	struct pvr p;

	if (pvr_parse(obj, &p) < 0)
		return on_refused(rs, kind, obj);
	if (!p.uid)
		return;
	en = ptab_find(&rs->tab, p.uid);
	if (en)
		en->refused = false; /* edited into a valid object */
	if (kind == WATCH_DELETED || pvb_terminal(p.phase) ||
	    (p.node && strcmp(p.node, node) != 0)) {
		if (en && en->rjob)
			en->gone = kind == WATCH_DELETED || en->gone;
		else if (en)
			ptab_del(&rs->tab, en);
		return;
	}
	if (!en) {
		struct timespec ts;

		if (rs->tab.n >= RESTORER_MAX_ENTRIES || ptab_add(&rs->tab, p.uid, &en) < 0)
			return; /* the next re-list brings it back */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		en->seen_at = ts.tv_sec + ts.tv_nsec / 1e9;
	}
	json_decref(en->obj);
	en->obj = json_incref(obj);
	en->seen = true;
}

static void on_event(void *ud, enum watch_kind kind, json_t *obj)
{
	struct restorer *rs = ud;
	struct pentry *en, *next;

	pthread_mutex_lock(&rs->lock);
	if (kind == WATCH_SYNC_BEGIN) {
		for (en = ptab_next(&rs->tab, NULL); en; en = ptab_next(&rs->tab, en))
			en->seen = false;
	} else if (kind == WATCH_SYNC_END) {
		for (en = ptab_next(&rs->tab, NULL); en; en = next) {
			next = ptab_next(&rs->tab, en);
			if (en->seen)
				continue;
			if (en->rjob)
				en->gone = true;
			else
				ptab_del(&rs->tab, en);
		}
		rs->synced = true;
	} else {
		on_object(rs, kind, obj);
	}
	pthread_mutex_unlock(&rs->lock);
	agent_wake(rs->a->wake);
}

static bool watch_stop(void *ud)
{
	return agent_stopping();
}

static void watch_note(void *ud, enum watch_note level, const char *msg)
{
	if (level == WATCH_NOTE_WARN)
		log_warn("restores: %s", msg);
	else
		log_info("restores: %s", msg);
}

static void *watch_main(void *ud)
{
	struct restorer *rs = ud;
	struct watch_params wp = {
		.collection = rs->collection,
		.timeout_sec = 300,
		.fn = on_event,
		.ud = rs,
		.stop = watch_stop,
		.note = watch_note,
	};
	struct err e = ERR_INIT;
	struct kube *k = NULL;

	if (kube_new(&rs->a->kc, &k) < 0) {
		log_error("cannot create the API client for the restore watch");
		agent_stop();
		return NULL;
	}
	if (watch_run(k, &wp, &e) < 0)
		log_error("restore watch ended: %s", e.msg);
	kube_free(k);
	return NULL;
}

int restorer_start(const struct agent_ctx *a, struct restorer **ret, struct err *e)
{
	struct restorer *rs = calloc(1, sizeof(*rs));
	int r;

	if (!rs)
		return -ENOMEM;
	rs->a = a;
	snprintf(rs->collection, sizeof(rs->collection),
	         CAIRN_API "/namespaces/%s/podvolumerestores", a->ns);
	pthread_mutex_init(&rs->lock, NULL);
	ptab_init(&rs->tab);
	r = -pthread_create(&rs->watcher, NULL, watch_main, rs);
	if (r < 0) {
		pthread_mutex_destroy(&rs->lock);
		free(rs);
		return err_set(e, r, "cannot start the restore watch thread");
	}
	rs->watching = true;
	*ret = rs;
	return 0;
}

struct cand {
	char uid[128];
	json_t *obj;
};

/* Under the lock: reap, cancel, resume; PVRs waiting for their pod go to c[]. */
static size_t plan(struct restorer *rs, struct cand *c, size_t max)
{
	const char *node = rs->a->cfg->node;
	struct pentry *en, *next;
	bool first = !rs->recovered;
	time_t now = mono_sec();
	size_t n = 0;
	struct pvr p;

	for (en = ptab_next(&rs->tab, NULL); en; en = next) {
		next = ptab_next(&rs->tab, en);
		if (en->rjob && rjob_done(en->rjob)) {
			bool lost = rjob_lost(en->rjob);

			rjob_free(en->rjob);
			en->rjob = NULL;
			rs->running--;
			/* Its copy may still say New when the watch has not brought the
			 * winner's write yet: claiming it again would only lose again. */
			if (lost) {
				ptab_del(&rs->tab, en);
				continue;
			}
		}
		if (en->refused || pvr_parse(en->obj, &p) < 0)
			continue; /* an rjob running from an earlier valid object ends by itself */
		if (en->rjob) {
			if (p.cancel || p.deleting || en->gone)
				rjob_cancel(en->rjob, false);
			continue;
		}
		if (en->gone) {
			ptab_del(&rs->tab, en);
			continue;
		}
		/* Claimed by this node in an earlier process (kill -9, OOM, upgrade): the pod
		 * still waits for the data, so the restore runs again from the start. */
		if (first && p.phase != PVB_NEW && p.node && strcmp(p.node, node) == 0)
			en->resume = true;
		if (en->resume) {
			/* Through the pod check too: a helper pod re-created after the
			 * restart may not have its volume folder yet (restorer_tick). */
			if (now < en->next_check || n == max)
				continue;
			en->next_check = now + RESTORER_CHECK_SEC;
			snprintf(c[n].uid, sizeof(c[n].uid), "%s", en->uid);
			c[n++].obj = json_incref(en->obj);
			continue;
		}
		if (p.phase != PVB_NEW) {
			/* Our own job's writes, or another node's claim: the next event says. */
			ptab_del(&rs->tab, en);
			continue;
		}
		if (now < en->next_check || n == max ||
		    (rs->running >= rs->a->cfg->concurrency && !p.cancel))
			continue;
		en->next_check = now + RESTORER_CHECK_SEC;
		snprintf(c[n].uid, sizeof(c[n].uid), "%s", en->uid);
		c[n++].obj = json_incref(en->obj);
	}
	rs->recovered = true;
	return n;
}

/* Outside the lock: is the PVR's target pod here and ready? A cancelled one is taken as
 * soon as its pod is on this node, to end it Canceled. */
static bool ours(struct restorer *rs, struct kube *k, const json_t *obj)
{
	struct err e = ERR_INIT;
	json_t *pod = NULL;
	char path[1024];
	const char *on;
	bool yes = false;
	struct pvr p;

	if (pvr_parse(obj, &p) < 0)
		return false;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p.pod_ns, p.pod_name);
	if (kube_get(k, path, &pod, &e) < 0)
		return false; /* not created yet, or gone: looked at again later */
	on = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	if (p.cancel)
		yes = on && strcmp(on, rs->a->cfg->node) == 0;
	else
		yes = pvr_pod_ready(pod, rs->a->cfg->node);
	json_decref(pod);
	return yes;
}

/* Outside the lock: may a restore this node had claimed run again now? Not while its pod
 * is unscheduled or here but not ready (its claim may be unbound, its volume folder not
 * there yet); at once when it is ready, and also when the pod is gone or on another node,
 * so the restore ends with that message instead of waiting for a pod that will not come. */
static bool resume_now(struct restorer *rs, struct kube *k, const json_t *obj)
{
	struct err e = ERR_INIT;
	json_t *pod = NULL;
	char path[1024];
	const char *on;
	bool yes;
	struct pvr p;

	if (pvr_parse(obj, &p) < 0)
		return false;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p.pod_ns, p.pod_name);
	if (kube_get(k, path, &pod, &e) < 0)
		return e.code == -ENOENT;
	on = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	/* Not scheduled yet (a helper pod the controller re-created) counts as coming. */
	yes = p.cancel || (on && strcmp(on, rs->a->cfg->node) != 0) ||
	      pvr_pod_ready(pod, rs->a->cfg->node);
	json_decref(pod);
	return yes;
}

void restorer_tick(struct restorer *rs, struct kube *k)
{
	struct cand c[RESTORER_BATCH];
	struct pentry *en;
	size_t n, i;

	pthread_mutex_lock(&rs->lock);
	n = rs->synced ? plan(rs, c, ELEMENTSOF(c)) : 0;
	pthread_mutex_unlock(&rs->lock);
	for (i = 0; i < n; i++) {
		bool resume, go;

		pthread_mutex_lock(&rs->lock);
		en = ptab_find(&rs->tab, c[i].uid);
		resume = en && en->resume;
		pthread_mutex_unlock(&rs->lock);
		go = resume ? resume_now(rs, k, c[i].obj) : ours(rs, k, c[i].obj);
		pthread_mutex_lock(&rs->lock);
		en = ptab_find(&rs->tab, c[i].uid);
		if (go && en && !en->rjob && !en->gone &&
		    rjob_start(rs->a, en->obj, resume, en->seen_at, &en->rjob) == 0) {
			rs->running++;
			en->resume = false;
		}
		pthread_mutex_unlock(&rs->lock);
		json_decref(c[i].obj);
	}
}

void restorer_free(struct restorer *rs)
{
	struct pentry *en;

	if (!rs)
		return;
	if (rs->watching)
		pthread_join(rs->watcher, NULL);
	for (en = ptab_next(&rs->tab, NULL); en; en = ptab_next(&rs->tab, en))
		if (en->rjob)
			rjob_cancel(en->rjob, true);
	for (en = ptab_next(&rs->tab, NULL); en; en = ptab_next(&rs->tab, en)) {
		rjob_free(en->rjob);
		en->rjob = NULL;
	}
	ptab_release(&rs->tab);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}
