/* PodVolumeBackup records: parsing, claim rules, status building, the finalizer, and the
 * repository URL derived from a BackupStorageLocation. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "util/banned.h"

static json_t *pvb_json(const char *phase, bool cancel, const char *node)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:b, "
	                 "s:{s:s, s:s, s:s, s:s}}, s:{s:s}}",
	                 "apiVersion", "cairn.dev/v1alpha1", "kind", "PodVolumeBackup", "metadata",
	                 "name", "b1-abc", "namespace", "cairn", "uid", "u-1", "resourceVersion",
	                 "7", "spec", "node", node, "volume", "data", "backupStorageLocation",
	                 "default", "cancel", cancel, "pod", "kind", "Pod", "namespace", "app",
	                 "name", "web-0", "uid", "pod-uid-1", "status", "phase", phase);
}

static bool claim(const char *phase, bool cancel, const char *node)
{
	json_t *o = pvb_json(phase, cancel, node);
	struct pvb p;
	bool c = pvb_parse(o, &p) == 0 && pvb_claimable(&p, "node-1");

	json_decref(o);
	return c;
}

int main(void)
{
	struct pvb_status st = { 0 };
	json_t *o, *s, *bsl;
	struct pvb p;
	char *url = NULL, *opts[4];
	struct err e = ERR_INIT;
	size_t n = 0, i;
	int r;

	o = pvb_json("", false, "node-1");
	is_int(pvb_parse(o, &p), 0, "parses");
	is_str(p.pod_uid, "pod-uid-1", "pod uid");
	is_str(p.volume, "data", "volume");
	is_int(p.phase, PVB_NEW, "empty phase is New");
	json_decref(o);

	ok(claim("", false, "node-1"), "empty phase claimed");
	ok(claim("New", false, "node-1"), "New claimed");
	ok(!claim("InProgress", false, "node-1"), "InProgress not claimed");
	ok(!claim("Completed", false, "node-1"), "Completed not claimed");
	ok(!claim("New", true, "node-1"), "cancelled not claimed");
	ok(!claim("New", false, "node-2"), "other node left alone");
	is_int(pvb_phase_from_name("Bogus"), _PVB_PHASE_INVALID, "unknown phase");
	ok(pvb_terminal(PVB_CANCELED) && !pvb_terminal(PVB_ACCEPTED), "terminal phases");

	o = json_pack("{s:{s:s}}", "metadata", "name", "x");
	is_int(pvb_parse(o, &p), -EINVAL, "missing spec is -EINVAL");
	json_decref(o);

	/* Status through the phases, as whole-object edits. */
	o = pvb_json("Accepted", false, "node-1");
	st.phase = PVB_IN_PROGRESS;
	st.start = 1700000000;
	st.path = "/host_pods/pod-uid-1/volumes/kubernetes.io~empty-dir/data";
	st.has_progress = true;
	st.total_bytes = 100;
	st.bytes_done = 40;
	is_int(pvb_status_apply(o, &st), 0, "in progress applied");
	s = json_object_get(o, "status");
	is_str(json_string_value(json_object_get(s, "phase")), "InProgress", "phase InProgress");
	is_str(json_string_value(json_object_get(s, "startTimestamp")), "2023-11-14T22:13:20Z",
	       "startTimestamp");
	is_int(json_integer_value(json_object_get(json_object_get(s, "progress"), "bytesDone")), 40,
	       "bytesDone");
	memset(&st, 0, sizeof(st));
	st.phase = PVB_COMPLETED;
	st.snapshot_id = "abcd";
	st.completion = 1700000060;
	st.has_progress = true;
	st.total_bytes = st.bytes_done = 100;
	st.has_incremental = true;
	st.incremental_bytes = 12;
	st.message = "";
	is_int(pvb_status_apply(o, &st), 0, "completed applied");
	s = json_object_get(o, "status");
	is_str(json_string_value(json_object_get(s, "phase")), "Completed", "phase Completed");
	is_str(json_string_value(json_object_get(s, "snapshotID")), "abcd", "snapshotID");
	is_str(json_string_value(json_object_get(s, "startTimestamp")), "2023-11-14T22:13:20Z",
	       "startTimestamp kept");
	is_str(json_string_value(json_object_get(s, "completionTimestamp")), "2023-11-14T22:14:20Z",
	       "completionTimestamp");
	is_int(json_integer_value(json_object_get(json_object_get(s, "progress"), "totalBytes")),
	       100, "totalBytes");
	is_int(json_integer_value(json_object_get(s, "incrementalBytes")), 12, "incrementalBytes");
	ok(json_object_get(s, "path") != NULL, "path kept");
	ok(json_object_get(s, "message") == NULL, "empty message clears");
	memset(&st, 0, sizeof(st));
	st.phase = PVB_FAILED;
	st.message = "boom";
	is_int(pvb_status_apply(o, &st), 0, "failed applied");
	is_str(json_string_value(json_object_get(json_object_get(o, "status"), "message")), "boom",
	       "message set");

	is_int(pvb_finalizer(o, true), 1, "finalizer added");
	is_int(pvb_finalizer(o, true), 0, "added once only");
	is_int(json_array_size(json_object_get(json_object_get(o, "metadata"), "finalizers")), 1,
	       "one finalizer");
	is_int(pvb_finalizer(o, false), 1, "finalizer removed");
	is_int(pvb_finalizer(o, false), 0, "removing twice changes nothing");
	json_decref(o);

	/* BackupStorageLocation -> repository URL. */
	bsl = json_loads("{\"metadata\":{\"name\":\"default\"},\"spec\":{\"provider\":\"aws\","
	                 "\"objectStorage\":{\"bucket\":\"velero\",\"prefix\":\"/cluster-a/\"},"
	                 "\"config\":{\"s3Url\":\"http://minio:9000/\",\"region\":\"minio\","
	                 "\"insecureSkipTLSVerify\":\"true\"}}}",
	                 0, NULL);
	r = bsl_repo_url(bsl, "app", &url, opts, 4, &n, &e);
	is_int(r, 0, "BSL gives a URL");
	is_str(url, "s3:http://minio:9000/velero/cluster-a/plugins/cairn/app", "per-namespace URL");
	is_int(n, 2, "two backend options");
	is_str(n > 0 ? opts[0] : NULL, "s3.region=minio", "region option");
	is_str(n > 1 ? opts[1] : NULL, "s3.insecure-tls=true", "insecure option");
	for (i = 0; i < n; i++)
		free(opts[i]);
	free(url);
	json_object_set_new(json_object_get(bsl, "spec"), "accessMode", json_string("ReadOnly"));
	r = bsl_repo_url(bsl, "app", &url, opts, 4, &n, &e);
	is_int(r, -EROFS, "ReadOnly location refused");
	ok(strstr(e.msg, "ReadOnly") != NULL, "message says ReadOnly: %s", e.msg);
	json_decref(bsl);
	bsl = json_loads(
	    "{\"metadata\":{\"name\":\"aws\"},\"spec\":{\"objectStorage\":{\"bucket\":\"b\"},"
	    "\"config\":{\"region\":\"eu-west-1\"}}}",
	    0, NULL);
	r = bsl_repo_url(bsl, "ns1", &url, opts, 4, &n, &e);
	is_str(r == 0 ? url : NULL, "s3:https://s3.eu-west-1.amazonaws.com/b/plugins/cairn/ns1",
	       "AWS endpoint, no prefix");
	if (r == 0) {
		for (i = 0; i < n; i++)
			free(opts[i]);
		free(url);
	}
	json_decref(bsl);
	return tap_done();
}
