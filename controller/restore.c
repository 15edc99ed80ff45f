/* Owns Restore objects: validation, choosing the backed-up volumes (namespaces, mappings,
 * selector on the claim's labels, or one volume into an existing claim), following their
 * PodVolumeRestores to an end, deleting helper pods, and the Restore's status. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool in_list(const json_t *a, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(a, i, v) if (streq(json_string_value(v), s) ||
	                                streq(json_string_value(v), "*")) return true;
	return false;
}

static const json_t *backup_named(const struct ctl *c, const char *name)
{
	const json_t *b;
	size_t i;

	json_array_foreach(c->backups, i, b) if (streq(ctl_meta(b, "name"), name)) return b;
	return NULL;
}

/* matchLabels of the selector against the claim labels recorded at backup time. */
static bool selected(const json_t *sel, const char *pvc_spec)
{
	const json_t *ml = json_object_get(sel, "matchLabels"), *v;
	json_t *rec, *labels;
	const char *k;
	bool ok = true;

	if (!json_object_size(ml))
		return true;
	rec = pvc_spec ? json_loads(pvc_spec, 0, NULL) : NULL;
	labels = json_object_get(rec, "labels");
	json_object_foreach((json_t *)ml, k,
	                    v) if (!streq(ctl_jstr(labels, k), json_string_value(v))) ok = false;
	json_decref(rec);
	return ok;
}

/* Fill it from a Completed PVB; false when the Restore does not take it. */
static bool item_of(const json_t *rst, const json_t *pvb, struct ctl_ritem *it)
{
	const json_t *spec = json_object_get(rst, "spec"), *pspec = json_object_get(pvb, "spec");
	const json_t *ann = json_object_get(json_object_get(pvb, "metadata"), "annotations");
	const json_t *tags = json_object_get(pspec, "tags"), *st = json_object_get(pvb, "status");
	const json_t *tgt = json_object_get(spec, "targetPVC");
	const char *mapped;

	memset(it, 0, sizeof(*it));
	it->restore_name = ctl_meta(rst, "name");
	it->restore_uid = ctl_meta(rst, "uid");
	it->pvb_name = ctl_meta(pvb, "name");
	it->src_ns = ctl_jstr(json_object_get(pspec, "pod"), "namespace");
	it->pod = ctl_jstr(json_object_get(pspec, "pod"), "name");
	it->volume = ctl_jstr(pspec, "volume");
	it->snapshot = ctl_jstr(st, "snapshotID");
	it->bsl = ctl_jstr(pspec, "backupStorageLocation");
	/* A synced record carries the snapshot's tags: the bucket alone is enough. */
	it->pvc = ctl_jstr(ann, CTL_ANN_PVC_NAME) ? ctl_jstr(ann, CTL_ANN_PVC_NAME)
	                                          : ctl_jstr(tags, "pvc");
	it->pvc_spec = ctl_jstr(ann, CTL_ANN_PVC_SPEC) ? ctl_jstr(ann, CTL_ANN_PVC_SPEC)
	                                               : ctl_jstr(tags, "pvc-spec");
	it->class_override = ctl_jstr(spec, "storageClassName");
	it->size_override = ctl_jstr(spec, "pvcSize");
	it->overwrite = json_is_true(json_object_get(spec, "overwrite"));
	it->no_sparse = json_is_false(json_object_get(spec, "writeSparseFiles"));
	it->restore_pvcs = !json_is_false(json_object_get(spec, "restorePVCs"));
	it->size = (uint64_t)json_integer_value(
	    json_object_get(json_object_get(st, "progress"), "totalBytes"));
	if (!streq(ctl_jstr(st, "phase"), "Completed") || !it->snapshot || !*it->snapshot ||
	    !it->src_ns || !it->pod || !it->volume)
		return false;
	if (tgt) {
		snprintf(it->tns, sizeof(it->tns), "%s", ctl_jstr(tgt, "namespace"));
		it->target_pvc = ctl_jstr(tgt, "name");
		return streq(ctl_jstr(spec, "volume"), it->volume) &&
		       (!ctl_jstr(spec, "sourceNamespace") ||
		        streq(ctl_jstr(spec, "sourceNamespace"), it->src_ns));
	}
	if (json_array_size(json_object_get(spec, "includedNamespaces")) &&
	    !in_list(json_object_get(spec, "includedNamespaces"), it->src_ns))
		return false;
	if (in_list(json_object_get(spec, "excludedNamespaces"), it->src_ns))
		return false;
	if (!selected(json_object_get(spec, "labelSelector"), it->pvc_spec))
		return false;
	mapped = ctl_jstr(json_object_get(spec, "namespaceMapping"), it->src_ns);
	snprintf(it->tns, sizeof(it->tns), "%s", mapped && *mapped ? mapped : it->src_ns);
	return true;
}

