/* Owns the mapping from a pod volume to its folder under the kubelet's pods/ tree, the
 * way Velero's node agent finds it: one glob over the volume plugins, exactly one match. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/banned.h"

/* Names come from API objects: refuse anything that could leave the pods/ tree or act
 * as a glob pattern (Kubernetes names never contain these). */
static bool name_safe(const char *s)
{
	return s && s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strpbrk(s, "/\\*?[]") == NULL;
}

const json_t *kubelet_pod_volume(const json_t *pod, const char *volume)
{
	json_t *vols = json_object_get(json_object_get(pod, "spec"), "volumes"), *v;
	size_t i;

	json_array_foreach(vols, i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n && strcmp(n, volume) == 0)
			return v;
	}
	return NULL;
}

#define ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"
#define ANN_MIGRATED_TO    "pv.kubernetes.io/migrated-to"

static const char *pv_annotation(const json_t *pv, const char *key)
{
	const json_t *ann = json_object_get(json_object_get(pv, "metadata"), "annotations");
	const char *v = json_string_value(json_object_get(ann, key));

	return v && v[0] ? v : NULL;
}

bool kubelet_pv_needs_drivers(const json_t *pv)
{
	return pv && !json_object_get(json_object_get(pv, "spec"), "csi") &&
	       (pv_annotation(pv, ANN_PROVISIONED_BY) || pv_annotation(pv, ANN_MIGRATED_TO));
}

/* As Velero decides it: spec.csi, or an annotation naming an installed CSIDriver (an
 * in-tree volume under CSI migration is mounted by the CSI plugin). */
static bool pv_is_csi(const json_t *pv, const json_t *drivers)
{
	const char *prov = pv_annotation(pv, ANN_PROVISIONED_BY);
	const char *migr = pv_annotation(pv, ANN_MIGRATED_TO);
	json_t *d;
	size_t i;

	if (json_object_get(json_object_get(pv, "spec"), "csi"))
		return true;
	json_array_foreach(json_object_get(drivers, "items"), i, d)
	{
		const char *name =
		    json_string_value(json_object_get(json_object_get(d, "metadata"), "name"));

		if (name &&
		    ((prov && strcmp(prov, name) == 0) || (migr && strcmp(migr, name) == 0)))
			return true;
	}
	return false;
}

int kubelet_volume_dir(const json_t *podvol, const json_t *pv, const json_t *drivers, char *out,
                       size_t n, struct err *e)
{
	const char *vol = json_string_value(json_object_get(podvol, "name"));
	const char *name = vol;
	bool mount = false;

	if (json_object_get(podvol, "persistentVolumeClaim")) {
		name = json_string_value(json_object_get(json_object_get(pv, "metadata"), "name"));
		if (!name)
			return err_set(e, -EINVAL, "volume %s: the claim is not bound to a PV",
			               vol ? vol : "?");
		mount = pv_is_csi(pv, drivers);
	} else if (json_object_get(podvol, "csi")) {
		mount = true; /* inline CSI volumes mount under <volume>/mount too */
	}
	if (!name_safe(name))
		return err_set(e, -EINVAL, "volume %s: unusable folder name", vol ? vol : "?");
	if ((size_t)snprintf(out, n, "%s%s", name, mount ? "/mount" : "") >= n)
		return err_set(e, -ENAMETOOLONG, "volume %s: name too long", vol);
	return 0;
}

int kubelet_resolve(const char *host_pods, const char *pod_uid, const char *dir, char **ret,
                    struct err *e)
{
	char pattern[4096];
	const char *slash = strchr(dir, '/');
	char head[256];
	glob_t g = { 0 };
	struct stat st;
	char *path;
	int r, rc;

	if (!name_safe(pod_uid))
		return err_set(e, -EINVAL, "pod uid '%s' is not usable in a path", pod_uid);
	/* dir is "<name>" or "<name>/mount": check each part. */
	if ((size_t)snprintf(head, sizeof(head), "%.*s",
	                     slash ? (int)(slash - dir) : (int)strlen(dir), dir) >= sizeof(head))
		return err_set(e, -ENAMETOOLONG, "volume folder name too long");
	if ((slash && strcmp(slash, "/mount") != 0) || !name_safe(head))
		return err_set(e, -EINVAL, "volume folder '%s' is not usable in a path", dir);
	if ((size_t)snprintf(pattern, sizeof(pattern), "%s/%s/volumes/*/%s", host_pods, pod_uid,
	                     dir) >= sizeof(pattern))
		return err_set(e, -ENAMETOOLONG, "volume path too long");
	rc = glob(pattern, GLOB_NOSORT, NULL, &g);
	if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
		r = err_set(e, -ENOENT, "no volume folder matches %s", pattern);
		goto fail;
	}
	if (rc != 0) {
		r = err_set(e, rc == GLOB_NOSPACE ? -ENOMEM : -EIO, "cannot search %s", pattern);
		goto fail;
	}
	if (g.gl_pathc > 1) {
		r = err_set(e, -ENOTUNIQ, "%zu volume folders match %s", (size_t)g.gl_pathc,
		            pattern);
		goto fail;
	}
	if (stat(g.gl_pathv[0], &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = err_set(e, -ENOTDIR, "%s is not a folder", g.gl_pathv[0]);
		goto fail;
	}
	path = strdup(g.gl_pathv[0]);
	r = -ENOMEM;
	if (!path)
		goto fail;
	*ret = path;
	r = 0;
fail:
	globfree(&g);
	return r;
}

int kubelet_check_pods(const char *host_pods, const json_t *pods, size_t *ret_checked,
                       struct err *e)
{
	char path[4096];
	struct stat st;
	size_t i, checked = 0;
	json_t *pod;

	if (stat(host_pods, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(e, -ENOTDIR,
		               "the kubelet pods folder %s is not a folder: mount "
		               "<kubelet-root>/pods there (--host-pods)",
		               host_pods);
	json_array_foreach(pods, i, pod)
	{
		const json_t *meta = json_object_get(pod, "metadata");
		const char *uid = json_string_value(json_object_get(meta, "uid"));
		const char *phase =
		    json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));

		/* Only a running pod surely has its folder: pending ones may not yet. */
		if (!uid || !phase || strcmp(phase, "Running") != 0 || !name_safe(uid))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", host_pods, uid) >= sizeof(path))
			return err_set(e, -ENAMETOOLONG, "kubelet pods folder path too long");
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(
			    e, -ENOENT,
			    "%s is not the kubelet pods folder of this node: running pod "
			    "%s/%s has no folder %s (is the kubelet root elsewhere than "
			    "/var/lib/kubelet?)",
			    host_pods, json_string_value(json_object_get(meta, "namespace")),
			    json_string_value(json_object_get(meta, "name")), path);
		checked++;
	}
	*ret_checked = checked;
	return 0;
}
