/* Owns a Backup's life from New to a final phase: validation, choosing pod volumes,
 * creating their PodVolumeBackups (Velero's shape), and adding up their outcome. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* After a timeout cancels a pod's volumes, how long their agents get to stop reading
 * before the pod's post hooks run anyway. */
#define HOOK_CANCEL_GRACE_SEC 60

static bool phase_is(const char *p, const char *want)
{
	return p && strcmp(p, want) == 0;
}

static bool terminal_backup(const char *p)
{
	return phase_is(p, "Completed") || phase_is(p, "PartiallyFailed") ||
	       phase_is(p, "Failed") || phase_is(p, "FailedValidation");
}

static bool terminal_pvb(const char *p)
{
	return phase_is(p, "Completed") || phase_is(p, "Failed") || phase_is(p, "Canceled");
}

/* A message on a Completed PodVolumeBackup other than "the volume was empty" says some
 * files could not be read: the volume is PartiallyFailed, never Completed. */
static bool partial_pvb(const json_t *pvb)
{
	const json_t *st = json_object_get(pvb, "status");
	const char *msg = ctl_jstr(st, "message");

	return phase_is(ctl_jstr(st, "phase"), "Completed") && msg && *msg &&
	       strcmp(msg, CTL_PVB_EMPTY_MSG) != 0;
}

static const char *const detail_keys[] = { "warningMessages", "errorMessages", "podVolumes",
	                                   "hooks" };

/* The status with the detail annotation folded back in. */
static json_t *status_of(const json_t *b)
{
	const json_t *ann = json_object_get(json_object_get(b, "metadata"), "annotations");
	const char *txt = ctl_jstr(ann, CTL_ANN_DETAIL);
	json_t *s = json_object_get(b, "status"), *d = txt ? json_loads(txt, 0, NULL) : NULL;

	s = json_is_object(s) ? json_deep_copy(s) : json_object();
	if (s && json_is_object(d))
		for (size_t i = 0; i < sizeof(detail_keys) / sizeof(detail_keys[0]); i++)
			if (json_object_get(d, detail_keys[i]))
				json_object_set(s, detail_keys[i],
				                json_object_get(d, detail_keys[i]));
	json_decref(d);
	return s;
}

/* Write status (stolen): the fields the CRD's status schema has go to the status, the
 * rest into the detail annotation, written first. */
static int put_status(struct ctl *c, const char *path, json_t *status, struct err *e)
{
	json_t *d = json_object(), *patch;
	char *txt;
	int r;

	if (!d) {
		json_decref(status);
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(detail_keys) / sizeof(detail_keys[0]); i++) {
		json_t *v = json_object_get(status, detail_keys[i]);

		if (v) {
			json_object_set(d, detail_keys[i], v);
			json_object_del(status, detail_keys[i]);
		}
	}
	txt = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	patch =
	    txt ? json_pack("{s:{s:{s:s}}}", "metadata", "annotations", CTL_ANN_DETAIL, txt) : NULL;
	free(txt);
	if (!patch) {
		json_decref(status);
		return -ENOMEM;
	}
	r = kube_patch_merge(c->k, path, patch, NULL, e);
	json_decref(patch);
	if (r < 0) {
		json_decref(status);
		return r;
	}
	return ctl_status_put(c, path, status, e);
}

static void vadd(json_t *status, const char *list, const char *count, const char *fmt, va_list ap)
    _printf_(4, 0);
static void vadd(json_t *status, const char *list, const char *count, const char *fmt, va_list ap)
{
	json_t *a = json_object_get(status, list);
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(status, list, a);
	}
	json_array_append_new(a, json_string(msg));
	json_object_set_new(status, count, json_integer((json_int_t)json_array_size(a)));
}

static void add_msg(json_t *status, const char *list, const char *count, const char *fmt, ...)
    _printf_(4, 5);
static void add_msg(json_t *status, const char *list, const char *count, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(status, list, count, fmt, ap);
	va_end(ap);
}

void ctl_status_add(json_t *status, bool error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(status, error ? "errorMessages" : "warningMessages", error ? "errors" : "warnings",
	     fmt, ap);
	va_end(ap);
}

static void set_time(json_t *status, const char *k, time_t t)
{
	char ts[32];

	ctl_timestamp(t, ts);
	json_object_set_new(status, k, json_string(ts));
}

