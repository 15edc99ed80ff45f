/* Which pod volumes a Backup takes (controller/select.c): Velero's opt-in annotation,
 * defaultVolumesToFsBackup with its opt-out annotation, and the volumes that cannot be
 * backed up, each with its reason; label selectors as query strings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "tests/tap.h"

static const char pod_json[] =
    "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
    "\"backup.velero.io/backup-volumes\":\"data, cache\","
    "\"backup.velero.io/backup-volumes-excludes\":\"scratch\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"volumeMounts\":["
    "{\"name\":\"data\"},{\"name\":\"cache\"},{\"name\":\"scratch\"},{\"name\":\"logs\"},"
    "{\"name\":\"cfg\"},{\"name\":\"host\"},{\"name\":\"tok\"},{\"name\":\"raw\"},"
    "{\"name\":\"info\"},{\"name\":\"sec\"}]}],"
    "\"volumes\":[{\"name\":\"data\",\"persistentVolumeClaim\":{\"claimName\":\"d\"}},"
    "{\"name\":\"cache\",\"emptyDir\":{}},{\"name\":\"scratch\",\"emptyDir\":{}},"
    "{\"name\":\"logs\",\"emptyDir\":{}},{\"name\":\"cfg\",\"configMap\":{\"name\":\"x\"}},"
    "{\"name\":\"host\",\"hostPath\":{\"path\":\"/\"}},{\"name\":\"tok\",\"projected\":{}},"
    "{\"name\":\"raw\",\"persistentVolumeClaim\":{\"claimName\":\"blk\"}},"
    "{\"name\":\"info\",\"downwardAPI\":{}},{\"name\":\"sec\",\"secret\":{}},"
    "{\"name\":\"unmounted\",\"emptyDir\":{}}]}}";

static bool block(void *ud, const char *claim)
{
	(void)ud;
	return strcmp(claim, "blk") == 0;
}

static const struct ctl_volume *find(const struct ctl_volume *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static void sel_is(const char *json, const char *want)
{
	json_t *j = json_loads(json, 0, NULL);
	struct err e = ERR_INIT;
	char out[512];
	int r = ctl_selector_string(j, out, sizeof(out), &e);

	tap_ok(want ? r == 0 && strcmp(out, want) == 0 : r == -EINVAL, "selector %s -> %s (%s)",
	       json, want ? want : "rejected", r == 0 ? out : e.msg);
	json_decref(j);
}

int main(void)
{
	json_t *pod = json_loads(pod_json, 0, NULL);
	struct ctl_volume *v = NULL;
	const struct ctl_volume *x;
	size_t n = 0;

	/* opt-in: exactly the annotated volumes */
	tap_ok(ctl_pod_volumes(pod, false, block, NULL, &v, &n) == 0 && n == 2, "opt-in: 2 (%zu)",
	       n);
	tap_ok(find(v, n, "data") && !find(v, n, "data")->skipped &&
	           strcmp(find(v, n, "data")->pvc, "d") == 0,
	       "opt-in takes the claim 'data'");
	tap_ok(find(v, n, "cache") && !find(v, n, "cache")->skipped, "opt-in takes 'cache'");
	free(v);

	/* opt-out: every volume, minus exclusions and what cannot be read */
	json_object_del(json_object_get(json_object_get(pod, "metadata"), "annotations"),
	                "backup.velero.io/backup-volumes");
	tap_ok(ctl_pod_volumes(pod, true, block, NULL, &v, &n) == 0 && n == 11, "opt-out: 11 (%zu)",
	       n);
	x = find(v, n, "logs");
	tap_ok(x && !x->skipped, "logs backed up");
	x = find(v, n, "data");
	tap_ok(x && !x->skipped, "data backed up");
	x = find(v, n, "scratch");
	tap_ok(x && x->skipped && strstr(x->reason, "excludes"), "scratch excluded: %s",
	       x ? x->reason : "");
	x = find(v, n, "cfg");
	tap_ok(x && x->skipped && strstr(x->reason, "configMap"), "configMap skipped: %s",
	       x ? x->reason : "");
	x = find(v, n, "host");
	tap_ok(x && x->skipped && strstr(x->reason, "hostPath"), "hostPath skipped");
	x = find(v, n, "tok");
	tap_ok(x && x->skipped && strstr(x->reason, "projected"), "projected skipped");
	x = find(v, n, "info");
	tap_ok(x && x->skipped && strstr(x->reason, "downwardAPI"), "downwardAPI skipped");
	x = find(v, n, "sec");
	tap_ok(x && x->skipped && strstr(x->reason, "secret"), "secret skipped");
	x = find(v, n, "raw");
	tap_ok(x && x->skipped && strstr(x->reason, "block-mode"), "block-mode claim skipped: %s",
	       x ? x->reason : "");
	x = find(v, n, "unmounted");
	tap_ok(x && x->skipped && strstr(x->reason, "no container"), "unmounted volume skipped: %s",
	       x ? x->reason : "");
	free(v);
	json_decref(pod);

	sel_is("{\"matchLabels\":{\"app\":\"web\",\"tier\":\"db\"}}", "app=web,tier=db");
	sel_is("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"a\","
	       "\"b\"]},{\"key\":\"x\",\"operator\":\"DoesNotExist\"}]}",
	       "env in (a,b),!x");
	sel_is("{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\"}]}", "k");
	sel_is("null", "");
	sel_is("{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Near\",\"values\":[\"a\"]}]}",
	       NULL);
	sel_is("{\"matchLabels\":{\"a b\":\"c\"}}", NULL);
	sel_is("{\"matchLabels\":{\"a\":\"c,d=e\"}}", NULL);
	sel_is("{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"In\",\"values\":[]}]}", NULL);
	return tap_done();
}
