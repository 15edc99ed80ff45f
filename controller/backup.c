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

static const char *str0(const char *s)
{
	return s ? s : "";
}

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
	bool after_pre;      /* select_pod: the pod's pre hooks returned, with: */
	int pre_r;           /* 0, or -EIO when they failed (or never ran) */
	const char *pre_why; /* why, for -EIO */
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

/* Volumes no agent would pick up: failed at once, nobody would ever read them. */
static void no_agent(struct sel *s, const json_t *pod, struct ctl_volume *v, size_t n)
{
	const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");

	if (node && json_object_get(s->agents, node))
		return;
	for (size_t i = 0; i < n; i++) {
		if (v[i].skipped)
			continue;
		s->not_started++;
		add_msg(s->status, "errorMessages", "errors",
		        "pod %s/%s volume %s: no cairn node agent runs on node %s",
		        ctl_meta(pod, "namespace"), ctl_meta(pod, "name"), v[i].name,
		        node ? node : "(unscheduled)");
		v[i].skipped = true;
	}
}

/* Choose the pod's volumes. When starting (!s->after_pre): start them now when the pod
 * has no pre hook to run, else note the pod in status.hooks.pre, whose hooks run on the
 * hook pool and whose volumes start on a later pass (pre_settle). After its pre hooks
 * returned (s->after_pre, with their outcome in s->pre_r and s->pre_why): start the
 * volumes not started yet. */
static int select_pod(struct sel *s, const json_t *pod, struct err *e)
{
	const json_t *spec = json_object_get(s->b, "spec");
	const char *pns = ctl_meta(pod, "namespace"), *pname = ctl_meta(pod, "name");
	const char *pphase = ctl_jstr(json_object_get(pod, "status"), "phase");
	struct ctl_volume *v = NULL;
	json_t *pre = NULL;
	size_t n = 0, i, make = 0, have = 0;
	char why[1024] = "";
	int r, hooks = 0;

	if (!pns || !ns_wanted(spec, pns))
		return 0;
	s->pod_ns = pns;
	r = ctl_pod_volumes(pod, json_is_true(json_object_get(spec, "defaultVolumesToFsBackup")),
	                    pvc_block, s, &v, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		/* After the pre hooks the warnings of the start are not said again. */
		if (v[i].skipped) {
			if (!s->after_pre)
				add_msg(s->status, "warningMessages", "warnings",
				        "pod %s/%s volume %s skipped: %s", pns, pname, v[i].name,
				        v[i].reason);
			continue;
		}
		if (!phase_is(pphase, "Running")) {
			if (!s->after_pre)
				add_msg(s->status, "warningMessages", "warnings",
				        "pod %s/%s is not running (%s): volume %s skipped", pns,
				        pname, pphase ? pphase : "no phase", v[i].name);
			v[i].skipped = true;
			continue;
		}
		s->total++;
		if (exists(s, ctl_meta(pod, "uid"), v[i].name)) {
			have++;
			v[i].skipped = true;
			continue;
		}
		make++;
	}
	if (s->after_pre) {
		/* The hook's outcome first: a failed hook is the reason, not a missing agent. */
		if (s->pre_r == 0)
			no_agent(s, pod, v, n);
		r = pod_volumes_start(s, pod, v, n, s->pre_r, s->pre_why, e);
		goto fail;
	}
	/* Hooks only for pods whose volumes are read (an agent runs on the node): they exist
	 * to make that read consistent. */
	if (make) {
		const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");

		if (!node || !json_object_get(s->agents, node)) {
			no_agent(s, pod, v, n);
			make = 0;
		}
	}
	if (make + have > 0)
		hooks = pod_hooks(s, pod, have > 0, &pre, why, sizeof(why), e);
	if (hooks < 0 && hooks != -EIO) {
		r = hooks;
		goto fail;
	}
	if (make && hooks == 0 && json_array_size(pre)) {
		r = ctl_hooks_note(s->status, "pre", pod);
		goto fail;
	}
	if (make)
		r = pod_volumes_start(s, pod, v, n, hooks, why, e);
fail:
	json_decref(pre);
	free(v);
	return r < 0 ? r : 0;
}

/* Every selected pod: volumes of pods without pre hooks start at once, the others once
 * their pre hooks returned. */