struct tally {
	size_t total, done, ok, partial, failed, waiting;
	json_t *warnings, *errors; /* arrays of strings */
};

static void add(json_t *a, const char *fmt, ...) _printf_(2, 3);
static void add(json_t *a, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_array_size(a) < 100)
		json_array_append_new(a, json_string(msg));
}

static int put_status(struct ctl *c, const json_t *rst, const char *phase, const struct tally *t,
                      const char *reason, bool end)
{
	const json_t *old = json_object_get(rst, "status");
	struct err e = ERR_INIT;
	char path[1024], now[32];
	json_t *st;
	int r;

	ctl_timestamp(ctl_now(c), now);
	st = json_pack("{s:s,s:s,s:{s:I,s:I}}", "phase", phase, "startTimestamp",
	               ctl_jstr(old, "startTimestamp") ? ctl_jstr(old, "startTimestamp") : now,
	               "progress", "totalItems", (json_int_t)(t ? t->total : 0), "itemsRestored",
	               (json_int_t)(t ? t->ok + t->partial : 0));
	if (!st)
		return -ENOMEM;
	if (end)
		json_object_set_new(st, "completionTimestamp", json_string(now));
	if (reason)
		json_object_set_new(st, "failureReason", json_string(reason));
	if (t) {
		json_object_set_new(st, "warnings",
		                    json_integer((json_int_t)json_array_size(t->warnings)));
		json_object_set_new(st, "errors",
		                    json_integer((json_int_t)json_array_size(t->errors)));
		if (json_array_size(t->warnings))
			json_object_set(st, "warningMessages", t->warnings);
		if (json_array_size(t->errors))
			json_object_set(st, "errorMessages", t->errors);
	}
	/* A pass that changes nothing writes nothing. */
	if (!end && json_equal(json_object_get(old, "progress"), json_object_get(st, "progress")) &&
	    streq(ctl_jstr(old, "phase"), phase) &&
	    json_equal(json_object_get(old, "warningMessages"),
	               json_object_get(st, "warningMessages"))) {
		json_decref(st);
		return 0;
	}
	r = ctl_path(c, "restores", ctl_meta(rst, "name"), path, sizeof(path));
	if (r == 0)
		r = ctl_status_put(c, path, st, &e);
	else
		json_decref(st);
	if (r < 0 && r != -ENOENT)
		ctl_note(c, CTL_NOTE_WARN, "restore %s: status not written: %s",
		         ctl_meta(rst, "name"), e.msg);
	return r == -ENOENT ? 0 : r;
}