/* ---- validation ---- */

struct plan {
	int64_t ttl, timeout;
	char selector[4096];
	const json_t *loc;
};

static int validate(struct ctl *c, const json_t *b, struct plan *p, struct err *e)
{
	const json_t *spec = json_object_get(b, "spec");
	const json_t *ann = json_object_get(json_object_get(b, "metadata"), "annotations");
	const char *ttl = ctl_jstr(spec, "ttl"), *tmo = ctl_jstr(ann, CTL_ANN_TIMEOUT);
	const char *locname = ctl_jstr(spec, "storageLocation");
	const json_t *lst;
	int r;

	p->ttl = c->cfg->default_ttl_sec;
	p->timeout = c->cfg->backup_timeout_sec;
	if (ttl && *ttl && ctl_duration_parse(ttl, &p->ttl) < 0)
		return err_set(e, -EINVAL, "spec.ttl '%s' is not a duration (like 720h0m0s)", ttl);
	if (tmo && *tmo && (ctl_duration_parse(tmo, &p->timeout) < 0 || p->timeout < 1))
		return err_set(e, -EINVAL, "annotation %s '%s' is not a duration", CTL_ANN_TIMEOUT,
		               tmo);
	r = ctl_selector_string(json_object_get(spec, "labelSelector"), p->selector,
	                        sizeof(p->selector), e);
	if (r < 0)
		return r;
	p->loc = ctl_location(c, locname);
	if (!p->loc)
		return err_set(e, -ENOENT, "backup storage location '%s' does not exist",
		               locname && *locname ? locname : "(default)");
	locname = ctl_meta(p->loc, "name");
	if (phase_is(ctl_jstr(json_object_get(p->loc, "spec"), "accessMode"), "ReadOnly"))
		return err_set(e, -EROFS,
		               "backup storage location '%s' is ReadOnly: no backup can "
		               "be written there",
		               locname);
	lst = json_object_get(p->loc, "status");
	if (phase_is(ctl_jstr(lst, "phase"), "Unavailable"))
		return err_set(e, -EHOSTDOWN, "backup storage location '%s' is Unavailable: %s",
		               locname, ctl_jstr(lst, "message") ? ctl_jstr(lst, "message") : "");
	return 0;
}

/* ---- choosing volumes and creating PodVolumeBackups ---- */

struct sel {
	struct ctl *c;
	const json_t *b;
	const struct plan *p;
	json_t *status;
	json_t *existing; /* PVBs of this backup already created */
	json_t *agents;   /* node name -> true */
	json_t *pvcs;     /* "ns/name" -> PVC object */
	const char *pod_ns;
	size_t total, not_started;
};

static json_t *pvc_of(struct sel *s, const char *ns, const char *claim)
{
	char key[600], path[1024];
	json_t *pvc = NULL;
	struct err e = ERR_INIT;

	snprintf(key, sizeof(key), "%s/%s", ns, claim);
	if (json_object_get(s->pvcs, key))
		return json_object_get(s->pvcs, key);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns, claim);
	if (kube_get(s->c->k, path, &pvc, &e) < 0)
		pvc = json_null();
	json_object_set_new(s->pvcs, key, pvc);
	return pvc;
}

static bool pvc_block(void *ud, const char *claim)
{
	struct sel *s = ud;
	const json_t *pvc = pvc_of(s, s->pod_ns, claim);

	return phase_is(ctl_jstr(json_object_get(pvc, "spec"), "volumeMode"), "Block");
}

static bool exists(const struct sel *s, const char *pod_uid, const char *vol)
{
	const json_t *pvb;
	size_t i;

	json_array_foreach(s->existing, i, pvb)
	{
		const json_t *spec = json_object_get(pvb, "spec");

		if (phase_is(ctl_jstr(json_object_get(spec, "pod"), "uid"), pod_uid) &&
		    phase_is(ctl_jstr(spec, "volume"), vol))
			return true;
	}
	return false;
}

/* The claim's spec as a restore into an empty cluster needs it. */
static char *pvc_spec(const json_t *pvc)
{
	const json_t *spec = json_object_get(pvc, "spec");
	json_t *o = json_pack(
	    "{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "storageClassName",
	    json_object_get(spec, "storageClassName"), "accessModes",
	    json_object_get(spec, "accessModes"), "volumeMode", json_object_get(spec, "volumeMode"),
	    "resources", json_object_get(spec, "resources"), "labels",
	    json_object_get(json_object_get(pvc, "metadata"), "labels"), "capacity",
	    json_object_get(json_object_get(pvc, "status"), "capacity"));
	char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return txt;
}

