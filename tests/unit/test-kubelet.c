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

static const char *voldir_drivers(const char *podvol_json, const char *pv_json,
                                  const char *drivers_json, int *ret_r)
{
	static char out[300];
	struct err e = ERR_INIT;
	json_t *v = json_loads(podvol_json, 0, NULL),
	       *pv = pv_json ? json_loads(pv_json, 0, NULL) : NULL,
	       *dr = drivers_json ? json_loads(drivers_json, 0, NULL) : NULL;

	out[0] = 0;
	*ret_r = kubelet_volume_dir(v, pv, dr, out, sizeof(out), &e);
	json_decref(v);
	json_decref(pv);
	json_decref(dr);
	return out;
}

static const char *voldir(const char *podvol_json, const char *pv_json, int *ret_r)
{
	return voldir_drivers(podvol_json, pv_json, NULL, ret_r);
}

#define PVC_VOL "{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}"
#define DRIVERS "{\"items\":[{\"metadata\":{\"name\":\"ebs.csi.aws.com\"}}]}"

/* In-tree PVs migrated to CSI: mounted by the CSI plugin under <pv>/mount. */
static void csi_migration(void)
{
	const char *prov =
	    "{\"metadata\":{\"name\":\"pv-m\",\"annotations\":{\"pv.kubernetes.io/"
	    "provisioned-by\":\"ebs.csi.aws.com\"}},\"spec\":{\"awsElasticBlockStore\""
	    ":{}}}";
	const char *migr = "{\"metadata\":{\"name\":\"pv-m\",\"annotations\":{\"pv.kubernetes.io/"
	                   "provisioned-by\":\"kubernetes.io/aws-ebs\",\"pv.kubernetes.io/"
	                   "migrated-to\":\"ebs.csi.aws.com\"}},\"spec\":{\"awsElasticBlockStore\""
	                   ":{}}}";
	json_t *pv = json_loads(migr, 0, NULL);
	int r;

	ok(kubelet_pv_needs_drivers(pv), "an annotated in-tree PV needs the CSIDriver list");
	json_decref(pv);
	is_str(voldir_drivers(PVC_VOL, prov, DRIVERS, &r), "pv-m/mount",
	       "provisioned-by naming an installed CSIDriver: <pv>/mount");
	is_str(voldir_drivers(PVC_VOL, migr, DRIVERS, &r), "pv-m/mount",
	       "migrated-to naming an installed CSIDriver: <pv>/mount");
	is_str(voldir_drivers(PVC_VOL, migr, "{\"items\":[]}", &r), "pv-m",
	       "annotation naming no installed CSIDriver: the PV name");
}

static void check_pods(void)
{
	char pods[600];
	struct err e = ERR_INIT;
	size_t n = 0;
	json_t *list;

	snprintf(pods, sizeof(pods),
	         "[{\"metadata\":{\"namespace\":\"a\",\"name\":\"p1\",\"uid\":\"uid-1\"},"
	         "\"status\":{\"phase\":\"Running\"}},"
	         "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p9\",\"uid\":\"uid-9\"},"
	         "\"status\":{\"phase\":\"Pending\"}}]");
	list = json_loads(pods, 0, NULL);
	is_int(kubelet_check_pods(root, list, &n, &e), 0, "running pods have their folders");
	is_int((int)n, 1, "pending pods are not checked");
	json_decref(list);
	snprintf(pods, sizeof(pods),
	         "[{\"metadata\":{\"namespace\":\"a\",\"name\":\"p9\",\"uid\":\"uid-9\"},"
	         "\"status\":{\"phase\":\"Running\"}}]");
	list = json_loads(pods, 0, NULL);
	is_int(kubelet_check_pods(root, list, &n, &e), -ENOENT, "a running pod without a folder");
	ok(strstr(e.msg, "a/p9") && strstr(e.msg, "uid-9"), "message names the pod: %s", e.msg);
	err_clear(&e);
	is_int(kubelet_check_pods("/nonexistent-kubelet", list, &n, &e), -ENOTDIR,
	       "a missing pods folder");
	json_decref(list);
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

	csi_migration();
	check_pods();

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