static int validate(struct ctl *c, const json_t *rst)
{
	const json_t *spec = json_object_get(rst, "spec");
	const json_t *tgt = json_object_get(spec, "targetPVC");
	const char *bname = ctl_jstr(spec, "backupName");
	const json_t *b = bname ? backup_named(c, bname) : NULL;
	const char *bphase = ctl_jstr(json_object_get(b, "status"), "phase");
	struct tally t = { .warnings = json_array(), .errors = json_array() };
	int r;

	if (!bname || !*bname)
		add(t.errors, "spec.backupName is required");
	else if (!b)
		add(t.errors, "backup %s not found", bname);
	else if (!streq(bphase, "Completed") && !streq(bphase, "PartiallyFailed"))
		add(t.errors, "backup %s is %s, not Completed", bname, bphase ? bphase : "New");
	if (tgt &&
	    (!ctl_jstr(tgt, "namespace") || !ctl_jstr(tgt, "name") || !ctl_jstr(spec, "volume")))
		add(t.errors, "targetPVC needs namespace, name and spec.volume");
	if (json_array_size(t.errors)) {
		json_t *st = json_pack("{s:s,s:O}", "phase", "FailedValidation", "validationErrors",
		                       t.errors);
		struct err e = ERR_INIT;
		char path[1024];

		ctl_note(c, CTL_NOTE_WARN, "restore %s failed validation: %s",
		         ctl_meta(rst, "name"), json_string_value(json_array_get(t.errors, 0)));
		r = ctl_path(c, "restores", ctl_meta(rst, "name"), path, sizeof(path));
		if (r == 0 && st)
			r = ctl_status_put(c, path, st, &e);
	} else {
		r = put_status(c, rst, "InProgress", NULL, NULL, false);
	}
	json_decref(t.warnings);
	json_decref(t.errors);
	return r;
}

/* Lists of the target namespace: its pods and the claims this Restore made there. */
static int ns_lists(struct ctl *c, const char *ns, const char *uid, json_t **pods, json_t **pvcs,
                    struct err *e)
{
	char path[512], sel[300];
	int r;

	snprintf(sel, sizeof(sel), "%s=%s", CTL_LABEL_RESTORE_UID, uid);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	r = ctl_list(c, path, NULL, pods, e);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims", ns);
	return ctl_list(c, path, sel, pvcs, e);
}

/* One item whose PVR exists: count it; once it ended, its helper pod goes. */
static void follow(struct ctl *c, const struct ctl_ritem *it, const json_t *pvr, struct tally *t)
{
	const char *phase = ctl_jstr(json_object_get(pvr, "status"), "phase");
	const char *msg = ctl_jstr(json_object_get(pvr, "status"), "message");
	const char *helper = ctl_jstr(
	    json_object_get(json_object_get(pvr, "metadata"), "annotations"), CTL_ANN_HELPER_POD);
	bool end = streq(phase, "Completed") || streq(phase, "PartiallyFailed") ||
	           streq(phase, "Failed") || streq(phase, "Canceled");
	struct err e = ERR_INIT;
	char path[1024];

	if (!end)
		return;
	t->done++;
	if (streq(phase, "Completed")) {
		t->ok++;
	} else if (streq(phase, "PartiallyFailed")) {
		t->partial++;
		add(t->warnings, "%s/%s volume %s: %s", it->tns, it->pod, it->volume,
		    msg ? msg : "some files were not restored");
	} else {
		t->failed++;
		add(t->errors, "%s/%s volume %s: %s: %s", it->tns, it->pod, it->volume, phase,
		    msg ? msg : "");
	}
	if (helper) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", it->tns, helper);
		if (kube_delete(c->k, path, &e) < 0 && e.code != -ENOENT)
			ctl_note(c, CTL_NOTE_WARN, "restore %s: helper pod %s/%s not deleted: %s",
			         it->restore_name, it->tns, helper, e.msg);
	}
}

