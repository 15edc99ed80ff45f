/* Owns the PodVolumeRestore record as the agent reads it: its spec, the restore it belongs
 * to, and whether its target pod is on this node and ready for the data. Status fields
 * are written with pvb_status_apply (the two kinds share them). */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/hex.h"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The restore uid becomes a file name under <volume>/.velero/. */
static bool uid_usable(const char *s)
{
	return s && s[0] && strlen(s) < 128 && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

/* Names that go into API paths (/namespaces/<ns>/pods/<name>) and the volume looked up in
 * the pod: Kubernetes allows only DNS names there, so anything else is forged and would
 * reach another URL ("x/../secrets", "x?watch") or, for a volume, another folder. */
static bool dns_name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

/* The snapshot is named by its id (what the backup recorded), never "latest" or a tag. */
static bool snapshot_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > ID_HEX - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static const char *owner_uid(const json_t *meta)
{
	const json_t *refs = json_object_get(meta, "ownerReferences"), *o;
	size_t i;

	json_array_foreach(refs, i, o)
	{
		const char *kind = jstr(o, "kind");

		if (kind && strcmp(kind, "Restore") == 0)
			return jstr(o, "uid");
	}
	return NULL;
}

int pvr_parse(const json_t *obj, struct pvr *ret)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *pod = json_object_get(spec, "pod");
	const json_t *status = json_object_get(obj, "status");
	const json_t *size = json_object_get(spec, "snapshotSize");
	struct pvr p = { 0 };

	p.name = jstr(meta, "name");
	p.ns = jstr(meta, "namespace");
	p.uid = jstr(meta, "uid");
	p.deleting = jstr(meta, "deletionTimestamp") != NULL;
	p.restore_uid = jstr(json_object_get(meta, "labels"), PVR_LABEL_RESTORE_UID);
	if (!p.restore_uid)
		p.restore_uid = owner_uid(meta);
	p.pod_ns = jstr(pod, "namespace");
	p.pod_name = jstr(pod, "name");
	p.pod_uid = jstr(pod, "uid");
	p.volume = jstr(spec, "volume");
	p.snapshot = jstr(spec, "snapshotID");
	p.bsl = jstr(spec, "backupStorageLocation");
	p.source_ns = jstr(spec, "sourceNamespace");
	p.cancel = json_is_true(json_object_get(spec, "cancel"));
	p.overwrite = json_is_true(json_object_get(spec, "overwrite"));
	p.no_sparse = json_is_false(json_object_get(spec, "writeSparseFiles"));
	p.size = json_is_integer(size) && json_integer_value(size) > 0
	             ? (uint64_t)json_integer_value(size)
	             : 0;
	p.node = jstr(status, "node");
	p.phase = pvb_phase_from_name(jstr(status, "phase"));
	if (!dns_name_ok(p.name, 253) || !dns_name_ok(p.ns, 63) || !dns_name_ok(p.pod_ns, 63) ||
	    !dns_name_ok(p.pod_name, 253) || !dns_name_ok(p.volume, 63) ||
	    !snapshot_ok(p.snapshot) || !uid_usable(p.restore_uid))
		return -EINVAL;
	if (p.bsl && p.bsl[0] && !dns_name_ok(p.bsl, 253))
		return -EINVAL;
	if (!p.source_ns || !p.source_ns[0])
		p.source_ns = p.pod_ns;
	else if (!dns_name_ok(p.source_ns, 63))
		return -EINVAL;
	*ret = p;
	return 0;
}

static bool wait_container_running(const json_t *pod)
{
	const json_t *st = json_object_get(json_object_get(pod, "status"), "initContainerStatuses");
	const json_t *c;
	size_t i;

	json_array_foreach(st, i, c)
	{
		const char *name = jstr(c, "name");

		if (name && strcmp(name, PVR_WAIT_CONTAINER) == 0)
			return json_object_get(json_object_get(c, "state"), "running") != NULL;
	}
	return false;
}

bool pvr_pod_ready(const json_t *pod, const char *node)
{
	const json_t *meta = json_object_get(pod, "metadata");
	const char *on = jstr(json_object_get(pod, "spec"), "nodeName");
	const char *phase = jstr(json_object_get(pod, "status"), "phase");

	if (!on || strcmp(on, node) != 0 || jstr(meta, "deletionTimestamp"))
		return false;
	if (wait_container_running(pod))
		return true;
	return jstr(json_object_get(meta, "labels"), PVR_LABEL_HELPER) && phase &&
	       strcmp(phase, "Running") == 0;
}
