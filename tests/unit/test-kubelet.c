/* The kubelet path resolver against real folders: emptyDir, CSI and non-CSI PVCs, inline
 * CSI, missing and ambiguous matches, unsafe names. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/tap.h"
#include "util/banned.h"
#include "util/fsutil.h"

static char root[] = "/tmp/test-kubelet-XXXXXX";

static void mk(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (mkdir_p(p, 0755) < 0)
		abort();
}

static void resolve_ok(const char *uid, const char *dir, const char *want_rel, const char *what)
{
	struct err e = ERR_INIT;
	char want[512], *got = NULL;
	int r = kubelet_resolve(root, uid, dir, &got, &e);

	snprintf(want, sizeof(want), "%s/%s", root, want_rel);
	if (r < 0)
		tap_diag("%s", e.msg);
	is_str(got, want, "%s", what);
	free(got);
}

static const char *voldir(const char *podvol_json, const char *pv_json, int *ret_r)
{
	static char out[300];
	struct err e = ERR_INIT;
	json_t *v = json_loads(podvol_json, 0, NULL),
	       *pv = pv_json ? json_loads(pv_json, 0, NULL) : NULL;

	out[0] = 0;
	*ret_r = kubelet_volume_dir(v, pv, out, sizeof(out), &e);
	json_decref(v);
	json_decref(pv);
	return out;
}

int main(void)
{
	struct err e = ERR_INIT;
	char *got = NULL;
	json_t *pod;
	int r;

	if (!mkdtemp(root))
		return 1;
	mk("uid-1/volumes/kubernetes.io~empty-dir/cache");
	mk("uid-1/volumes/kubernetes.io~csi/pv-abc/mount");
	mk("uid-1/volumes/kubernetes.io~nfs/pv-nfs");
	mk("uid-1/volumes/kubernetes.io~csi/inline/mount");
	mk("uid-2/volumes/kubernetes.io~empty-dir/data");
	mk("uid-2/volumes/kubernetes.io~configmap/data");

	/* Which folder name each kind of volume uses. */
	is_str(voldir("{\"name\":\"cache\",\"emptyDir\":{}}", NULL, &r), "cache",
	       "emptyDir: the volume name");
	is_str(voldir("{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}",
	              "{\"metadata\":{\"name\":\"pv-abc\"},\"spec\":{\"csi\":{\"driver\":\"x\"}}}",
	              &r),
	       "pv-abc/mount", "CSI PVC: <pv>/mount");
	is_str(voldir("{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}",
	              "{\"metadata\":{\"name\":\"pv-nfs\"},\"spec\":{\"nfs\":{}}}", &r),
	       "pv-nfs", "non-CSI PVC: the PV name");
	is_str(voldir("{\"name\":\"inline\",\"csi\":{\"driver\":\"x\"}}", NULL, &r), "inline/mount",
	       "inline CSI: <volume>/mount");
	voldir("{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}", NULL, &r);
	is_int(r, -EINVAL, "unbound claim fails");
	voldir("{\"name\":\"../x\",\"emptyDir\":{}}", NULL, &r);
	is_int(r, -EINVAL, "unsafe volume name refused");

	resolve_ok("uid-1", "cache", "uid-1/volumes/kubernetes.io~empty-dir/cache",
	           "emptyDir found");
	resolve_ok("uid-1", "pv-abc/mount", "uid-1/volumes/kubernetes.io~csi/pv-abc/mount",
	           "CSI PVC found");
	resolve_ok("uid-1", "pv-nfs", "uid-1/volumes/kubernetes.io~nfs/pv-nfs", "NFS PVC found");
	resolve_ok("uid-1", "inline/mount", "uid-1/volumes/kubernetes.io~csi/inline/mount",
	           "inline CSI found");

	r = kubelet_resolve(root, "uid-1", "gone", &got, &e);
	is_int(r, -ENOENT, "missing volume is -ENOENT");
	ok(strstr(e.msg, "/uid-1/volumes/*/gone") != NULL, "message names the glob: %s", e.msg);
	err_clear(&e);
	r = kubelet_resolve(root, "uid-2", "data", &got, &e);
	is_int(r, -ENOTUNIQ, "two plugins with the same name are ambiguous");
	ok(strstr(e.msg, "2 volume folders match") && strstr(e.msg, "/uid-2/volumes/*/data"),
	   "message counts matches and names the glob: %s", e.msg);
	err_clear(&e);
	is_int(kubelet_resolve(root, "..", "cache", &got, &e), -EINVAL, "'..' pod uid refused");
	is_int(kubelet_resolve(root, "uid-1", "*", &got, &e), -EINVAL, "glob characters refused");
	is_int(kubelet_resolve(root, "uid-1", "pv-abc/../x", &got, &e), -EINVAL,
	       "only /mount may follow");
	is_int(kubelet_resolve(root, "uid-9", "cache", &got, &e), -ENOENT, "unknown pod uid");

	pod = json_loads(
	    "{\"spec\":{\"volumes\":[{\"name\":\"a\"},{\"name\":\"b\",\"emptyDir\":{}}]}}", 0,
	    NULL);
	ok(kubelet_pod_volume(pod, "b") ==
	       json_array_get(json_object_get(json_object_get(pod, "spec"), "volumes"), 1),
	   "pod volume found by name");
	ok(kubelet_pod_volume(pod, "c") == NULL, "unknown volume is NULL");
	json_decref(pod);

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			tap_diag("cleanup failed");
	}
	return tap_done();
}
