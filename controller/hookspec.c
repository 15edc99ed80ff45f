/* Owns which exec hooks a pod gets: Velero's hook annotations on the pod, else the
 * Backup's spec.hooks.resources that select it, each reduced to one plain shape. */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/banned.h"

static bool in_list(const json_t *list, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
	{
		const char *x = json_string_value(v);

		if (x && (!strcmp(x, "*") || !strcmp(x, s)))
			return true;
	}
	return false;
}

bool ctl_labels_match(const json_t *sel, const json_t *labels)
{
	const json_t *ml = json_object_get(sel, "matchLabels"), *v, *x;
	const char *k;
	size_t i;

	if (!sel || json_is_null(sel))
		return true;
	json_object_foreach((json_t *)ml, k, v)
	{
		const char *have = json_string_value(json_object_get(labels, k));

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return false;
	}
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, x)
	{
		const char *key = json_string_value(json_object_get(x, "key"));
		const char *op = json_string_value(json_object_get(x, "operator"));
		const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
		bool listed = have && in_list(json_object_get(x, "values"), have);

		if (!key || !op)
			return false;
		if ((!strcmp(op, "In") && !listed) || (!strcmp(op, "NotIn") && listed) ||
		    (!strcmp(op, "Exists") && !have) || (!strcmp(op, "DoesNotExist") && have))
			return false;
		if (strcmp(op, "In") && strcmp(op, "NotIn") && strcmp(op, "Exists") &&
		    strcmp(op, "DoesNotExist"))
			return false; /* an operator we do not know selects nothing */
	}
	return true;
}

/* Velero's command field: a JSON array of strings, or any other text as one word. */
static json_t *command_of(const char *text)
{
	json_t *a = NULL;

	if (text[0] == '[')
		a = json_loads(text, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return json_pack("[s]", text);
	}
	return a; /* hook_new checks the words */
}

/* {source, container, command, fail, timeoutSec} from the parts, checked. */
static int hook_new(const char *source, const char *container, json_t *command,
                    const char *on_error, const char *timeout, json_t *out, struct err *e)
{
	int64_t sec = CTL_HOOK_TIMEOUT_SEC;
	bool fail = true;

	const json_t *w;
	size_t i;
	bool words = json_is_array(command) && json_array_size(command) > 0 &&
	             json_array_size(command) <= CTL_HOOK_ARGS_MAX;

	json_array_foreach(command, i, w) words = words && json_is_string(w);
	if (!words || !json_string_value(json_array_get(command, 0))[0]) {
		json_decref(command);
		return err_set(e, -EINVAL, "%s: the command is empty or not a list of strings",
		               source);
	}
	if (on_error && *on_error && strcasecmp(on_error, "Fail") &&
	    strcasecmp(on_error, "Continue")) {
		json_decref(command);
		return err_set(e, -EINVAL, "%s: on-error '%s' is not Continue or Fail", source,
		               on_error);
	}
	if (on_error && !strcasecmp(on_error, "Continue"))
		fail = false;
	if (timeout && *timeout && (ctl_duration_parse(timeout, &sec) < 0 || sec < 1)) {
		json_decref(command);
		return err_set(e, -EINVAL, "%s: timeout '%s' is not a duration of 1s or more",
		               source, timeout);
	}
	if (json_array_append_new(out,
	                          json_pack("{s:s,s:s,s:o,s:b,s:I}", "source", source, "container",
	                                    container ? container : "", "command", command, "fail",
	                                    fail, "timeoutSec", (json_int_t)sec)) < 0)
		return -ENOMEM;
	return 0;
}

/* Velero's default container: the pod's first. */
static const char *first_container(const json_t *pod)
{
	const json_t *c0 =
	    json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);

	return json_string_value(json_object_get(c0, "name"));
}

static int from_annotations(const json_t *pod, const char *phase, json_t *out, bool *found,
                            struct err *e)
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	char key[96], src[64];
	const char *cmd, *container;
	json_t *argv;

	snprintf(key, sizeof(key), "%s.hook.backup.velero.io/command", phase);
	cmd = json_string_value(json_object_get(ann, key));
	*found = cmd && *cmd;
	if (!*found)
		return 0;
	snprintf(src, sizeof(src), "%s hook (annotation)", phase);
	argv = command_of(cmd);
	snprintf(key, sizeof(key), "%s.hook.backup.velero.io/container", phase);
	container = json_string_value(json_object_get(ann, key));
	if (!container || !*container)
		container = first_container(pod);
	snprintf(key, sizeof(key), "%s.hook.backup.velero.io/on-error", phase);
	{
		const char *on_error = json_string_value(json_object_get(ann, key));

		snprintf(key, sizeof(key), "%s.hook.backup.velero.io/timeout", phase);
		return hook_new(src, container, argv, on_error,
		                json_string_value(json_object_get(ann, key)), out, e);
	}
}

static bool resource_selects(const json_t *rh, const json_t *pod)
{
	const json_t *meta = json_object_get(pod, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const json_t *inc = json_object_get(rh, "includedNamespaces");
	const json_t *res = json_object_get(rh, "includedResources");

	if (!ns || (json_array_size(inc) && !in_list(inc, ns)) ||
	    in_list(json_object_get(rh, "excludedNamespaces"), ns))
		return false;
	if (json_array_size(res) && !in_list(res, "pods") && !in_list(res, "pod"))
		return false;
	if (in_list(json_object_get(rh, "excludedResources"), "pods"))
		return false;
	return ctl_labels_match(json_object_get(rh, "labelSelector"),
	                        json_object_get(meta, "labels"));
}

static int from_spec(const json_t *pod, const json_t *hooks_spec, const char *phase, json_t *out,
                     struct err *e)
{
	const json_t *rh, *h;
	size_t i, j;
	int r;

	json_array_foreach(json_object_get(hooks_spec, "resources"), i, rh)
	{
		const char *name = json_string_value(json_object_get(rh, "name"));
		char src[320];

		if (!resource_selects(rh, pod))
			continue;
		json_array_foreach(json_object_get(rh, phase), j, h)
		{
			const json_t *x = json_object_get(h, "exec");
			json_t *argv = json_deep_copy(json_object_get(x, "command"));
			const char *container = json_string_value(json_object_get(x, "container"));

			snprintf(src, sizeof(src), "%s hook %.200s[%zu]", phase,
			         name && *name ? name : "(unnamed)", j);
			if (!x) {
				json_decref(argv);
				return err_set(e, -EINVAL, "%s: only exec hooks are supported",
				               src);
			}
			r = hook_new(src,
			             container && *container ? container : first_container(pod),
			             argv, json_string_value(json_object_get(x, "onError")),
			             json_string_value(json_object_get(x, "timeout")), out, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int ctl_hooks_of(const json_t *pod, const json_t *hooks_spec, const char *phase, json_t **ret,
                 struct err *e)
{
	json_t *out = json_array();
	bool found = false;
	int r;

	if (!out)
		return -ENOMEM;
	/* As Velero: the pod's own annotations win over the Backup's hooks, per phase. */
	r = from_annotations(pod, phase, out, &found, e);
	if (r == 0 && !found)
		r = from_spec(pod, hooks_spec, phase, out, e);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}
