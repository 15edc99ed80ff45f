/* Owns the PodVolumeBackup record: reading its spec, deciding whether this node claims it,
 * and writing status fields and the finalizer into the object for a whole-object update. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"

static const char *const phase_names[] = {
	[PVB_NEW] = "New",
	[PVB_ACCEPTED] = "Accepted",
	[PVB_IN_PROGRESS] = "InProgress",
	[PVB_COMPLETED] = "Completed",
	[PVB_FAILED] = "Failed",
	[PVB_CANCELED] = "Canceled",
	[PVB_PARTIALLY_FAILED] = "PartiallyFailed",
};

const char *pvb_phase_name(enum pvb_phase p)
{
	return p >= 0 && p < _PVB_PHASE_MAX ? phase_names[p] : "Unknown";
}

enum pvb_phase pvb_phase_from_name(const char *s)
{
	int i;

	if (!s || !s[0])
		return PVB_NEW;
	for (i = 0; i < _PVB_PHASE_MAX; i++)
		if (strcmp(s, phase_names[i]) == 0)
			return i;
	return _PVB_PHASE_INVALID;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int pvb_parse(const json_t *obj, struct pvb *ret)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *pod = json_object_get(spec, "pod");
	const json_t *status = json_object_get(obj, "status");
	struct pvb p = { 0 };

	p.name = jstr(meta, "name");
	p.ns = jstr(meta, "namespace");
	p.uid = jstr(meta, "uid");
	p.deleting = jstr(meta, "deletionTimestamp") != NULL;
	p.node = jstr(spec, "node");
	p.volume = jstr(spec, "volume");
	p.bsl = jstr(spec, "backupStorageLocation");
	p.cancel = json_is_true(json_object_get(spec, "cancel"));
	p.pod_ns = jstr(pod, "namespace");
	p.pod_name = jstr(pod, "name");
	p.pod_uid = jstr(pod, "uid");
	p.tags = json_object_get(spec, "tags");
	if (p.tags && !json_is_object(p.tags))
		p.tags = NULL;
	p.phase = pvb_phase_from_name(jstr(status, "phase"));
	if (!p.name || !p.ns || !p.node || !p.volume || !p.pod_name || !p.pod_ns || !p.pod_uid)
		return -EINVAL;
	*ret = p;
	return 0;
}

bool pvb_terminal(enum pvb_phase p)
{
	return p == PVB_COMPLETED || p == PVB_FAILED || p == PVB_CANCELED ||
	       p == PVB_PARTIALLY_FAILED;
}

bool pvb_claimable(const struct pvb *p, const char *node)
{
	return strcmp(p->node, node) == 0 && p->phase == PVB_NEW && !p->cancel && !p->deleting;
}

static int set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v)) < 0 ? -ENOMEM : 0;
}

static int set_u64(json_t *o, const char *k, uint64_t v)
{
	/* JSON integers are signed 64-bit in jansson; byte counts never get that far. */
	return json_object_set_new(o, k,
	                           json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v))) < 0
	           ? -ENOMEM
	           : 0;
}

static int set_time(json_t *o, const char *k, time_t t)
{
	char ts[32];

	kube_timestamp(t, ts);
	return set_str(o, k, ts);
}

int pvb_status_apply(json_t *obj, const struct pvb_status *s)
{
	json_t *st = json_object_get(obj, "status"), *prog;
	int r = -ENOMEM;

	if (!json_is_object(st)) {
		st = json_object();
		if (!st || json_object_set_new(obj, "status", st) < 0)
			return -ENOMEM;
	}
	if (set_str(st, "phase", pvb_phase_name(s->phase)) < 0)
		return r;
	if (s->message && s->message[0] && set_str(st, "message", s->message) < 0)
		return r;
	if (s->message && !s->message[0])
		(void)json_object_del(st, "message"); /* absent already is fine */
	if (s->snapshot_id && set_str(st, "snapshotID", s->snapshot_id) < 0)
		return r;
	if (s->path && set_str(st, "path", s->path) < 0)
		return r;
	if (s->node && set_str(st, "node", s->node) < 0)
		return r;
	if (s->accepted && set_time(st, "acceptedTimestamp", s->accepted) < 0)
		return r;
	if (s->start && set_time(st, "startTimestamp", s->start) < 0)
		return r;
	if (s->completion && set_time(st, "completionTimestamp", s->completion) < 0)
		return r;
	if (s->has_progress) {
		prog = json_object();
		if (!prog || json_object_set_new(st, "progress", prog) < 0 ||
		    set_u64(prog, "totalBytes", s->total_bytes) < 0 ||
		    set_u64(prog, "bytesDone", s->bytes_done) < 0)
			return r;
	}
	if (s->has_incremental && set_u64(st, "incrementalBytes", s->incremental_bytes) < 0)
		return r;
	return 0;
}

int pvb_finalizer(json_t *obj, bool add)
{
	json_t *meta = json_object_get(obj, "metadata"), *fins, *f;
	size_t i;

	if (!json_is_object(meta))
		return -EINVAL;
	fins = json_object_get(meta, "finalizers");
	json_array_foreach(fins, i, f)
	{
		const char *s = json_string_value(f);

		if (s && strcmp(s, PVB_FINALIZER) == 0) {
			if (add)
				return 0;
			return json_array_remove(fins, i) < 0 ? -ENOMEM : 1;
		}
	}
	if (!add)
		return 0;
	if (!json_is_array(fins)) {
		fins = json_array();
		if (!fins || json_object_set_new(meta, "finalizers", fins) < 0)
			return -ENOMEM;
	}
	return json_array_append_new(fins, json_string(PVB_FINALIZER)) < 0 ? -ENOMEM : 1;
}
