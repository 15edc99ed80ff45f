/* Owns what a Restore creates for one backed-up volume: a claim re-created from the spec
 * recorded at backup time (name kept, or suffixed when taken), a short-lived helper pod
 * that mounts it, and the PodVolumeRestore the node agent of that pod's node claims. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The object of a list whose annotation source-pvb names pvb, borrowed, or NULL. */
const json_t *ctl_restore_made(const json_t *list, const char *pvb)
{
	const json_t *o;
	size_t i;

	json_array_foreach(list, i, o)
	{
		const json_t *ann = json_object_get(json_object_get(o, "metadata"), "annotations");

		if (streq(ctl_jstr(ann, CTL_ANN_SOURCE_PVB), pvb))
			return o;
	}
	return NULL;
}

static json_t *made_meta(const struct ctl_ritem *it, const char *name, const char *gen)
{
	return json_pack("{s:s?,s:s?,s:s,s:{s:s},s:{s:s}}", "name", name, "generateName", gen,
	                 "namespace", it->tns, "labels", CTL_LABEL_RESTORE_UID, it->restore_uid,
	                 "annotations", CTL_ANN_SOURCE_PVB, it->pvb_name);
}

/* The claim: the recorded spec with the overrides; resources.requests.storage from the
 * override, the recorded request, or the recorded capacity. */
static int make_pvc(struct ctl *c, const struct ctl_ritem *it, const char *name, json_t **ret,
                    struct err *e)
{
	json_t *rec = it->pvc_spec ? json_loads(it->pvc_spec, 0, NULL) : NULL;
	const json_t *req = json_object_get(json_object_get(rec, "resources"), "requests");
	const char *size =
	    it->size_override && *it->size_override ? it->size_override : ctl_jstr(req, "storage");
	const char *sc = it->class_override && *it->class_override
	                     ? it->class_override
	                     : ctl_jstr(rec, "storageClassName");
	json_t *meta = made_meta(it, name, NULL), *obj, *labels;
	json_t *modes = json_object_get(rec, "accessModes"), *dflt = NULL;
	char path[1024];
	int r;

	if (!size)
		size = ctl_jstr(json_object_get(rec, "capacity"), "storage");
	if (!size)
		size = "1Gi";
	if (!json_is_array(modes))
		modes = dflt = json_pack("[s]", "ReadWriteOnce");
	labels = json_object_get(rec, "labels");
	if (meta && json_is_object(labels))
		json_object_update_missing(json_object_get(meta, "labels"), labels);
	obj = json_pack("{s:s,s:s,s:o,s:{s:O,s:s?,s:s?,s:{s:{s:s}}}}", "apiVersion", "v1", "kind",
	                "PersistentVolumeClaim", "metadata", meta, "spec", "accessModes", modes,
	                "storageClassName", sc, "volumeMode", ctl_jstr(rec, "volumeMode"),
	                "resources", "requests", "storage", size);
	json_decref(dflt);
	json_decref(rec);
	if (!obj)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims", it->tns);
	r = kube_create(c->k, path, obj, ret, e);
	json_decref(obj);
	return r;
}

/* The claim of a volume whose pod is gone: one this Restore made already, else a new one
 * named as the old one, or suffixed with the restore's uid when that name is taken. */
static int ensure_pvc(struct ctl *c, const struct ctl_ritem *it, const json_t *pvcs, char *name,
                      size_t n, struct err *e)
{
	const json_t *have = ctl_restore_made(pvcs, it->pvb_name);
	json_t *made = NULL, *old = NULL;
	char path[1024];
	int r;

	if (have) {
		snprintf(name, n, "%s", ctl_meta(have, "name"));
		return 0;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", it->tns,
	         it->pvc);
	r = kube_get(c->k, path, &old, e);
	json_decref(old);
	if (r == 0)
		snprintf(name, n, "%.200s-%.8s", it->pvc, it->restore_uid);
	else if (r == -ENOENT)
		snprintf(name, n, "%s", it->pvc);
	else
		return r;
	err_clear(e);
	r = make_pvc(c, it, name, &made, e);
	json_decref(made);
	if (r == 0)
		ctl_note(c, CTL_NOTE_INFO, "restore %s: claim %s/%s created for volume %s of %s/%s",
		         it->restore_name, it->tns, name, it->volume, it->src_ns, it->pod);
	return r;
}

/* A pod that only mounts the claim so a node agent can fill it; deleted when done. */
static int ensure_helper(struct ctl *c, const struct ctl_ritem *it, const json_t *pods,
                         const char *claim, json_t **ret, struct err *e)
{
	const json_t *have = ctl_restore_made(pods, it->pvb_name);
	char path[1024], mount[512];
	json_t *meta, *obj;
	int r;

	if (have) {
		*ret = json_incref((json_t *)have);
		return 0;
	}
	snprintf(mount, sizeof(mount), "/restores/%s", it->volume);
	meta = made_meta(it, NULL, "cairn-restore-");
	if (meta)
		json_object_set_new(json_object_get(meta, "labels"), CTL_LABEL_RESTORE_HELPER,
		                    json_string("true"));
	obj = json_pack("{s:s,s:s,s:o,s:{s:s,s:[{s:s,s:s,s:[s,s,s],s:[{s:s,s:s}]}],"
	                "s:[{s:s,s:{s:s}}]}}",
	                "apiVersion", "v1", "kind", "Pod", "metadata", meta, "spec",
	                "restartPolicy", "Never", "containers", "name", "restore-wait", "image",
	                CTL_HELPER_IMAGE, "command", "cairn", "restore-wait", it->restore_uid,
	                "volumeMounts", "name", it->volume, "mountPath", mount, "volumes", "name",
	                it->volume, "persistentVolumeClaim", "claimName", claim);
	if (!obj)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", it->tns);
	r = kube_create(c->k, path, obj, ret, e);
	json_decref(obj);
	return r;
}

