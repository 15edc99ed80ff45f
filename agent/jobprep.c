/* Owns what a PodVolumeBackup needs before its backup starts: the pod, claim and volume
 * objects, the kubelet folder, snapshot tags and volume identity, and the repository. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo.h"
#include "util/banned.h"
#include "util/log.h"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void job_volume_release(struct job_volume *v)
{
	size_t i;

	for (i = 0; i < v->cmd_argc; i++)
		free(v->cmd_argv[i]);
	free(v->cmd_argv);
	free(v->path);
	free(v->pvc_spec);
	memset(v, 0, sizeof(*v));
}

static void add_tag(struct job_volume *v, const char *key, const char *val)
{
	if (!val || !val[0] || v->n_tags >= JOB_MAX_TAGS)
		return;
	snprintf(v->tagbuf[v->n_tags], sizeof(v->tagbuf[0]), "%s=%s", key, val);
	v->n_tags++;
}

/* Index of tag `key` in tagbuf, or -1. */
static int tag_of(const struct job_volume *v, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < v->n_tags; i++)
		if (strncmp(v->tagbuf[i], key, kl) == 0 && v->tagbuf[i][kl] == '=')
			return (int)i;
	return -1;
}

void job_volume_bind(struct job_volume *v)
{
	size_t i;

	for (i = 0; i < v->n_tags; i++)
		v->tags[i] = v->tagbuf[i];
	if (v->pvc_spec)
		v->tags[v->n_tags++] = v->pvc_spec;
	for (i = 0; i < v->n_parent_tags; i++)
		v->parent_tags[i] = v->tagbuf[v->parent_idx[i]];
}

/* The pod's controller ("StatefulSet/db") or the pod itself: the identity of a volume
 * that has no claim survives pod re-creation as long as its owner stays. */
static void owner_of(const json_t *pod, const char *pod_name, char *out, size_t n)
{
	json_t *refs = json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), *o;
	size_t i;

	json_array_foreach(refs, i, o)
	{
		if (json_is_true(json_object_get(o, "controller")) || json_array_size(refs) == 1) {
			snprintf(out, n, "%s/%s", jstr(o, "kind") ? jstr(o, "kind") : "?",
			         jstr(o, "name") ? jstr(o, "name") : "?");
			return;
		}
	}
	snprintf(out, n, "Pod/%s", pod_name);
}

/* Tag value from spec.tags, else from a label of the PVB (Velero sets both). */
static const char *spec_tag(const struct pvb *p, const json_t *obj, const char *key,
                            const char *label)
{
	const char *v = p->tags ? jstr(p->tags, key) : NULL;

	if (!v || !v[0])
		v = jstr(json_object_get(json_object_get(obj, "metadata"), "labels"), label);
	return v;
}

/* A snapshot's file name: one path component. */
static bool file_name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* The pod's backup command, when it has one: a JSON array of argv words, or a plain
 * string run by `sh -c`. Returns 1 when found, 0 when the pod has none. The command is
 * never logged or echoed: it may carry a password. */
static int command_of(const json_t *pod, const struct pvb *p, struct job_volume *v, struct err *e)
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	const char *cmd = jstr(ann, JOB_ANN_CMD), *c = jstr(ann, JOB_ANN_CMD_CONTAINER);
	const char *f = jstr(ann, JOB_ANN_CMD_FILE);
	json_t *arr = NULL, *w;
	size_t i, n;
	int r;

	if (!cmd)
		return 0;
	if (c && strlen(c) >= sizeof(v->cmd_container))
		return err_set(e, -EINVAL, "annotation %s is too long", JOB_ANN_CMD_CONTAINER);
	snprintf(v->cmd_container, sizeof(v->cmd_container), "%s", c ? c : "");
	if (f && (!file_name_ok(f) || strlen(f) >= sizeof(v->cmd_file)))
		return err_set(e, -EINVAL,
		               "annotation %s must be one path component (no '/', not . or ..)",
		               JOB_ANN_CMD_FILE);
	if (f)
		snprintf(v->cmd_file, sizeof(v->cmd_file), "%s", f);
	else if (file_name_ok(p->volume) && strlen(p->volume) + 6 < sizeof(v->cmd_file))
		snprintf(v->cmd_file, sizeof(v->cmd_file), "%s.dump", p->volume);
	else
		snprintf(v->cmd_file, sizeof(v->cmd_file), "backup-command.out");
	while (*cmd == ' ' || *cmd == '\t' || *cmd == '\n')
		cmd++;
	if (*cmd == '[') {
		arr = json_loads(cmd, JSON_REJECT_DUPLICATES, NULL);
		n = json_array_size(arr);
		if (!json_is_array(arr) || n == 0 || n > JOB_CMD_MAX_ARGS) {
			r = err_set(e, -EINVAL,
			            "annotation %s: not a JSON array of 1 to %d strings",
			            JOB_ANN_CMD, JOB_CMD_MAX_ARGS);
			goto fail;
		}
	} else if (*cmd) {
		n = 3;
	} else {
		return err_set(e, -EINVAL, "annotation %s is empty", JOB_ANN_CMD);
	}
	v->cmd_argv = calloc(n + 1, sizeof(*v->cmd_argv));
	if (!v->cmd_argv) {
		r = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (arr) {
			w = json_array_get(arr, i);
			if (!json_is_string(w)) {
				r = err_set(e, -EINVAL, "annotation %s: word %zu is not a string",
				            JOB_ANN_CMD, i);
				goto fail;
			}
			v->cmd_argv[i] = strdup(json_string_value(w));
		} else {
			v->cmd_argv[i] = strdup(i == 0 ? "sh" : i == 1 ? "-c" : cmd);
		}
		if (!v->cmd_argv[i]) {
			r = err_set(e, -ENOMEM, "out of memory");
			goto fail;
		}
		v->cmd_argc = i + 1;
	}
	if (asprintf(&v->path, "backup-command:%s", v->cmd_file) < 0) {
		v->path = NULL;
		r = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	r = 1;
fail:
	json_decref(arr);
	return r;
}