static int select_pods(struct sel *s, const json_t *pods, struct err *e)
{
	const json_t *pod;
	size_t i;
	int r = 0;

	json_array_foreach(pods, i, pod)
	{
		r = select_pod(s, pod, e);
		if (r < 0)
			break;
	}
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

/* status.hooks.running: the hooks of this Backup started and not taken back yet. */
static void set_running(json_t *status, size_t n)
{
	json_t *hk = json_object_get(status, "hooks");

	if (!json_is_object(hk)) {
		if (n == 0)
			return;
		hk = json_object();
		json_object_set_new(status, "hooks", hk);
	}
	json_object_set_new(hk, "running", json_integer((json_int_t)n));
}

/* What pre_settle needs to start a pod's volumes, read once per pass when needed. */
static int sel_ready(struct sel *s, struct plan *p, struct err *e)
{
	const json_t *spec = json_object_get(s->b, "spec");
	int r;

	if (s->existing)
		return 0;
	/* NULL when it went meanwhile: after_pre then fails the volumes. */
	p->loc = ctl_location(s->c, ctl_jstr(spec, "storageLocation"));
	s->p = p;
	if (!s->pvcs && !(s->pvcs = json_object()))
		return -ENOMEM;
	if (!s->agents) {
		r = list_agents(s->c, &s->agents, e);
		if (r < 0)
			return r;
	}
	return pvbs_of(s->c, s->b, &s->existing, e);
}

/* pod's pre hooks returned (hooks 0) or failed or will never run (-EIO, why): start its
 * volumes or fail them. */
static int after_pre(struct sel *s, struct plan *p, const json_t *pod, int hooks, const char *why,
                     struct err *e)
{
	int r = sel_ready(s, p, e);

	if (r < 0)
		return r;
	if (!p->loc && hooks == 0) {
		hooks = -EIO;
		why = "the backup storage location is gone";
	}
	s->after_pre = true;
	s->pre_r = hooks;
	s->pre_why = why;
	return select_pod(s, pod, e);
}

/* The pod of a status.hooks.pre entry, now (GET). 0 with *ret, 1 when it is gone (or is
 * another pod of that name), negative when the API could not say. */
static int pre_pod(struct ctl *c, const json_t *ent, json_t **ret, struct err *e)
{
	char path[1024];
	int r;

	*ret = NULL;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s",
	         str0(ctl_jstr(ent, "namespace")), str0(ctl_jstr(ent, "name")));
	r = kube_get(c->k, path, ret, e);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	if (strcmp(str0(ctl_meta(*ret, "uid")), str0(ctl_jstr(ent, "uid")))) {
		json_decref(*ret);
		*ret = NULL;
		return 1;
	}
	return 0;
}

/* Move on the pods of status.hooks.pre (mid-pre-hook). A job that returned is taken back:
 * the pod's volumes start, or fail with the hook's reason (or the timeout's). An entry
 * without a job (just started, or a restarted controller: the hook runs again, a re-run
 * being safer than a skipped one) gets one, unless the Backup timed out (its volumes fail)
 * or is being deleted (dropped: its post hook still runs). A running job is waited for,
 * timed out or deleted alike: it ends by its own timeout. Returns how many pods are still
 * mid-pre-hook; status.podVolumes.notStarted counts the volumes failed here. */