/* The PodVolumeRestore for the volume of pod (the helper or the user's restore-wait pod),
 * owned by the Restore so deleting it cancels the work. */
static int make_pvr(struct ctl *c, const struct ctl_ritem *it, const json_t *pod, bool helper,
                    struct err *e)
{
	char path[1024], gen[300];
	json_t *obj, *ann;
	int r;

	snprintf(gen, sizeof(gen), "%.240s-", it->restore_name);
	ann = json_pack("{s:s}", CTL_ANN_SOURCE_PVB, it->pvb_name);
	if (ann && helper)
		json_object_set_new(ann, CTL_ANN_HELPER_POD, json_string(ctl_meta(pod, "name")));
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s},s:o,s:[{s:s,s:s,s:s,s:s,s:b}]},"
	                "s:{s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s?,s:s,s:I,s:b}}",
	                "apiVersion", CTL_API, "kind", "PodVolumeRestore", "metadata",
	                "generateName", gen, "namespace", c->ns, "labels", CTL_LABEL_RESTORE_UID,
	                it->restore_uid, "annotations", ann, "ownerReferences", "apiVersion",
	                CTL_API, "kind", "Restore", "name", it->restore_name, "uid",
	                it->restore_uid, "controller", 1, "spec", "pod", "kind", "Pod", "namespace",
	                it->tns, "name", ctl_meta(pod, "name"), "uid", ctl_meta(pod, "uid"),
	                "volume", it->volume, "snapshotID", it->snapshot, "backupStorageLocation",
	                it->bsl, "sourceNamespace", it->src_ns, "snapshotSize",
	                (json_int_t)it->size, "overwrite", it->overwrite);
	if (!obj)
		return -ENOMEM;
	/* Only when asked: an absent field is the agent's default (holes stay holes). */
	if (it->no_sparse &&
	    json_object_set_new(json_object_get(obj, "spec"), "writeSparseFiles", json_false()) < 0) {
		json_decref(obj);
		return -ENOMEM;
	}
	r = ctl_path(c, "podvolumerestores", NULL, path, sizeof(path));
	if (r == 0)
		r = kube_create(c->k, path, obj, NULL, e);
	json_decref(obj);
	return r;
}

/* The user's pod (Velero's way) when it is there: same name as the backed-up pod in the
 * target namespace, with a restore-wait init container naming this restore and the
 * volume. Borrowed from pods, or NULL. */
static const json_t *waiting_pod(const struct ctl_ritem *it, const json_t *pods)
{
	const json_t *pod, *ic, *arg, *v;
	size_t i, j, k;

	json_array_foreach(pods, i, pod)
	{
		const json_t *spec = json_object_get(pod, "spec");
		bool names_us = false, has_vol = false;

		if (!streq(ctl_meta(pod, "name"), it->pod))
			continue;
		json_array_foreach(json_object_get(spec, "initContainers"), j, ic)
		{
			if (!streq(ctl_jstr(ic, "name"), "restore-wait"))
				continue;
			json_array_foreach(json_object_get(ic, "command"), k,
			                   arg) if (streq(json_string_value(arg), it->restore_uid))
			    names_us = true;
			json_array_foreach(json_object_get(ic, "args"), k,
			                   arg) if (streq(json_string_value(arg), it->restore_uid))
			    names_us = true;
		}
		json_array_foreach(json_object_get(spec, "volumes"), j,
		                   v) if (streq(ctl_jstr(v, "name"), it->volume)) has_vol = true;
		if (names_us && has_vol)
			return pod;
	}
	return NULL;
}

int ctl_restore_start_item(struct ctl *c, const struct ctl_ritem *it, const json_t *pods,
                           const json_t *pvcs, struct err *e)
{
	const json_t *user = it->target_pvc ? NULL : waiting_pod(it, pods);
	json_t *helper = NULL;
	char claim[300];
	int r;

	if (user)
		return make_pvr(c, it, user, false, e);
	if (it->target_pvc) {
		snprintf(claim, sizeof(claim), "%s", it->target_pvc);
	} else if (it->pvc && *it->pvc && it->restore_pvcs) {
		r = ensure_pvc(c, it, pvcs, claim, sizeof(claim), e);
		if (r < 0)
			return r;
	} else {
		return 1; /* no claim to (re-)create: waits for a pod with restore-wait */
	}
	r = ensure_helper(c, it, pods, claim, &helper, e);
	if (r == 0)
		r = make_pvr(c, it, helper, true, e);
	json_decref(helper);
	return r;
}