static int create_pvb(struct sel *s, const json_t *pod, const struct ctl_volume *v, struct err *e)
{
	const char *bname = ctl_meta(s->b, "name"), *buid = ctl_meta(s->b, "uid");
	const char *pns = ctl_meta(pod, "namespace"), *pname = ctl_meta(pod, "name");
	const char *puid = ctl_meta(pod, "uid");
	const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");
	const json_t *pvc = v->pvc[0] ? pvc_of(s, pns, v->pvc) : NULL;
	const char *pvc_uid = pvc ? ctl_meta(pvc, "uid") : NULL;
	char gen[300], path[1024], *spec_txt = NULL;
	json_t *obj, *labels, *ann, *tags;
	int r;

	snprintf(gen, sizeof(gen), "%.240s-", bname);
	labels = json_pack("{s:s,s:s}", CTL_LABEL_BACKUP, bname, CTL_LABEL_BACKUP_ID, buid);
	tags = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "backup", bname, "backup-uid", buid, "ns",
	                 pns, "pod", pname, "pod-uid", puid, "volume", v->name);
	ann = json_object();
	if (!labels || !tags || !ann) {
		r = -ENOMEM;
		goto fail;
	}
	if (pvc_uid) {
		json_object_set_new(labels, CTL_LABEL_PVC_UID, json_string(pvc_uid));
		json_object_set_new(tags, "pvc-uid", json_string(pvc_uid));
	}
	if (v->pvc[0]) {
		json_object_set_new(ann, CTL_ANN_PVC_NAME, json_string(v->pvc));
		if (pvc && !json_is_null(pvc) && (spec_txt = pvc_spec(pvc)))
			json_object_set_new(ann, CTL_ANN_PVC_SPEC, json_string(spec_txt));
	}
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:o,s:o,s:[{s:s,s:s,s:s,s:s,s:b}]},"
	                "s:{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s},s:o}}",
	                "apiVersion", CTL_API, "kind", "PodVolumeBackup", "metadata",
	                "generateName", gen, "namespace", s->c->ns, "labels", labels, "annotations",
	                ann, "ownerReferences", "apiVersion", CTL_API, "kind", "Backup", "name",
	                bname, "uid", buid, "controller", 1, "spec", "node", node, "volume",
	                v->name, "backupStorageLocation", ctl_meta(s->p->loc, "name"),
	                "uploaderType", "cairn", "pod", "kind", "Pod", "namespace", pns, "name",
	                pname, "uid", puid, "tags", tags);
	labels = ann = tags = NULL;
	free(spec_txt);
	if (!obj)
		return -ENOMEM;
	r = ctl_path(s->c, "podvolumebackups", NULL, path, sizeof(path));
	if (r == 0)
		r = kube_create(s->c->k, path, obj, NULL, e);
	json_decref(obj);
	return r;
fail:
	json_decref(labels);
	json_decref(tags);
	json_decref(ann);
	return r;
}

static bool ns_wanted(const json_t *spec, const char *ns)
{
	const json_t *inc = json_object_get(spec, "includedNamespaces");
	const json_t *exc = json_object_get(spec, "excludedNamespaces"), *v;
	bool in = json_array_size(inc) == 0;
	size_t i;

	json_array_foreach(inc, i, v) if (phase_is(json_string_value(v), "*") ||
	                                  phase_is(json_string_value(v), ns)) in = true;
	json_array_foreach(exc, i, v) if (phase_is(json_string_value(v), ns)) in = false;
	return in;
}

/* A pod whose volumes wait for its pre hooks: its PodVolumeBackups are created only once
 * they returned (ctl_hooks_par), so every volume is read strictly after them. */
struct waiting {
	const json_t *pod; /* borrowed from start's pod list */
	struct ctl_volume *v;
	size_t n;
};

/* The pod's pre hooks into *ret (an empty array when it has none, or when a PVB of the pod
 * exists: they succeeded before a restart and only the first start runs them); the post
 * hooks owed for later. 0, or -EIO with why in msg for a malformed hook: the pod's volumes
 * are then not read. */
