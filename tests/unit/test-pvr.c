/* PodVolumeRestore records as the agent parses them: required fields, wrong types, and
 * hostile values (names that would leave the API path or the volume folder, huge sizes). */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "util/banned.h"

static const char *const good =
    "{\"apiVersion\":\"cairn.dev/v1alpha1\",\"kind\":\"PodVolumeRestore\","
    "\"metadata\":{\"name\":\"r1-abc\",\"namespace\":\"cairn\",\"uid\":\"u-1\","
    "\"labels\":{\"cairn.dev/restore-uid\":\"5d0f6a1e-0000-4000-8000-00000000c0c0\"}},"
    "\"spec\":{\"pod\":{\"kind\":\"Pod\",\"namespace\":\"app\",\"name\":\"db-0\",\"uid\":\"p-1\"},"
    "\"volume\":\"data\",\"snapshotID\":\"0123456789abcdef\",\"backupStorageLocation\":\"default\","
    "\"sourceNamespace\":\"prod\",\"snapshotSize\":1234,\"overwrite\":true},"
    "\"status\":{\"phase\":\"InProgress\",\"node\":\"n1\"}}";

static json_t *load(void)
{
	json_t *o = json_loads(good, 0, NULL);

	if (!o)
		abort();
	return o;
}

/* The good object with obj[path] (dotted, e.g. "spec.pod.name") set to v (stolen), or
 * removed when v is NULL; the result of pvr_parse. */
static int parse_with(const char *path, json_t *v, struct pvr *p)
{
	json_t *o = load(), *at = o;
	char buf[128], *dot, *key = buf;
	struct pvr scratch;
	int r;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((dot = strchr(key, '.'))) {
		*dot = 0;
		at = json_object_get(at, key);
		key = dot + 1;
	}
	if (v)
		json_object_set_new(at, key, v);
	else
		json_object_del(at, key);
	r = pvr_parse(o, p ? p : &scratch);
	/* p's strings borrow from o: the callers that keep p look only at scalars. */
	json_decref(o);
	return r;
}

static void refused(const char *path, json_t *v, const char *what)
{
	is_int(parse_with(path, v, NULL), -EINVAL, "refused: %s", what);
}

