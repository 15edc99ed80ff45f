/* Fuzz target: the Kubernetes objects the node agent decodes, as anyone allowed to create
 * them in the cluster may write them: {"object": a PodVolumeBackup or PodVolumeRestore,
 * "pod": its pod, "pv": the bound PersistentVolume, "drivers": a CSIDriverList}. Whatever
 * is accepted must be safe to put in an API path or under the kubelet's pods folder: no
 * '/', no "." or ".." where a single name goes. The input decodes when the record parses
 * and its volume resolves to a folder name. */
#include <jansson.h>
#include <string.h>

#include "agent/agent-internal.h"
#include "tests/fuzz/fuzz.h"

static void check_name(const char *s)
{
	if (!s || !s[0] || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		__builtin_trap();
}

/* "name" or "name/mount", name a single component. */
static void check_dir(const char *d)
{
	const char *slash = strchr(d, '/');
	char first[256];
	size_t n = slash ? (size_t)(slash - d) : strlen(d);

	if (n >= sizeof(first) || (slash && strcmp(slash, "/mount") != 0))
		__builtin_trap();
	memcpy(first, d, n);
	first[n] = 0;
	check_name(first);
}

int fuzz_decode(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, 0, NULL);
	json_t *obj = json_object_get(in, "object"), *pod = json_object_get(in, "pod");
	const json_t *podvol;
	struct err e = ERR_INIT;
	struct pvb b;
	struct pvr r;
	const char *volume = NULL;
	char dir[512];
	int ok = 0;

	if (pvb_parse(obj, &b) == 0) {
		(void)pvb_claimable(&b, "node-1");
		volume = b.volume;
	}
	if (pvr_parse(obj, &r) == 0) {
		check_name(r.name);
		check_name(r.ns);
		check_name(r.pod_ns);
		check_name(r.pod_name);
		check_name(r.volume);
		check_name(r.snapshot);
		check_name(r.restore_uid);
		check_name(r.source_ns);
		(void)pvr_pod_ready(pod, "node-1");
		volume = r.volume;
	}
	podvol = volume ? kubelet_pod_volume(pod, volume) : NULL;
	if (podvol &&
	    kubelet_volume_dir(podvol, json_object_get(in, "pv"), json_object_get(in, "drivers"),
	                       dir, sizeof(dir), &e) == 0) {
		check_dir(dir);
		ok = 1;
	}
	json_decref(in);
	return ok;
}