static int pod_hooks(struct sel *s, const json_t *pod, bool started, json_t **ret, char *msg,
                     size_t n, struct err *e)
{
	const json_t *spec_hooks = json_object_get(json_object_get(s->b, "spec"), "hooks");
	json_t *pre = NULL, *post = NULL;
	int r = 0, rp;

	/* A malformed post hook is reported when it would have run. */
	rp = ctl_hooks_of(pod, spec_hooks, "post", &post, e);
	err_clear(e);
	if (rp < 0 || json_array_size(post))
		r = ctl_hooks_owe(s->status, pod);
	if (r < 0 || started)
		goto fail;
	r = ctl_hooks_of(pod, spec_hooks, "pre", &pre, e);
	if (r == -EINVAL) {
		snprintf(msg, n, "%s", e->msg);
		err_clear(e);
		r = -EIO;
	}
fail:
	json_decref(post);
	if (r == 0 && !pre)
		pre = json_array();
	if (r == 0 && !pre)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(pre);
		pre = NULL;
	}
	*ret = pre;
	return r;
}

/* The pod's volumes once its pre hooks are behind it (hooks: 0 or -EIO with why). */
static int pod_volumes_start(struct sel *s, const json_t *pod, struct ctl_volume *v, size_t n,
                             int hooks, const char *why, struct err *e)
{
	const char *pns = ctl_meta(pod, "namespace"), *pname = ctl_meta(pod, "name");
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (v[i].skipped)
			continue;
		if (hooks == -EIO) {
			s->not_started++;
			add_msg(s->status, "errorMessages", "errors", "pod %s/%s volume %s: %s",
			        pns, pname, v[i].name, why);
			continue;
		}
		r = create_pvb(s, pod, &v[i], e);
	}
	return r;
}

/* Choose the pod's volumes; start them now when it has no pre hook to run, else add it
 * to *w (s->waiting) with its hooks in a job of jobs. */
static int select_pod(struct sel *s, const json_t *pod, struct waiting *w, struct ctl_hookjob *job,
                      bool *queued, struct err *e)
{
	const json_t *spec = json_object_get(s->b, "spec");
	const char *pns = ctl_meta(pod, "namespace"), *pname = ctl_meta(pod, "name");
	const char *pphase = ctl_jstr(json_object_get(pod, "status"), "phase");
	const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");
	struct ctl_volume *v = NULL;
	json_t *pre = NULL;
	size_t n = 0, i, make = 0, have = 0;
	char why[1024] = "";
	int r, hooks = 0;

	*queued = false;
	if (!pns || !ns_wanted(spec, pns))
		return 0;
	s->pod_ns = pns;
	r = ctl_pod_volumes(pod, json_is_true(json_object_get(spec, "defaultVolumesToFsBackup")),
	                    pvc_block, s, &v, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (v[i].skipped) {
			add_msg(s->status, "warningMessages", "warnings",
			        "pod %s/%s volume %s skipped: %s", pns, pname, v[i].name,
			        v[i].reason);
			continue;
		}
		if (!phase_is(pphase, "Running")) {
			add_msg(s->status, "warningMessages", "warnings",
			        "pod %s/%s is not running (%s): volume %s skipped", pns, pname,
			        pphase ? pphase : "no phase", v[i].name);
			v[i].skipped = true;
			continue;
		}
		s->total++;
		if (exists(s, ctl_meta(pod, "uid"), v[i].name)) {
			have++;
			v[i].skipped = true;
			continue;
		}
		if (!node || !json_object_get(s->agents, node)) {
			/* Fail fast: nobody would ever pick the PodVolumeBackup up. */
			s->not_started++;
			add_msg(s->status, "errorMessages", "errors",
			        "pod %s/%s volume %s: no cairn node agent runs on node %s", pns,
			        pname, v[i].name, node ? node : "(unscheduled)");
			v[i].skipped = true;
			continue;
		}
		make++;
	}
	/* Hooks only for pods whose volumes are read: they exist to make that read
	 * consistent. */
	if (make + have > 0)
		hooks = pod_hooks(s, pod, have > 0, &pre, why, sizeof(why), e);
	if (hooks < 0 && hooks != -EIO) {
		r = hooks;
		goto fail;
	}
	if (make && hooks == 0 && json_array_size(pre)) {
		w->pod = pod;
		w->v = v;
		w->n = n;
		job->pod = pod;
		job->hooks = pre;
		*queued = true;
		return 0;
	}
	if (make)
		r = pod_volumes_start(s, pod, v, n, hooks, why, e);
fail:
	json_decref(pre);
	free(v);
	return r < 0 ? r : 0;
}

