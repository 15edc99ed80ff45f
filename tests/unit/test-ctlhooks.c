/* Which exec hooks a pod gets (controller/hookspec.c): Velero's annotations (a JSON array
 * or a plain string as the command, defaults for container, on-error and timeout), the
 * Backup's spec.hooks.resources selecting by namespace, resource and labels, annotations
 * winning per phase, and malformed hooks refused with the reason. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "tests/tap.h"

static json_t *pod(const char *ann, const char *labels)
{
	char txt[4096];

	snprintf(txt, sizeof(txt),
	         "{\"metadata\":{\"name\":\"p\",\"namespace\":\"app\",\"annotations\":{%s},"
	         "\"labels\":{%s}},\"spec\":{\"containers\":[{\"name\":\"first\"},"
	         "{\"name\":\"second\"}]}}",
	         ann, labels);
	return json_loads(txt, 0, NULL);
}

/* The hooks of phase as one compact JSON text (sorted keys), or "ERR: reason". */
static char *hooks(const json_t *p, const char *spec, const char *phase)
{
	json_t *s = spec ? json_loads(spec, 0, NULL) : NULL, *out = NULL;
	struct err e = ERR_INIT;
	char *txt;
	int r = ctl_hooks_of(p, s, phase, &out, &e);

	if (r < 0) {
		txt = malloc(strlen(e.msg) + 8);
		snprintf(txt, strlen(e.msg) + 8, "ERR: %s", e.msg);
	} else {
		txt = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	}
	json_decref(out);
	json_decref(s);
	return txt;
}

static void is(const json_t *p, const char *spec, const char *phase, const char *want,
               const char *what)
{
	char *got = hooks(p, spec, phase);
	bool ok = want[0] == '~' ? strstr(got, want + 1) != NULL : strcmp(got, want) == 0;

	tap_ok(ok, "%s", what);
	if (!ok)
		tap_diag("got  %s\nwant %s", got, want);
	free(got);
}

static const char spec[] =
    "{\"resources\":["
    "{\"name\":\"db\",\"includedNamespaces\":[\"app\"],\"labelSelector\":{\"matchLabels\":"
    "{\"tier\":\"db\"}},\"pre\":[{\"exec\":{\"command\":[\"a\"],\"onError\":\"Continue\"}},"
    "{\"exec\":{\"container\":\"second\",\"command\":[\"b\",\"c\"],\"timeout\":\"1m\"}}],"
    "\"post\":[{\"exec\":{\"command\":[\"z\"]}}]},"
    "{\"name\":\"other-ns\",\"includedNamespaces\":[\"far\"],\"pre\":[{\"exec\":{\"command\":"
    "[\"never\"]}}]},"
    "{\"name\":\"expr\",\"labelSelector\":{\"matchExpressions\":[{\"key\":\"tier\","
    "\"operator\":\"In\",\"values\":[\"db\",\"web\"]},{\"key\":\"gone\",\"operator\":"
    "\"DoesNotExist\"}]},\"includedResources\":[\"pods\"],\"pre\":[{\"exec\":{\"command\":"
    "[\"e\"]}}]},"
    "{\"name\":\"deploys\",\"includedResources\":[\"deployments\"],\"pre\":[{\"exec\":"
    "{\"command\":[\"never\"]}}]}]}";