int main(void)
{
	json_t *o = load();
	struct pvr p;
	char longname[400];

	is_int(pvr_parse(o, &p), 0, "a complete PodVolumeRestore parses");
	is_str(p.name, "r1-abc", "name");
	is_str(p.pod_ns, "app", "pod namespace");
	is_str(p.pod_name, "db-0", "pod name");
	is_str(p.pod_uid, "p-1", "pod uid");
	is_str(p.volume, "data", "volume");
	is_str(p.snapshot, "0123456789abcdef", "snapshot");
	is_str(p.bsl, "default", "storage location");
	is_str(p.source_ns, "prod", "source namespace");
	is_str(p.restore_uid, "5d0f6a1e-0000-4000-8000-00000000c0c0", "restore uid from the label");
	is_str(p.node, "n1", "status.node");
	is_int(p.phase, PVB_IN_PROGRESS, "phase");
	ok(p.size == 1234, "snapshotSize");
	ok(p.overwrite && !p.cancel && !p.deleting && !p.no_sparse, "flags");
	json_decref(o);

	/* missing fields */
	refused("metadata.name", NULL, "no name");
	refused("metadata.namespace", NULL, "no namespace");
	refused("spec.pod", NULL, "no pod");
	refused("spec.pod.name", NULL, "no pod name");
	refused("spec.pod.namespace", NULL, "no pod namespace");
	refused("spec.volume", NULL, "no volume");
	refused("spec.snapshotID", NULL, "no snapshot");
	refused("spec", NULL, "no spec");
	refused("metadata.labels", NULL, "no restore uid (no label, no owner)");
	is_int(parse_with("spec.sourceNamespace", NULL, &p), 0, "no sourceNamespace: fine");
	is_int(parse_with("spec.backupStorageLocation", NULL, &p), 0,
	       "no storage location: fine (an agent with --repo)");
	is_int(parse_with("status", NULL, &p), 0, "no status: fine");
	is_int(p.phase, PVB_NEW, "no status: New");
	is_int(parse_with("spec.pod.uid", NULL, &p), 0, "no pod uid: fine");
	{
		json_t *x = load();

		json_object_del(json_object_get(x, "spec"), "sourceNamespace");
		is_int(pvr_parse(x, &p), 0, "source namespace defaults");
		is_str(p.source_ns, "app", "to the pod's namespace");
		json_decref(x);
	}
	{
		json_t *x = load();

		/* the owner's uid when the label is missing */
		json_object_del(json_object_get(x, "metadata"), "labels");
		json_object_set_new(json_object_get(x, "metadata"), "ownerReferences",
		                    json_pack("[{s:s,s:s},{s:s,s:s}]", "kind", "Backup", "uid",
		                              "nope", "kind", "Restore", "uid", "own-uid"));
		is_int(pvr_parse(x, &p), 0, "restore uid from the owner reference");
		is_str(p.restore_uid, "own-uid", "the Restore owner's uid");
		json_decref(x);
	}

	/* wrong types */
	refused("metadata.name", json_integer(7), "name is a number");
	refused("spec.volume", json_pack("[s]", "data"), "volume is an array");
	refused("spec.pod", json_string("db-0"), "pod is a string");
	refused("spec.snapshotID", json_true(), "snapshot is a boolean");
	refused("metadata.labels", json_string("x"), "labels is a string");
	is_int(parse_with("spec.cancel", json_string("true"), &p), 0, "cancel as a string parses");
	ok(!p.cancel, "...and is not a cancel");
	is_int(parse_with("spec.overwrite", json_integer(1), &p), 0, "overwrite as a number parses");
	ok(!p.overwrite, "...and is no overwrite");
	is_int(parse_with("spec.writeSparseFiles", json_false(), &p), 0, "writeSparseFiles false");
	ok(p.no_sparse, "...writes holes as zeros");
	is_int(parse_with("spec.writeSparseFiles", json_string("false"), &p), 0,
	       "writeSparseFiles as a string parses");
	ok(!p.no_sparse, "...and keeps the default (holes)");
	is_int(parse_with("spec.snapshotSize", json_string("12"), &p), 0, "size as a string");
	ok(p.size == 0, "...is unknown");
	is_int(parse_with("status.phase", json_string("Exploded"), &p), 0, "unknown phase parses");
	is_int(p.phase, _PVB_PHASE_INVALID, "...as invalid");
	is_int(parse_with("status.node", json_integer(3), &p), 0, "node as a number");
	ok(p.node == NULL, "...is no node");

	/* hostile values */
	refused("spec.volume", json_string("../../etc"), "volume with ..");
	refused("spec.volume", json_string("a/b"), "volume with '/'");
	refused("spec.volume", json_string(".."), "volume ..");
	refused("spec.volume", json_string("."), "volume .");
	refused("spec.volume", json_string(""), "empty volume");
	refused("spec.pod.name", json_string("x/../../../api/v1/secrets"), "pod name leaving the path");
	refused("spec.pod.name", json_string("db-0?watch=1"), "pod name with a query");
	refused("spec.pod.namespace", json_string("app/pods/other"), "pod namespace with '/'");
	refused("spec.pod.namespace", json_string("app%2fx"), "pod namespace with '%'");
	refused("spec.backupStorageLocation", json_string("../other"), "location with ..");
	refused("spec.sourceNamespace", json_string("a/b"), "source namespace with '/'");
	refused("spec.snapshotID", json_string("latest"), "snapshot 'latest' (only an id)");
	refused("spec.snapshotID", json_string("01234g"), "snapshot not hex");
	refused("spec.snapshotID", json_string(""), "empty snapshot");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	refused("spec.pod.name", json_string(longname), "a 399-byte pod name");
	refused("spec.volume", json_string(longname), "a 399-byte volume");
	refused("spec.snapshotID", json_string(longname), "a 399-byte snapshot id");
	is_int(parse_with("spec.volume", json_string("data-1.x"), &p), 0,
	       "a volume name with '-' and '.' is fine");
	is_int(parse_with("spec.snapshotSize", json_integer(-5), &p), 0, "negative size parses");
	ok(p.size == 0, "...as unknown");
	is_int(parse_with("spec.snapshotSize", json_integer(INT64_MAX), &p), 0, "huge size parses");
	ok(p.size == (uint64_t)INT64_MAX, "...as given");
	is_int(parse_with("spec.snapshotSize", json_real(1e300), &p), 0, "1e300 parses");
	ok(p.size == 0, "...as unknown");
	{
		/* a number past int64 in the text itself */
		json_error_t je;
		json_t *x = json_loads("{\"spec\":{\"snapshotSize\":99999999999999999999999}}", 0, &je);

		ok(x == NULL || json_is_real(json_object_get(json_object_get(x, "spec"),
		                                             "snapshotSize")),
		   "jansson refuses or reals a number past int64");
		json_decref(x);
	}
	{
		json_t *x = load();

		json_object_set_new(json_object_get(x, "metadata"), "labels",
		                    json_pack("{s:s}", PVR_LABEL_RESTORE_UID, "../../x"));
		is_int(pvr_parse(x, &p), -EINVAL, "refused: restore uid with '/'");
		json_object_set_new(json_object_get(x, "metadata"), "labels",
		                    json_pack("{s:s}", PVR_LABEL_RESTORE_UID, ".."));
		is_int(pvr_parse(x, &p), -EINVAL, "refused: restore uid ..");
		json_decref(x);
	}
	refused("metadata", json_null(), "metadata null");
	is_int(pvr_parse(json_null(), &p), -EINVAL, "refused: a JSON null");
	{
		json_t *x = json_array();

		is_int(pvr_parse(x, &p), -EINVAL, "refused: an array");
		json_decref(x);
	}
	return tap_done();
}