struct pre_ctx {
	struct sel *s;
	struct waiting *w;
	struct err *e;
	int r; /* the first error creating a PodVolumeBackup: the rest are not created */
};

/* A pod's pre hooks returned: its volumes start now (or fail with the hook's reason). */
static int pre_done(void *ud, struct ctl_hookjob *j)
{
	struct pre_ctx *pc = ud;
	struct waiting *w = &pc->w[j->idx];

	ctl_hooks_merge(pc->s->status, j);
	if (j->r < 0 && j->r != -EIO)
		snprintf(j->msg, sizeof(j->msg), "pre hook not run: %s", strerror(-j->r));
	if (pc->r == 0)
		pc->r = pod_volumes_start(pc->s, w->pod, w->v, w->n, j->r < 0 ? -EIO : 0, j->msg,
		                          pc->e);
	return 0;
}

/* Every selected pod: volumes of pods without pre hooks start at once, the others as
 * their pre hooks return, many pods' hooks at once. */
static int select_pods(struct sel *s, const json_t *pods, struct err *e)
{
	size_t np = json_array_size(pods), nw = 0, i;
	struct waiting *w = calloc(np ? np : 1, sizeof(*w));
	struct ctl_hookjob *jobs = calloc(np ? np : 1, sizeof(*jobs));
	struct pre_ctx pc = { .s = s, .w = w, .e = e };
	const json_t *pod;
	int r = 0;

	if (!w || !jobs) {
		r = -ENOMEM;
		goto fail;
	}
	json_array_foreach(pods, i, pod)
	{
		bool queued;

		r = select_pod(s, pod, &w[nw], &jobs[nw], &queued, e);
		if (r < 0)
			break;
		if (queued) {
			jobs[nw].idx = nw;
			nw++;
		}
	}
	/* After an error the start is tried again on the next pass: no hook runs now. */
	if (r == 0 && nw) {
		r = ctl_hooks_par(s->c, jobs, nw, pre_done, &pc);
		if (r == 0)
			r = pc.r;
	}
fail:
	for (i = 0; w && i < nw; i++)
		free(w[i].v);
	free(w);
	ctl_hookjobs_free(jobs, nw);
	return r;
}

static int list_agents(struct ctl *c, json_t **ret, struct err *e)
{
	char path[1024];
	json_t *pods = NULL, *p, *nodes = json_object();
	size_t i;
	int r;

	if (!nodes)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", c->ns);
	r = ctl_list(c, path, c->cfg->agent_selector, &pods, e);
	if (r < 0) {
		json_decref(nodes);
		return r;
	}
	json_array_foreach(pods, i, p)
	{
		const char *node = ctl_jstr(json_object_get(p, "spec"), "nodeName");

		if (node && phase_is(ctl_jstr(json_object_get(p, "status"), "phase"), "Running"))
			json_object_set_new(nodes, node, json_true());
	}
	json_decref(pods);
	*ret = nodes;
	return 0;
}