static size_t pre_settle(struct ctl *c, const json_t *b, json_t *status, bool timed_out,
                         bool deleted)
{
	const json_t *spec_hooks = json_object_get(json_object_get(b, "spec"), "hooks");
	json_t *hk = json_object_get(status, "hooks"), *pre = json_object_get(hk, "pre"), *left;
	json_t *ent, *pv;
	const char *buid = ctl_meta(b, "uid");
	struct plan p = { 0 };
	struct sel s = { .c = c, .b = b, .p = &p, .status = status };
	struct err e = ERR_INIT;
	size_t i, n = json_array_size(pre);

	if (n == 0)
		return 0;
	left = json_array();
	if (!left)
		return n;
	json_array_foreach(pre, i, ent)
	{
		const char *uid = str0(ctl_jstr(ent, "uid"));
		struct ctl_hookjob *j = NULL;
		json_t *pod = NULL, *hooks = NULL;
		int r, k;

		/* A stop cuts hooks short: their failure is not the pod's, the restarted
		 * controller runs them again. */
		if (ctl_stopping()) {
			json_array_append(left, ent);
			continue;
		}
		k = ctl_hookjob_take(c, buid, uid, CTL_HOOK_PRE, &j);
		err_clear(&e);
		if (k == 1) {
			json_array_append(left, ent);
			continue;
		}
		if (k == 2) {
			ctl_hooks_merge(status, j);
			if (j->r < 0 && j->r != -EIO)
				snprintf(j->msg, sizeof(j->msg), "pre hook not run: %s",
				         strerror(-j->r));
			r = 0;
			if (!deleted)
				r = after_pre(&s, &p, j->pod, timed_out || j->r < 0 ? -EIO : 0,
				              j->r < 0 ? j->msg
				                       : "the backup timed out before the pre hook "
				                         "returned",
				              &e);
			ctl_hookjob_free(j);
			/* Volumes not all started: the hook runs again on a later pass. */
			if (r < 0) {
				ctl_note(c, CTL_NOTE_WARN, "backup %s: %s", ctl_meta(b, "name"),
				         e.msg);
				json_array_append(left, ent);
			}
			continue;
		}
		if (deleted)
			continue;
		r = pre_pod(c, ent, &pod, &e);
		if (r < 0) {
			json_array_append(left, ent);
			continue;
		}
		if (r == 1) {
			ctl_status_add(status, true,
			               "pod %s/%s: gone before its pre hook ran: its volumes were "
			               "not read",
			               str0(ctl_jstr(ent, "namespace")),
			               str0(ctl_jstr(ent, "name")));
			continue;
		}
		r = timed_out ? -ETIMEDOUT : ctl_hooks_of(pod, spec_hooks, "pre", &hooks, &e);
		if (r < 0) {
			const char *why = r == -ETIMEDOUT ? "the backup timed out before the pre "
			                                    "hook ran"
			                                  : e.msg;
			char msg[1024];

			snprintf(msg, sizeof(msg), "%s", why);
			err_clear(&e);
			if (after_pre(&s, &p, pod, -EIO, msg, &e) < 0)
				json_array_append(left, ent);
			json_decref(pod);
			continue;
		}
		/* Pending whether or not it started: a failed start is tried next pass. */
		json_array_append(left, ent);
		r = ctl_hookjob_start(c, buid, CTL_HOOK_PRE, pod, hooks);
		if (r < 0)
			ctl_note(c, CTL_NOTE_WARN, "backup %s: pod %s/%s: pre hook waits: %s",
			         ctl_meta(b, "name"), str0(ctl_jstr(ent, "namespace")),
			         str0(ctl_jstr(ent, "name")), strerror(-r));
	}
	hk = json_object_get(status, "hooks"); /* a merge may have replaced it */
	if (json_array_size(left))
		json_object_set(hk, "pre", left);
	else
		json_object_del(hk, "pre");
	n = json_array_size(left);
	json_decref(left);
	if (s.not_started) {
		pv = json_object_get(status, "podVolumes");
		if (!json_is_object(pv)) {
			pv = json_object();
			json_object_set_new(status, "podVolumes", pv);
		}
		json_object_set_new(
		    pv, "notStarted",
		    json_integer(json_integer_value(json_object_get(pv, "notStarted")) +
		                 (json_int_t)s.not_started));
	}
	json_decref(s.pvcs);
	json_decref(s.agents);
	json_decref(s.existing);
	return n;
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
	/* The pre hooks start on the pool now, their volumes on a later pass; after
	 * podVolumes is set, which a pod gone meanwhile adds to. */
	set_running(s.status, pre_settle(c, b, s.status, false, false));
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
	size_t owed, pre, post_running;
	int r;

	if (!status)
		return -ENOMEM;
	if (tmo && *tmo && ctl_duration_parse(tmo, &timeout) < 0)
		timeout = c->cfg->backup_timeout_sec;
	if (ctl_time_parse(ctl_jstr(status, "startTimestamp"), &started) < 0)
		started = now;
	timed_out = now - started >= timeout;
	/* Before the list of volumes: the ones this starts are in it. */
	pre = pre_settle(c, b, status, timed_out, false);
	pv = json_object_get(status, "podVolumes");
	not_started = (size_t)json_integer_value(json_object_get(pv, "notStarted"));
	r = pvbs_of(c, b, &pvbs, &e);
	if (r < 0)
		goto fail;
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
	                      timed_out && now - started >= timeout + HOOK_CANCEL_GRACE_SEC,
	                      &post_running);
	set_running(status, pre + post_running);
	/* Never final while a hook runs or waits: its outcome belongs in the status. */
	if (done == json_array_size(pvbs) && owed == 0 && pre == 0) {
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
	size_t owed, pre, post_running;
	int r = 0;

	if (!status || !old) {
		r = -ENOMEM;
		goto fail;
	}
	/* A running pre hook is waited for (its own timeout ends it), then its pod's post
	 * hook runs: what it froze is thawed. */
	pre = pre_settle(c, b, status, false, true);
	owed = ctl_hooks_post(c, b, status, pvbs, force, &post_running);
	set_running(status, pre + post_running);
	if (!json_equal(old, status)) {
		r = ctl_path(c, "backups", ctl_meta(b, "name"), path, sizeof(path));
		if (r == 0)
			r = put_status(c, path, status, e);
		status = NULL;
	}
	if (r == 0)
		r = owed || pre ? 1 : 0;
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