int main(void)
{
	json_t *p;

	p = pod("\"pre.hook.backup.velero.io/command\":\"[\\\"sh\\\",\\\"-c\\\",\\\"date\\\"]\"",
	        "");
	is(p, NULL, "pre",
	   "[{\"command\":[\"sh\",\"-c\",\"date\"],\"container\":\"first\",\"fail\":true,"
	   "\"source\":\"pre hook (annotation)\",\"timeoutSec\":30}]",
	   "annotation: JSON array command; first container, Fail, 30 s by default");
	is(p, NULL, "post", "[]", "annotation: no post command, no post hook");
	json_decref(p);

	p = pod("\"post.hook.backup.velero.io/command\":\"/sbin/fsfreeze --unfreeze /data\","
	        "\"post.hook.backup.velero.io/container\":\"second\","
	        "\"post.hook.backup.velero.io/on-error\":\"Continue\","
	        "\"post.hook.backup.velero.io/timeout\":\"2m30s\"",
	        "");
	is(p, NULL, "post",
	   "[{\"command\":[\"/sbin/fsfreeze --unfreeze /data\"],\"container\":\"second\","
	   "\"fail\":false,\"source\":\"post hook (annotation)\",\"timeoutSec\":150}]",
	   "annotation: a plain string is one word; container, on-error, timeout taken");
	json_decref(p);

	p = pod("", "\"tier\":\"db\"");
	is(p, spec, "pre",
	   "[{\"command\":[\"a\"],\"container\":\"first\",\"fail\":false,\"source\":\"pre "
	   "hook db[0]\",\"timeoutSec\":30},{\"command\":[\"b\",\"c\"],\"container\":"
	   "\"second\",\"fail\":true,\"source\":\"pre hook db[1]\",\"timeoutSec\":60},"
	   "{\"command\":[\"e\"],\"container\":\"first\",\"fail\":true,\"source\":\"pre hook "
	   "expr[0]\",\"timeoutSec\":30}]",
	   "spec: matching resources in order, namespace/labels/expressions/resources honoured");
	is(p, spec, "post", "~\"command\":[\"z\"]", "spec: post hooks");
	json_decref(p);

	p = pod("\"pre.hook.backup.velero.io/command\":\"[\\\"mine\\\"]\"", "\"tier\":\"db\"");
	is(p, spec, "pre", "~[{\"command\":[\"mine\"]", "annotation wins over the spec (pre)");
	is(p, spec, "post", "~\"command\":[\"z\"]", "... per phase: the spec's post stays");
	json_decref(p);

	p = pod("", "\"tier\":\"db\",\"gone\":\"x\"");
	is(p, spec, "pre", "~db[1]", "DoesNotExist: a pod with the label is not selected");
	{
		char *got = hooks(p, spec, "pre");

		tap_ok(strstr(got, "expr") == NULL, "... by that resource");
		free(got);
	}
	json_decref(p);

	p = pod("", "\"tier\":\"cache\"");
	is(p, spec, "pre", "[]", "spec: labels not matching, no hook");
	json_decref(p);

	p = pod("\"pre.hook.backup.velero.io/command\":\"x\","
	        "\"pre.hook.backup.velero.io/on-error\":\"Sometimes\"",
	        "");
	is(p, NULL, "pre", "~ERR: pre hook (annotation): on-error 'Sometimes'",
	   "bad on-error refused, named");
	json_decref(p);
	p = pod("\"pre.hook.backup.velero.io/command\":\"x\","
	        "\"pre.hook.backup.velero.io/timeout\":\"soon\"",
	        "");
	is(p, NULL, "pre", "~ERR: pre hook (annotation): timeout 'soon'", "bad timeout refused");
	json_decref(p);
	p = pod("\"pre.hook.backup.velero.io/command\":\"[]\"", "");
	is(p, NULL, "pre", "~ERR: pre hook (annotation): the command is empty",
	   "empty command array refused");
	json_decref(p);
	p = pod("", "");
	is(p, "{\"resources\":[{\"name\":\"n\",\"pre\":[{\"exec\":{\"command\":[1]}}]}]}", "pre",
	   "~ERR: pre hook n[0]: the command is empty or not a list", "non-string word refused");
	is(p, "{\"resources\":[{\"name\":\"n\",\"pre\":[{\"http\":{}}]}]}", "pre",
	   "~ERR: pre hook n[0]: only exec hooks", "non-exec hook refused");
	json_decref(p);
	return tap_done();
}