static int pvbs_of(struct ctl *c, const json_t *b, json_t **ret, struct err *e)
{
	char path[1024], sel[512];

	if (ctl_path(c, "podvolumebackups", NULL, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	snprintf(sel, sizeof(sel), "%s=%s", CTL_LABEL_BACKUP_ID, ctl_meta(b, "uid"));
	return ctl_list(c, path, sel, ret, e);
}

static int start(struct ctl *c, json_t *b, const char *path)
{
	const json_t *spec = json_object_get(b, "spec");
	struct plan p = { 0 };
	struct sel s = { .c = c, .b = b, .p = &p };
	struct err e = ERR_INIT;
	json_t *pods = NULL;
	time_t now = ctl_now(c);
	int r;

	s.status = json_object();
	s.pvcs = json_object();
	if (!s.status || !s.pvcs) {
		r = -ENOMEM;
		goto fail;
	}
	r = validate(c, b, &p, &e);
	if (r < 0) {
		json_object_set_new(s.status, "phase", json_string("FailedValidation"));
		json_object_set_new(s.status, "validationErrors", json_pack("[s]", e.msg));
		set_time(s.status, "completionTimestamp", now);
		ctl_note(c, CTL_NOTE_WARN, "backup %s failed validation: %s", ctl_meta(b, "name"),
		         e.msg);
		ctl_metrics_backup(
		    c->m,
		    ctl_jstr(json_object_get(json_object_get(b, "metadata"), "labels"),
		             CTL_LABEL_SCHEDULE),
		    "FailedValidation", 0, 0, now);
		err_clear(&e);
		r = put_status(c, path, s.status, &e);
		s.status = NULL;
		goto fail;
	}
	r = list_agents(c, &s.agents, &e);
	if (r >= 0)
		r = pvbs_of(c, b, &s.existing, &e);
	if (r >= 0)
		r = ctl_list(c, "/api/v1/pods", p.selector, &pods, &e);
	if (r < 0)
		goto fail;
	r = select_pods(&s, pods, &e);
	if (r < 0)
		goto fail;
	json_object_set_new(s.status, "phase", json_string("InProgress"));
	set_time(s.status, "startTimestamp", now);
	set_time(s.status, "expiration", now + (time_t)p.ttl);
	json_object_set_new(s.status, "progress",
	                    json_pack("{s:I,s:I}", "totalItems", (json_int_t)s.total,
	                              "itemsBackedUp", (json_int_t)0));
	json_object_set_new(s.status, "podVolumes",
	                    json_pack("{s:I,s:I}", "total", (json_int_t)s.total, "notStarted",
	                              (json_int_t)s.not_started));
	if (s.total == 0)
		add_msg(s.status, "warningMessages", "warnings", "no pod volume was selected");
	ctl_note(c, CTL_NOTE_INFO, "backup %s started: %zu volumes (%zu could not start)",
	         ctl_meta(b, "name"), s.total, s.not_started);
	ctl_metrics_attempt(c->m,
	                    ctl_jstr(json_object_get(json_object_get(b, "metadata"), "labels"),
	                             CTL_LABEL_SCHEDULE));
	r = put_status(c, path, s.status, &e);
	s.status = NULL;
fail:
	if (r < 0 && e.msg[0])
		ctl_note(c, CTL_NOTE_WARN, "backup %s: %s", ctl_meta(b, "name"), e.msg);
	(void)spec;
	json_decref(s.status);
	json_decref(s.pvcs);
	json_decref(s.agents);
	json_decref(s.existing);
	json_decref(pods);
	return r;
}

/* ---- following the volumes ---- */

static int cancel_pvb(struct ctl *c, const json_t *pvb, struct err *e)
{
	char path[1024];
	json_t *patch = json_pack("{s:{s:b}}", "spec", "cancel", 1);
	int r;

	if (!patch)
		return -ENOMEM;
	r = ctl_path(c, "podvolumebackups", ctl_meta(pvb, "name"), path, sizeof(path));
	if (r == 0)
		r = kube_patch_merge(c->k, path, patch, NULL, e);
	json_decref(patch);
	return r;
}

static int follow(struct ctl *c, json_t *b, const char *path)
{
	const json_t *ann = json_object_get(json_object_get(b, "metadata"), "annotations");
	const char *tmo = ctl_jstr(ann, CTL_ANN_TIMEOUT);
	const char *sched =
	    ctl_jstr(json_object_get(json_object_get(b, "metadata"), "labels"), CTL_LABEL_SCHEDULE);
	json_t *status = status_of(b), *pvbs = NULL, *pvb, *pv, *old = json_deep_copy(status);
	struct err e = ERR_INIT;
	int64_t timeout = c->cfg->backup_timeout_sec;
	size_t i, done = 0, ok = 0, partial = 0, failed = 0, total, not_started;
	uint64_t bytes = 0, total_bytes = 0;
	time_t now = ctl_now(c), started = now;
	bool timed_out;
	char dur[32] = "";
	size_t owed;
	int r;

	if (!status)
		return -ENOMEM;
	if (tmo && *tmo && ctl_duration_parse(tmo, &timeout) < 0)
		timeout = c->cfg->backup_timeout_sec;
	if (ctl_time_parse(ctl_jstr(status, "startTimestamp"), &started) < 0)
		started = now;
	pv = json_object_get(status, "podVolumes");
	not_started = (size_t)json_integer_value(json_object_get(pv, "notStarted"));
	r = pvbs_of(c, b, &pvbs, &e);
	if (r < 0)
		goto fail;
	timed_out = now - started >= timeout;
	ctl_duration_format(timeout, dur);
	/* Rebuilt from scratch every pass: the error list is the start's plus this pass's. */
	json_array_foreach(pvbs, i, pvb)
	{
		const json_t *st = json_object_get(pvb, "status"),
		             *spec = json_object_get(pvb, "spec");
		const char *ph = ctl_jstr(st, "phase");

		(void)spec;
		bytes += (uint64_t)json_integer_value(
		    json_object_get(json_object_get(st, "progress"), "bytesDone"));
		total_bytes += (uint64_t)json_integer_value(
		    json_object_get(json_object_get(st, "progress"), "totalBytes"));
		if (terminal_pvb(ph)) {
			done++;
			if (partial_pvb(pvb)) {
				partial++;
			} else if (phase_is(ph, "Completed")) {
				ok++;
			} else {
				failed++;
			}
			continue;
		}
		if (!timed_out)
			continue;
		if (cancel_pvb(c, pvb, &e) < 0)
			ctl_note(c, CTL_NOTE_WARN, "cannot cancel %s: %s", ctl_meta(pvb, "name"),
			         e.msg);
		err_clear(&e);
		failed++;
		done++;
	}
	total = json_array_size(pvbs) + not_started;
	json_object_set_new(status, "progress",
	                    json_pack("{s:I,s:I}", "totalItems", (json_int_t)total, "itemsBackedUp",
	                              (json_int_t)(done + not_started)));
	json_object_set_new(status, "podVolumes",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "bytesDone",
	                              (json_int_t)bytes, "totalBytes", (json_int_t)total_bytes,
	                              "total", (json_int_t)total, "notStarted",
	                              (json_int_t)not_started, "completed", (json_int_t)ok,
	                              "partiallyFailed", (json_int_t)partial, "failed",
	                              (json_int_t)(failed + not_started), "inProgress",
	                              (json_int_t)(json_array_size(pvbs) - done)));
	/* Post hooks once a pod's volumes are all terminal; after a timeout, once the
	 * cancelled ones had a grace period to stop reading (an agent may be gone). */
	owed = ctl_hooks_post(c, b, status, pvbs,
	                      timed_out && now - started >= timeout + HOOK_CANCEL_GRACE_SEC);
	if (done == json_array_size(pvbs) && owed == 0) {
		const char *final;

		/* The messages of the volumes that did not complete, once, at the end. */
		json_array_foreach(pvbs, i, pvb)
		{
			const json_t *st = json_object_get(pvb, "status");
			const json_t *pod = json_object_get(json_object_get(pvb, "spec"), "pod");
			const char *ph = ctl_jstr(st, "phase"), *msg = ctl_jstr(st, "message");

			if (!terminal_pvb(ph))
				add_msg(status, "errorMessages", "errors",
				        "pod %s/%s volume %s: did not finish within %s",
				        ctl_jstr(pod, "namespace"), ctl_jstr(pod, "name"),
				        ctl_jstr(json_object_get(pvb, "spec"), "volume"), dur);
			else if (!phase_is(ph, "Completed") || partial_pvb(pvb))
				add_msg(
				    status, "errorMessages", "errors", "pod %s/%s volume %s: %s%s",
				    ctl_jstr(pod, "namespace"), ctl_jstr(pod, "name"),
				    ctl_jstr(json_object_get(pvb, "spec"), "volume"),
				    phase_is(ph, "Completed") ? "some files were not read: " : "",
				    msg && *msg ? msg : ph);
		}
		if (total > 0 && ok + partial == 0) {
			final = "Failed";
			json_object_set_new(
			    status, "failureReason",
			    json_string(timed_out ? "timed out" : "no volume was backed up"));
		} else if (failed || partial || not_started ||
		           json_integer_value(json_object_get(status, "errors")) > 0) {
			final = "PartiallyFailed";
		} else {
			final = "Completed";
		}
		json_object_set_new(status, "phase", json_string(final));
		set_time(status, "completionTimestamp", now);
		ctl_note(c, CTL_NOTE_INFO, "backup %s %s: %zu of %zu volumes completed",
		         ctl_meta(b, "name"), final, ok, total);
		ctl_metrics_backup(c->m, sched, final, difftime(now, started), bytes, now);
	}
	/* Nothing new: no write (every write wakes every watcher). */
	if (json_equal(old, status)) {
		r = 0;
		goto fail;
	}
	r = put_status(c, path, status, &e);
	status = NULL;
fail:
	if (r < 0)
		ctl_note(c, CTL_NOTE_WARN, "backup %s: %s", ctl_meta(b, "name"), e.msg);
	json_decref(status);
	json_decref(old);
	json_decref(pvbs);
	return r == -ENOENT ? 0 : r;
}

int ctl_backup_post_hooks(struct ctl *c, const json_t *b, const json_t *pvbs, bool force,
                          struct err *e)
{
	json_t *status = status_of(b), *old = json_deep_copy(status);
	char path[1024];
	size_t owed;
	int r = 0;

	if (!status || !old) {
		r = -ENOMEM;
		goto fail;
	}
	owed = ctl_hooks_post(c, b, status, pvbs, force);
	if (!json_equal(old, status)) {
		r = ctl_path(c, "backups", ctl_meta(b, "name"), path, sizeof(path));
		if (r == 0)
			r = put_status(c, path, status, e);
		status = NULL;
	}
	if (r == 0)
		r = owed ? 1 : 0;
fail:
	json_decref(status);
	json_decref(old);
	return r;
}

int ctl_backup_reconcile(struct ctl *c, json_t *b)
{
	const json_t *meta = json_object_get(b, "metadata");
	const char *phase = ctl_jstr(json_object_get(b, "status"), "phase");
	struct err e = ERR_INIT;
	char path[1024];
	time_t exp;
	int r;

	r = ctl_path(c, "backups", ctl_meta(b, "name"), path, sizeof(path));
	if (r < 0)
		return 0;
	if (json_object_get(meta, "deletionTimestamp")) {
		r = ctl_backup_delete(c, b);
		return r < 0 && r != -ENOENT ? 0 : 0;
	}
	if (!phase || !*phase || phase_is(phase, "New")) {
		if (json_object_get(json_object_get(meta, "annotations"), CTL_ANN_SYNCED))
			return 0; /* a synced Backup whose status is being written */
		if (!ctl_has_finalizer(b, CTL_FINALIZER)) {
			json_t *fresh = NULL;

			/* The finalizer first: the agents' work is never orphaned by a delete. */
			r = ctl_finalizer(c, path, b, CTL_FINALIZER, true, &e);
			if (r < 0 && r != -EAGAIN && r != -ENOENT)
				ctl_note(c, CTL_NOTE_WARN, "backup %s: %s", ctl_meta(b, "name"),
				         e.msg);
			/* Started from the version that has it, now rather than a resync
			 * later; when that read fails the next pass starts it. */
			if (r == 0 && kube_get(c->k, path, &fresh, &e) == 0 &&
			    ctl_has_finalizer(fresh, CTL_FINALIZER) &&
			    !ctl_jstr(json_object_get(fresh, "status"), "phase") &&
			    !json_object_get(json_object_get(fresh, "metadata"),
			                     "deletionTimestamp"))
				(void)start(c, fresh, path);
			json_decref(fresh);
			return 0;
		}
		(void)start(c, b, path);
		return 0;
	}
	if (phase_is(phase, "InProgress")) {
		(void)follow(c, b, path);
		return 0;
	}
	/* A ReadOnly location's backups are not ours to expire (a cluster restoring another's
	 * backups would otherwise forget them for it). */
	if (terminal_backup(phase) &&
	    ctl_time_parse(ctl_jstr(json_object_get(b, "status"), "expiration"), &exp) == 0 &&
	    ctl_now(c) >= exp &&
	    !ctl_location_read_only(ctl_location(
	        c, ctl_jstr(json_object_get(b, "spec"), "storageLocation")))) {
		ctl_note(c, CTL_NOTE_INFO, "backup %s expired: deleting it", ctl_meta(b, "name"));
		r = kube_delete(c->k, path, &e);
		if (r < 0)
			ctl_note(c, CTL_NOTE_WARN, "cannot delete expired backup %s: %s",
			         ctl_meta(b, "name"), e.msg);
	}
	return 0;
}