/* The spec a restore needs to re-create the claim: the controller's annotation when it
 * wrote one, else the same fields read from the claim itself. */
static int pvc_spec_tag(const json_t *obj, const json_t *pvc, char **ret)
{
	const char *ann = jstr(json_object_get(json_object_get(obj, "metadata"), "annotations"),
	                       PVB_ANN_PVC_SPEC);
	const json_t *spec = json_object_get(pvc, "spec");
	char *txt = NULL, *tag = NULL;
	json_t *o = NULL;

	if (!ann || !ann[0]) {
		o = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "storageClassName",
		              json_object_get(spec, "storageClassName"), "accessModes",
		              json_object_get(spec, "accessModes"), "volumeMode",
		              json_object_get(spec, "volumeMode"), "resources",
		              json_object_get(spec, "resources"), "labels",
		              json_object_get(json_object_get(pvc, "metadata"), "labels"), "capacity",
		              json_object_get(json_object_get(pvc, "status"), "capacity"));
		txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(o);
		if (!txt)
			return -ENOMEM;
		ann = txt;
	}
	if (asprintf(&tag, "pvc-spec=%s", ann) < 0)
		tag = NULL;
	free(txt);
	if (!tag)
		return -ENOMEM;
	*ret = tag;
	return 0;
}

int job_prepare(struct kube *k, const struct agent_ctx *a, const struct pvb *p, const json_t *obj,
                struct job_volume *ret, struct err *e)
{
	json_t *pod = NULL, *pvc = NULL, *pv = NULL, *drivers = NULL;
	struct job_volume v = { 0 };
	const json_t *podvol;
	const char *claim = NULL, *pvname, *uid;
	char path[1024], dir[320], owner[300];
	int r;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p->pod_ns, p->pod_name);
	r = kube_get(k, path, &pod, e);
	if (r < 0) {
		err_wrap(e, r, "pod %s/%s", p->pod_ns, p->pod_name);
		goto fail;
	}
	uid = jstr(json_object_get(pod, "metadata"), "uid");
	if (uid && strcmp(uid, p->pod_uid) != 0) {
		r = err_set(e, -ESTALE, "pod %s/%s was re-created (uid %s, the backup names %s)",
		            p->pod_ns, p->pod_name, uid, p->pod_uid);
		goto fail;
	}
	podvol = kubelet_pod_volume(pod, p->volume);
	if (!podvol) {
		r = err_set(e, -ENOENT, "pod %s/%s has no volume %s", p->pod_ns, p->pod_name,
		            p->volume);
		goto fail;
	}
	r = command_of(pod, p, &v, e);
	if (r < 0)
		goto fail;
	claim = jstr(json_object_get(podvol, "persistentVolumeClaim"), "claimName");
	if (claim) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s",
		         p->pod_ns, claim);
		r = kube_get(k, path, &pvc, e);
		if (r < 0) {
			err_wrap(e, r, "claim %s/%s", p->pod_ns, claim);
			goto fail;
		}
		pvname = jstr(json_object_get(pvc, "spec"), "volumeName");
		if (!pvname || !pvname[0]) {
			r = err_set(e, -EINVAL, "claim %s/%s is not bound", p->pod_ns, claim);
			goto fail;
		}
		snprintf(path, sizeof(path), "/api/v1/persistentvolumes/%s", pvname);
		r = kube_get(k, path, &pv, e);
		if (r < 0) {
			err_wrap(e, r, "persistent volume %s", pvname);
			goto fail;
		}
	}
	if (!v.cmd_argv && kubelet_pv_needs_drivers(pv)) {
		r = kube_get(k, "/apis/storage.k8s.io/v1/csidrivers", &drivers, e);
		if (r < 0) {
			err_wrap(e, r, "CSI drivers (to resolve a migrated PV)");
			goto fail;
		}
	}
	/* With a backup command the volume's folder is not read: no need to find it. */
	if (!v.cmd_argv) {
		r = kubelet_volume_dir(podvol, pv, drivers, dir, sizeof(dir), e);
		if (r < 0)
			goto fail;
		r = kubelet_resolve(a->cfg->host_pods, p->pod_uid, dir, &v.path, e);
		if (r < 0)
			goto fail;
	}
	owner_of(pod, p->pod_name, owner, sizeof(owner));
	add_tag(&v, "ns", p->pod_ns);
	add_tag(&v, "pod", p->pod_name);
	add_tag(&v, "pod-uid", p->pod_uid);
	add_tag(&v, "volume", p->volume);
	add_tag(&v, "pvc", claim);
	add_tag(&v, "pvc-uid", pvc ? jstr(json_object_get(pvc, "metadata"), "uid") : NULL);
	add_tag(&v, "backup", spec_tag(p, obj, "backup", PVB_LABEL_BACKUP));
	add_tag(&v, "backup-uid", spec_tag(p, obj, "backup-uid", PVB_LABEL_UID));
	add_tag(&v, "owner", owner);
	add_tag(&v, "node", a->cfg->node);
	/* Marks a dump: restoring it gives one file, not the volume's tree. */
	add_tag(&v, "backup-command-file", v.cmd_argv ? v.cmd_file : NULL);
	if (pvc && (r = pvc_spec_tag(obj, pvc, &v.pvc_spec)) < 0)
		goto fail;
	/* Volume identity, never the kubelet path: the claim, else namespace+owner+volume. */
	if (tag_of(&v, "pvc-uid") >= 0) {
		v.parent_idx[v.n_parent_tags++] = (size_t)tag_of(&v, "pvc-uid");
	} else {
		v.parent_idx[v.n_parent_tags++] = (size_t)tag_of(&v, "ns");
		v.parent_idx[v.n_parent_tags++] = (size_t)tag_of(&v, "owner");
		v.parent_idx[v.n_parent_tags++] = (size_t)tag_of(&v, "volume");
	}
	*ret = v;
	memset(&v, 0, sizeof(v));
	r = 0;
