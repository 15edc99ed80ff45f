/* Owns what a Backup selects: its label selector as a query string, and which volumes of
 * a pod are backed up (Velero's opt-in and opt-out annotations) and why others are not. */
#include "controller/controller.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* Label keys and values as the API server accepts them: [prefix/]name of
 * alphanumerics, '-', '_', '.'. Anything else would change the query's meaning. */
static bool label_ok(const char *s, bool key)
{
	if (!s || (key && !*s) || strlen(s) > 316)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(key ? "-_./" : "-_.", *s))
			return false;
	return true;
}

static int append(char *out, size_t n, size_t *len, const char *s)
{
	size_t l = strlen(s);

	if (*len + l + 1 > n)
		return -ENAMETOOLONG;
	memcpy(out + *len, s, l + 1);
	*len += l;
	return 0;
}

int ctl_selector_string(const json_t *sel, char *out, size_t n, struct err *e)
{
	const json_t *ml = json_object_get(sel, "matchLabels");
	const json_t *me = json_object_get(sel, "matchExpressions"), *v, *x;
	const char *k;
	size_t len = 0, i, j;
	char part[1024];

	if (n == 0)
		return -EINVAL;
	out[0] = 0;
	if (!sel || json_is_null(sel))
		return 0;
	if (!json_is_object(sel) || (ml && !json_is_object(ml)) || (me && !json_is_array(me)))
		return err_set(e, -EINVAL, "labelSelector is not a LabelSelector");
	json_object_foreach((json_t *)ml, k, v)
	{
		if (!label_ok(k, true) || !label_ok(json_string_value(v), false))
			return err_set(e, -EINVAL, "labelSelector: bad label %s", k);
		snprintf(part, sizeof(part), "%s%s=%s", len ? "," : "", k, json_string_value(v));
		if (append(out, n, &len, part) < 0)
			return err_set(e, -ENAMETOOLONG, "labelSelector too long");
	}
	json_array_foreach((json_t *)me, i, x)
	{
		const char *key = json_string_value(json_object_get(x, "key"));
		const char *op = json_string_value(json_object_get(x, "operator"));
		const json_t *vals = json_object_get(x, "values");
		bool set = op && (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0);

		if (!label_ok(key, true))
			return err_set(e, -EINVAL,
			               "labelSelector: bad key in matchExpressions[%zu]", i);
		if (!op || (!set && strcmp(op, "Exists") != 0 && strcmp(op, "DoesNotExist") != 0))
			return err_set(e, -EINVAL,
			               "labelSelector: operator '%s' is not In, NotIn, Exists or "
			               "DoesNotExist",
			               op ? op : "");
		if (set && (!json_is_array(vals) || json_array_size(vals) == 0))
			return err_set(e, -EINVAL, "labelSelector: %s %s needs values", key, op);
		if (!set && json_array_size(vals) > 0)
			return err_set(e, -EINVAL, "labelSelector: %s %s takes no values", key, op);
		if (!set)
			snprintf(part, sizeof(part), "%s%s%s", len ? "," : "",
			         strcmp(op, "Exists") == 0 ? "" : "!", key);
		else
			snprintf(part, sizeof(part), "%s%s %s (", len ? "," : "", key,
			         strcmp(op, "In") == 0 ? "in" : "notin");
		if (append(out, n, &len, part) < 0)
			return err_set(e, -ENAMETOOLONG, "labelSelector too long");
		if (!set)
			continue;
		json_array_foreach(vals, j, v)
		{
			if (!label_ok(json_string_value(v), false))
				return err_set(e, -EINVAL, "labelSelector: bad value for %s", key);
			if (append(out, n, &len, j ? "," : "") < 0 ||
			    append(out, n, &len, json_string_value(v)) < 0)
				return err_set(e, -ENAMETOOLONG, "labelSelector too long");
		}
		if (append(out, n, &len, ")") < 0)
			return err_set(e, -ENAMETOOLONG, "labelSelector too long");
	}
	return 0;
}

/* Is `name` in the comma list (spaces around items ignored)? */
static bool in_list(const char *list, const char *name)
{
	size_t nl = strlen(name);

	while (list && *list) {
		const char *end = strchr(list, ',');
		size_t l = end ? (size_t)(end - list) : strlen(list);

		while (l && *list == ' ')
			list++, l--;
		while (l && list[l - 1] == ' ')
			l--;
		if (l == nl && memcmp(list, name, nl) == 0)
			return true;
		list = end ? end + 1 : NULL;
	}
	return false;
}

static bool mounted(const json_t *pod, const char *vol)
{
	const json_t *spec = json_object_get(pod, "spec"), *c, *m;
	static const char *const lists[] = { "containers", "initContainers" };
	size_t i, j;

	for (size_t l = 0; l < 2; l++)
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			json_array_foreach(json_object_get(c, "volumeMounts"), j, m)
			{
				const char *n = json_string_value(json_object_get(m, "name"));

				if (n && strcmp(n, vol) == 0)
					return true;
			}
		}
	return false;
}

/* Why a volume of this source type cannot be backed up from the kubelet's folders, or
 * NULL when it can. */
static const char *unsupported(const json_t *v)
{
	static const char *const kinds[] = { "hostPath", "secret", "configMap", "projected",
		                             "downwardAPI" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (json_object_get(v, kinds[i]))
			return kinds[i];
	return NULL;
}

int ctl_pod_volumes(const json_t *pod, bool fs_default, ctl_block_fn pvc_block, void *ud,
                    struct ctl_volume **ret, size_t *ret_n)
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	const char *optin = json_string_value(json_object_get(ann, CTL_ANN_VOLUMES));
	const char *optout = json_string_value(json_object_get(ann, CTL_ANN_EXCLUDES));
	const json_t *vols = json_object_get(json_object_get(pod, "spec"), "volumes"), *v;
	struct ctl_volume *out;
	size_t i, n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (json_array_size(vols) == 0)
		return 0;
	out = calloc(json_array_size(vols), sizeof(*out));
	if (!out)
		return -ENOMEM;
	json_array_foreach(vols, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *claim = json_string_value(
		    json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));
		const char *kind = unsupported(v);
		struct ctl_volume *o = &out[n];
		bool opted_in = optin && in_list(optin, name ? name : "");

		if (!name || strlen(name) >= sizeof(o->name))
			continue;
		if (!opted_in && !fs_default)
			continue; /* not asked for: not a skip worth a warning */
		snprintf(o->name, sizeof(o->name), "%s", name);
		if (claim)
			snprintf(o->pvc, sizeof(o->pvc), "%s", claim);
		o->skipped = true;
		if (!opted_in && optout && in_list(optout, name))
			snprintf(o->reason, sizeof(o->reason), "excluded by %s", CTL_ANN_EXCLUDES);
		else if (kind)
			snprintf(o->reason, sizeof(o->reason), "%s volumes are not backed up",
			         kind);
		else if (!mounted(pod, name))
			snprintf(o->reason, sizeof(o->reason), "no container mounts it");
		else if (claim && pvc_block && pvc_block(ud, claim))
			snprintf(o->reason, sizeof(o->reason),
			         "claim %s is a block-mode volume (no file system to read)", claim);
		else
			o->skipped = false;
		n++;
	}
	if (n == 0) {
		free(out);
		return 0;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}