static int progress(struct ctl *c, const json_t *rst)
{
	const char *uid = ctl_meta(rst, "uid");
	const json_t *b = backup_named(c, ctl_jstr(json_object_get(rst, "spec"), "backupName"));
	struct tally t = { .warnings = json_array(), .errors = json_array() };
	json_t *pvbs = NULL, *pvrs = NULL, *pvb;
	struct err e = ERR_INIT;
	char path[1024], sel[300];
	const char *phase;
	size_t i;
	int r;

	snprintf(sel, sizeof(sel), "%s=%s", CTL_LABEL_BACKUP_ID, b ? ctl_meta(b, "uid") : "none");
	r = ctl_path(c, "podvolumebackups", NULL, path, sizeof(path));
	if (r == 0)
		r = ctl_list(c, path, sel, &pvbs, &e);
	snprintf(sel, sizeof(sel), "%s=%s", CTL_LABEL_RESTORE_UID, uid);
	if (r == 0 && (r = ctl_path(c, "podvolumerestores", NULL, path, sizeof(path))) == 0)
		r = ctl_list(c, path, sel, &pvrs, &e);
	if (r < 0)
		goto out;
	json_array_foreach(pvbs, i, pvb)
	{
		struct ctl_ritem it;
		const json_t *pvr;
		json_t *pods = NULL, *pvcs = NULL;

		if (!item_of(rst, pvb, &it))
			continue;
		t.total++;
		pvr = ctl_restore_made(pvrs, it.pvb_name);
		if (pvr) {
			follow(c, &it, pvr, &t);
			continue;
		}
		err_clear(&e);
		r = ns_lists(c, it.tns, uid, &pods, &pvcs, &e);
		if (r == 0)
			r = ctl_restore_start_item(c, &it, pods, pvcs, &e);
		json_decref(pods);
		json_decref(pvcs);
		if (r == 1)
			t.waiting++;
		else if (r < 0)
			ctl_note(c, CTL_NOTE_WARN, "restore %s: volume %s of %s/%s: %s",
			         it.restore_name, it.volume, it.src_ns, it.pod, e.msg);
	}
	r = 0;
	if (t.total == 0)
		add(t.warnings, "the backup holds no volume this restore selects");
	if (t.done < t.total) {
		r = put_status(c, rst, "InProgress", &t, NULL, false);
		goto out;
	}
	phase = t.failed == 0 && t.partial == 0 ? "Completed"
	        : t.ok + t.partial > 0          ? "PartiallyFailed"
	                                        : "Failed";
	ctl_note(c, streq(phase, "Completed") ? CTL_NOTE_INFO : CTL_NOTE_WARN,
	         "restore %s %s: %zu of %zu volumes restored%s%s", ctl_meta(rst, "name"), phase,
	         t.ok + t.partial, t.total, json_array_size(t.errors) ? "; " : "",
	         json_array_size(t.errors) ? json_string_value(json_array_get(t.errors, 0)) : "");
	r = put_status(c, rst, phase, &t, streq(phase, "Failed") ? "no volume was restored" : NULL,
	               true);
out:
	if (r < 0 && e.msg[0])
		ctl_note(c, CTL_NOTE_WARN, "restore %s: %s", ctl_meta(rst, "name"), e.msg);
	json_decref(pvbs);
	json_decref(pvrs);
	json_decref(t.warnings);
	json_decref(t.errors);
	return r;
}

int ctl_restore_reconcile(struct ctl *c, json_t *rst)
{
	const char *phase = ctl_jstr(json_object_get(rst, "status"), "phase");

	if (ctl_meta(rst, "deletionTimestamp"))
		return 0; /* its PodVolumeRestores go with it (owner references) */
	if (!phase || !*phase || streq(phase, "New"))
		return validate(c, rst);
	if (streq(phase, "InProgress"))
		return progress(c, rst);
	return 0;
}

void ctl_restores_pass(struct ctl *c)
{
	struct err e = ERR_INIT;
	json_t *list = NULL, *o;
	char path[1024];
	size_t i;

	if (ctl_path(c, "restores", NULL, path, sizeof(path)) < 0 ||
	    ctl_list(c, path, NULL, &list, &e) < 0) {
		ctl_note(c, CTL_NOTE_WARN, "cannot list restores: %s", e.msg);
		return;
	}
	json_array_foreach(list, i, o) if (ctl_restore_reconcile(c, o) < 0) break;
	json_decref(list);
}