fail:
	job_volume_release(&v);
	json_decref(pod);
	json_decref(pvc);
	json_decref(pv);
	json_decref(drivers);
	return r;
}

#define JOB_MAX_OPTS 32

static int open_or_create(const struct agent_ctx *a, const char *url,
                          const struct backend_options *bo, bool create, struct repo **ret,
                          struct err *e)
{
	struct repo_open_params op = { url, bo, a->cfg->password, a->cfg->password_len };
	struct repo_create_params cp;
	int r;

	r = repo_open(&op, ret, e);
	if (r == -ENOENT && create) {
		/* A namespace's first backup under a storage location creates its
		 * repository; agents on other nodes may race us, so -EEXIST means "open it". */
		err_clear(e);
		repo_create_params_default(&cp);
		r = repo_create(&op, &cp, ret, e);
		if (r == -EEXIST) {
			err_clear(e);
			r = repo_open(&op, ret, e);
		}
		if (r == 0)
			log_info("created repository %s", url);
	}
	/* Once per opening: insecure TLS or plain HTTP is a choice the log must show. */
	if (r == 0 && repo_backend(*ret)->caution[0])
		log_warn("%s", repo_backend(*ret)->caution);
	return r;
}

int job_open_repo(struct kube *k, const struct agent_ctx *a, const struct pvb *p, struct repo **ret,
                  struct err *e)
{
	const struct backend_options *fixed = a->cfg->bopts;
	const char *kv[JOB_MAX_OPTS];
	char *opts[8] = { 0 }, *url = NULL, path[1024];
	struct backend_options bo = { kv, 0 };
	size_t n_opts = 0, i;
	json_t *bsl = NULL;
	int r;

	if (a->cfg->repo_url)
		return open_or_create(a, a->cfg->repo_url, fixed, false, ret, e);
	if (!p->bsl || !p->bsl[0])
		return err_set(e, -EINVAL,
		               "no repository: the backup names no storage location "
		               "and the agent has no --repo");
	snprintf(path, sizeof(path), CAIRN_API "/namespaces/%s/backupstoragelocations/%s", p->ns,
	         p->bsl);
	r = kube_get(k, path, &bsl, e);
	if (r < 0) {
		err_wrap(e, r, "backup storage location %s", p->bsl);
		goto fail;
	}
	r = bsl_repo_url(bsl, p->pod_ns, &url, opts, ELEMENTSOF(opts), &n_opts, e);
	if (r < 0)
		goto fail;
	for (i = 0; fixed && i < fixed->n && bo.n < JOB_MAX_OPTS; i++)
		kv[bo.n++] = fixed->kv[i];
	for (i = 0; i < n_opts && bo.n < JOB_MAX_OPTS; i++)
		kv[bo.n++] = opts[i];
	r = open_or_create(a, url, &bo, true, ret, e);
fail:
	for (i = 0; i < n_opts; i++)
		free(opts[i]);
	free(url);
	json_decref(bsl);
	return r;
}
