/* `cairn kube backup|schedule|restore|location ...`: create, list, describe and delete the
 * controller's objects (tables for people, -o json for programs). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/controller.h"
#include "kube/kube.h"
#include "util/banned.h"

struct kctx {
	struct kube_config kc;
	struct kube *k;
	const char *ns;
	bool json;
	char base[512];
	/* backup create / schedule create */
	json_t *spec;
	const char *cron, *timeout;
	bool wait;
	const char *create_flag;  /* the first create-only flag given (its name), for the refusal */
	const char *backup_flag;  /* the first backup/schedule-only flag, the same */
	const char *restore_flag; /* the first restore-only flag, the same */
	const char *to_pvc;       /* restore create --to-pvc NS/PVC */
};

/* The controller's label on everything a Restore makes (controller/ctl-internal.h). */
#define KUBE_LABEL_RESTORE_UID "cairn.dev/restore-uid"

static const char *js(const json_t *o, const char *path)
{
	/* "a.b.c" */
	char key[128];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	o = json_object_get(o, path);
	return json_is_string(o) ? json_string_value(o) : "";
}

static long long ji(const json_t *o, const char *a, const char *b)
{
	return json_integer_value(
	    json_object_get(json_object_get(json_object_get(o, "status"), a), b));
}

/* A Backup's status with the controller's detail annotation folded in (in place). */
static void fold_detail(json_t *b)
{
	const char *txt = json_string_value(json_object_get(
	    json_object_get(json_object_get(b, "metadata"), "annotations"), CTL_ANN_DETAIL));
	json_t *d = txt ? json_loads(txt, 0, NULL) : NULL;
	json_t *st = json_object_get(b, "status");

	if (json_is_object(d) && json_is_object(st))
		json_object_update(st, d);
	json_decref(d);
}

static int path_of(struct kctx *x, const char *plural, const char *name, char *out, size_t n)
{
	int w = name ? snprintf(out, n, "%s/%s/%s", x->base, plural, name)
	             : snprintf(out, n, "%s/%s", x->base, plural);

	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static int collect(void *ud, json_t *item)
{
	return json_array_append(ud, item) < 0 ? -ENOMEM : 0;
}

static json_t *str_list(const char *csv)
{
	json_t *a = json_array();
	char buf[4096], *save = NULL, *t;

	snprintf(buf, sizeof(buf), "%s", csv);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(t));
	return a;
}

/* "k=v,k2=v2" into {matchLabels: {...}}; -EINVAL for anything else. */
static int selector(const char *s, json_t **ret)
{
	json_t *ml = json_object();
	char buf[4096], *save = NULL, *t;

	snprintf(buf, sizeof(buf), "%s", s);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');

		if (!eq || eq == t) {
			json_decref(ml);
			return -EINVAL;
		}
		*eq = 0;
		json_object_set_new(ml, t, json_string(eq + 1 + (eq[1] == '=')));
	}
	*ret = json_pack("{s:o}", "matchLabels", ml);
	return 0;
}

static void print_backups(json_t *items)
{
	json_t *b;
	size_t i;

	printf("%-32s %-16s %6s %8s %-20s %-20s %s\n", "NAME", "STATUS", "ERRORS", "WARNINGS",
	       "CREATED", "EXPIRES", "VOLUMES");
	json_array_foreach(items, i, b)
	{
		const json_t *st = json_object_get(b, "status");

		printf("%-32s %-16s %6lld %8lld %-20s %-20s %lld/%lld\n", js(b, "metadata.name"),
		       js(b, "status.phase")[0] ? js(b, "status.phase") : "New",
		       json_integer_value(json_object_get(st, "errors")),
		       json_integer_value(json_object_get(st, "warnings")),
		       js(b, "status.startTimestamp"), js(b, "status.expiration"),
		       ji(b, "podVolumes", "completed"), ji(b, "podVolumes", "total"));
	}
}

static void print_schedules(json_t *items)
{
	json_t *s;
	size_t i;

	printf("%-32s %-16s %-24s %-20s %s\n", "NAME", "STATUS", "SCHEDULE", "LAST BACKUP",
	       "PAUSED");
	json_array_foreach(items, i, s) printf(
	    "%-32s %-16s %-24s %-20s %s\n", js(s, "metadata.name"), js(s, "status.phase"),
	    js(s, "spec.schedule"), js(s, "status.lastBackup"),
	    json_is_true(json_object_get(json_object_get(s, "spec"), "paused")) ? "true" : "false");
}

static void print_locations(json_t *items)
{
	json_t *l;
	size_t i;

	printf("%-24s %-12s %-10s %-8s %s\n", "NAME", "PHASE", "ACCESS", "DEFAULT", "MESSAGE");
	json_array_foreach(items, i, l) printf(
	    "%-24s %-12s %-10s %-8s %s\n", js(l, "metadata.name"), js(l, "status.phase"),
	    js(l, "spec.accessMode")[0] ? js(l, "spec.accessMode") : "ReadWrite",
	    json_is_true(json_object_get(json_object_get(l, "spec"), "default")) ? "true" : "false",
	    js(l, "status.message"));
}

static int get(struct kctx *x, const char *plural, const char *name, void (*print)(json_t *),
               struct err *e)
{
	char path[1024];
	json_t *items = json_array(), *one = NULL;
	int r = path_of(x, plural, name, path, sizeof(path));

	if (r == 0 && name) {
		r = kube_get(x->k, path, &one, e);
		if (r == 0)
			json_array_append_new(items, one);
	} else if (r == 0) {
		r = kube_list(x->k, path, NULL, NULL, collect, items, NULL, e);
	}
	if (r == 0) {
		if (x->json)
			cli_print_json(name ? json_incref(json_array_get(items, 0))
			                    : json_incref(items));
		else
			print(items);
	}
	json_decref(items);
	return r;
}

/* describe's fetch: the object PLURAL/NAME and, into CHILDREN, the CHILD_PLURAL objects
 * whose LABEL holds its uid (a Backup's PodVolumeBackups, a Restore's PodVolumeRestores). */
static int get_with_children(struct kctx *x, const char *plural, const char *name,
                             const char *child_plural, const char *label, json_t **obj,
                             json_t *children, struct err *e)
{
	char path[1024], sel[512];
	int r = path_of(x, plural, name, path, sizeof(path));

	if (r == 0)
		r = kube_get(x->k, path, obj, e);
	if (r == 0)
		r = path_of(x, child_plural, NULL, path, sizeof(path));
	if (r == 0 && (size_t)snprintf(sel, sizeof(sel), "%s=%s", label,
	                               js(*obj, "metadata.uid")) >= sizeof(sel))
		r = err_set(e, -ENAMETOOLONG, "label selector of %s/%s too long", plural, name);
	if (r == 0)
		r = kube_list(x->k, path, sel, NULL, collect, children, NULL, e);
	return r;
}

static int describe(struct kctx *x, const char *name, struct err *e)
{
	json_t *b = NULL, *pvbs = json_array(), *p, *v, *hk;
	size_t i;
	int r = get_with_children(x, "backups", name, "podvolumebackups", CTL_LABEL_BACKUP_ID, &b,
	                          pvbs, e);

	if (r < 0)
		goto fail;
	fold_detail(b);
	if (x->json) {
		json_object_set(b, "podVolumeBackups", pvbs);
		cli_print_json(json_incref(b));
		goto fail;
	}
	printf("Name:         %s\nPhase:        %s\nStarted:      %s\nCompleted:    %s\n"
	       "Expires:      %s\nLocation:     %s\nErrors:       %lld\nWarnings:     %lld\n",
	       name, js(b, "status.phase"), js(b, "status.startTimestamp"),
	       js(b, "status.completionTimestamp"), js(b, "status.expiration"),
	       js(b, "spec.storageLocation"),
	       json_integer_value(json_object_get(json_object_get(b, "status"), "errors")),
	       json_integer_value(json_object_get(json_object_get(b, "status"), "warnings")));
	hk = json_object_get(json_object_get(b, "status"), "hooks");
	if (hk)
		printf("Hooks:        %lld attempted, %lld failed, %zu post hooks owed\n",
		       json_integer_value(json_object_get(hk, "attempted")),
		       json_integer_value(json_object_get(hk, "failed")),
		       json_array_size(json_object_get(hk, "pending")));
	json_array_foreach(json_object_get(json_object_get(b, "status"), "validationErrors"), i, v)
	    printf("Validation:   %s\n", json_string_value(v));
	json_array_foreach(json_object_get(json_object_get(b, "status"), "errorMessages"), i, v)
	    printf("Error:        %s\n", json_string_value(v));
	json_array_foreach(json_object_get(json_object_get(b, "status"), "warningMessages"), i, v)
	    printf("Warning:      %s\n", json_string_value(v));
	printf("\nPod volumes:\n  %-40s %-12s %12s %9s %s\n", "POD/VOLUME", "PHASE", "BYTES",
	       "SECONDS", "MESSAGE");
	json_array_foreach(pvbs, i, p)
	{
		time_t t0 = 0, t1 = 0;
		char pv[600];

		if (ctl_time_parse(js(p, "status.startTimestamp"), &t0) < 0)
			t0 = 0;
		if (ctl_time_parse(js(p, "status.completionTimestamp"), &t1) < 0)
			t1 = 0;
		snprintf(pv, sizeof(pv), "%s/%s/%s", js(p, "spec.pod.namespace"),
		         js(p, "spec.pod.name"), js(p, "spec.volume"));
		printf("  %-40s %-12s %12lld %9lld %s\n", pv,
		       js(p, "status.phase")[0] ? js(p, "status.phase") : "New",
		       ji(p, "progress", "bytesDone"), (long long)(t0 && t1 ? t1 - t0 : 0),
		       js(p, "status.message"));
	}
fail:
	json_decref(b);
	json_decref(pvbs);
	return r;
}

static bool final_phase(const char *p)
{
	return !strcmp(p, "Completed") || !strcmp(p, "PartiallyFailed") || !strcmp(p, "Failed") ||
	       !strcmp(p, "FailedValidation");
}

/* backup create / schedule create: the spec the flags built (cmd_kube). */
static int create(struct kctx *x, bool schedule, const char *name, struct err *e)
{
	json_t *spec = x->spec, *obj, *got = NULL;
	const char *cron = x->cron, *timeout = x->timeout;
	char path[1024];
	int r;

	if (!name)
		return err_set(e, -EINVAL, "%s create: give a name",
		               schedule ? "schedule" : "backup");
	if (!schedule && cron)
		return err_set(e, -EINVAL, "--schedule is for schedule create");
	if (schedule && x->wait)
		return err_set(e, -EINVAL, "--wait is for backup create");
	if (schedule && !cron)
		return err_set(e, -EINVAL, "schedule create needs --schedule CRON");
	x->spec = NULL; /* json_pack's "o" takes it */
	if (schedule)
		obj = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:o}}", "apiVersion", CTL_API, "kind",
		                "Schedule", "metadata", "name", name, "spec", "schedule", cron,
		                "template", spec);
	else
		obj = json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", CTL_API, "kind", "Backup",
		                "metadata", "name", name, "spec", spec);
	if (!obj)
		return -ENOMEM;
	if (timeout)
		json_object_set_new(json_object_get(obj, "metadata"), "annotations",
		                    json_pack("{s:s}", CTL_ANN_TIMEOUT, timeout));
	r = path_of(x, schedule ? "schedules" : "backups", NULL, path, sizeof(path));
	if (r == 0)
		r = kube_create(x->k, path, obj, NULL, e);
	json_decref(obj);
	if (r < 0)
		return r;
	if (!x->json)
		printf("%s \"%s\" created\n", schedule ? "Schedule" : "Backup", name);
	if (!x->wait || schedule)
		return 0;
	path_of(x, "backups", name, path, sizeof(path));
	for (;;) {
		json_decref(got);
		got = NULL;
		r = kube_get(x->k, path, &got, e);
		if (r < 0)
			return r;
		if (final_phase(js(got, "status.phase")))
			break;
		usleep(500 * 1000);
	}
	if (!x->json)
		printf("Backup \"%s\" %s\n", name, js(got, "status.phase"));
	r = strcmp(js(got, "status.phase"), "Completed") == 0 ? 0 : 1;
	json_decref(got);
	return r;
}

static void print_restores(json_t *items)
{
	json_t *r;
	size_t i;

	printf("%-32s %-24s %-16s %6s %8s %-20s %-20s %s\n", "NAME", "BACKUP", "STATUS", "ERRORS",
	       "WARNINGS", "STARTED", "COMPLETED", "VOLUMES");
	json_array_foreach(items, i, r)
	{
		const json_t *st = json_object_get(r, "status");

		printf("%-32s %-24s %-16s %6lld %8lld %-20s %-20s %lld/%lld\n",
		       js(r, "metadata.name"), js(r, "spec.backupName"),
		       js(r, "status.phase")[0] ? js(r, "status.phase") : "New",
		       json_integer_value(json_object_get(st, "errors")),
		       json_integer_value(json_object_get(st, "warnings")),
		       js(r, "status.startTimestamp"), js(r, "status.completionTimestamp"),
		       ji(r, "progress", "itemsRestored"), ji(r, "progress", "totalItems"));
	}
}

/* The status's messages, one line each, with a label (describe; --wait on stderr). */
static void print_messages(FILE *f, const json_t *r)
{
	static const char *const keys[][2] = { { "validationErrors", "Validation:" },
		                               { "errorMessages", "Error:" },
		                               { "warningMessages", "Warning:" } };
	const json_t *st = json_object_get(r, "status"), *v;
	size_t i;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		json_array_foreach(json_object_get(st, keys[k][0]), i, v)
		    fprintf(f, "%-13s %s\n", keys[k][1], json_string_value(v));
	if (js(r, "status.failureReason")[0])
		fprintf(f, "%-13s %s\n", "Reason:", js(r, "status.failureReason"));
}

static int describe_restore(struct kctx *x, const char *name, struct err *e)
{
	json_t *rs = NULL, *pvrs = json_array(), *p;
	size_t i;
	int r = get_with_children(x, "restores", name, "podvolumerestores",
	                          KUBE_LABEL_RESTORE_UID, &rs, pvrs, e);

	if (r < 0)
		goto fail;
	if (x->json) {
		json_object_set(rs, "podVolumeRestores", pvrs);
		cli_print_json(json_incref(rs));
		goto fail;
	}
	printf("Name:         %s\nPhase:        %s\nBackup:       %s\nStarted:      %s\n"
	       "Completed:    %s\nVolumes:      %lld/%lld restored\nErrors:       %lld\n"
	       "Warnings:     %lld\n",
	       name, js(rs, "status.phase")[0] ? js(rs, "status.phase") : "New",
	       js(rs, "spec.backupName"), js(rs, "status.startTimestamp"),
	       js(rs, "status.completionTimestamp"), ji(rs, "progress", "itemsRestored"),
	       ji(rs, "progress", "totalItems"),
	       json_integer_value(json_object_get(json_object_get(rs, "status"), "errors")),
	       json_integer_value(json_object_get(json_object_get(rs, "status"), "warnings")));
	print_messages(stdout, rs);
	printf("\nPod volume restores:\n  %-40s %-40s %-12s %12s %s\n", "NAME", "POD/VOLUME",
	       "PHASE", "BYTES", "MESSAGE");
	json_array_foreach(pvrs, i, p)
	{
		char pv[600];

		snprintf(pv, sizeof(pv), "%s/%s/%s", js(p, "spec.pod.namespace"),
		         js(p, "spec.pod.name"), js(p, "spec.volume"));
		printf("  %-40s %-40s %-12s %12lld %s\n", js(p, "metadata.name"), pv,
		       js(p, "status.phase")[0] ? js(p, "status.phase") : "New",
		       ji(p, "progress", "bytesDone"), js(p, "status.message"));
	}
fail:
	json_decref(rs);
	json_decref(pvrs);
	return r;
}

/* "NS/PVC" of --to-pvc into spec.targetPVC. */
static int target_pvc(json_t *spec, const char *arg, struct err *e)
{
	const char *slash = strchr(arg, '/');
	char ns[256];

	if (!slash || slash == arg || !slash[1] || strchr(slash + 1, '/') ||
	    (size_t)(slash - arg) >= sizeof(ns))
		return err_set(e, -EINVAL, "kube: bad --to-pvc '%s' (NAMESPACE/CLAIM)", arg);
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - arg), arg);
	json_object_set_new(spec, "targetPVC",
	                    json_pack("{s:s,s:s}", "namespace", ns, "name", slash + 1));
	return 0;
}

/* "old:new,old2:new2" of --namespace-mappings into spec.namespaceMapping. */
static int ns_mappings(json_t *spec, const char *arg, struct err *e)
{
	json_t *m = json_object();
	char buf[4096], *save = NULL, *t;

	if (strlen(arg) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');

		if (!colon || colon == t || !colon[1] || strchr(colon + 1, ':'))
			goto bad;
		*colon = 0;
		json_object_set_new(m, t, json_string(colon + 1));
	}
	if (!json_object_size(m))
		goto bad;
	json_object_set_new(spec, "namespaceMapping", m);
	return 0;
bad:
	json_decref(m);
	return err_set(e, -EINVAL, "kube: bad --namespace-mappings '%s' (OLD:NEW,...)", arg);
}

/* Follow a Restore until it ends: 0 Completed, EXIT_PARTIAL PartiallyFailed (the files
 * not restored on stderr), EXIT_FAILURE_ Failed or FailedValidation, negative on an API
 * error (deleted meanwhile: -ENOENT). */
static int wait_restore(struct kctx *x, const char *name, struct err *e)
{
	char path[1024];
	json_t *got = NULL;
	const char *phase;
	int r = path_of(x, "restores", name, path, sizeof(path));

	while (r == 0) {
		json_decref(got);
		got = NULL;
		r = kube_get(x->k, path, &got, e);
		if (r < 0 || final_phase(js(got, "status.phase")))
			break;
		usleep(500 * 1000);
	}
	if (r < 0)
		goto fail;
	phase = js(got, "status.phase");
	if (x->json) {
		cli_print_json(json_incref(got));
	} else {
		printf("Restore \"%s\" %s\n", name, phase);
		fflush(stdout);
	}
	if (strcmp(phase, "Completed"))
		print_messages(stderr, got);
	r = !strcmp(phase, "Completed")         ? EXIT_OK
	    : !strcmp(phase, "PartiallyFailed") ? EXIT_PARTIAL
	                                        : EXIT_FAILURE_;
fail:
	json_decref(got);
	return r;
}

static int create_restore(struct kctx *x, const char *name, struct err *e)
{
	json_t *spec = x->spec;
	json_t *obj;
	char path[1024];
	int r;

	if (!name)
		return err_set(e, -EINVAL, "restore create: give a name");
	if (!json_object_get(spec, "backupName"))
		return err_set(e, -EINVAL, "restore create needs --from-backup BACKUP");
	if (json_object_get(spec, "targetPVC") && !json_object_get(spec, "volume"))
		return err_set(e, -EINVAL, "--to-pvc needs --volume NAME");
	if (!json_object_get(spec, "targetPVC") &&
	    (json_object_get(spec, "volume") || json_object_get(spec, "overwrite")))
		return err_set(e, -EINVAL, "--%s is for restore create --to-pvc",
		               json_object_get(spec, "volume") ? "volume" : "overwrite");
	if (json_object_get(spec, "targetPVC") && json_object_get(spec, "namespaceMapping"))
		return err_set(e, -EINVAL, "--namespace-mappings does not go with --to-pvc");
	/* --to-pvc picks among same-named volumes by source namespace: one of them. */
	if (json_object_get(spec, "targetPVC") &&
	    json_array_size(json_object_get(spec, "includedNamespaces")) == 1)
		json_object_set(spec, "sourceNamespace",
		                json_array_get(json_object_get(spec, "includedNamespaces"), 0));
	obj = json_pack("{s:s,s:s,s:{s:s},s:O}", "apiVersion", CTL_API, "kind", "Restore",
	                "metadata", "name", name, "spec", spec);
	if (!obj)
		return -ENOMEM;
	r = path_of(x, "restores", NULL, path, sizeof(path));
	if (r == 0)
		r = kube_create(x->k, path, obj, NULL, e);
	json_decref(obj);
	if (r < 0)
		return r;
	if (!x->json)
		printf("Restore \"%s\" created\n", name);
	return x->wait ? wait_restore(x, name, e) : 0;
}

static int set_paused(struct kctx *x, const char *name, bool paused, struct err *e)
{
	char path[1024];
	json_t *patch = json_pack("{s:{s:b}}", "spec", "paused", paused);
	int r = path_of(x, "schedules", name, path, sizeof(path));

	if (r == 0)
		r = kube_patch_merge(x->k, path, patch, NULL, e);
	json_decref(patch);
	if (r == 0 && !x->json)
		printf("Schedule \"%s\" %s\n", name, paused ? "paused" : "unpaused");
	return r;
}

static int del(struct kctx *x, const char *plural, const char *name, struct err *e)
{
	char path[1024];
	int r = path_of(x, plural, name, path, sizeof(path));

	if (r == 0)
		r = kube_request(x->k, "DELETE", path, NULL, NULL, NULL, e);
	if (r == 0 && !x->json)
		printf("%s \"%s\" deleted\n", plural, name);
	return r;
}

/* One flag of backup/schedule create into x->spec; -EINVAL with the reason. */
static int create_flag(struct kctx *x, int o, const char *arg, struct err *e)
{
	json_t *sel = NULL;
	int64_t d;

	switch (o) {
	case 'i':
		json_object_set_new(x->spec, "includedNamespaces", str_list(arg));
		break;
	case 'x':
		json_object_set_new(x->spec, "excludedNamespaces", str_list(arg));
		break;
	case 'l':
		if (selector(arg, &sel) < 0)
			return err_set(e, -EINVAL, "kube: bad --selector '%s' (k=v,...)", arg);
		json_object_set_new(x->spec, "labelSelector", sel);
		break;
	case 't':
		if (ctl_duration_parse(arg, &d) < 0)
			return err_set(e, -EINVAL, "kube: bad --ttl '%s' (like 720h0m0s)", arg);
		json_object_set_new(x->spec, "ttl", json_string(arg));
		break;
	case 's':
		json_object_set_new(x->spec, "storageLocation", json_string(arg));
		break;
	case 'd':
		json_object_set_new(x->spec, "defaultVolumesToFsBackup", json_true());
		break;
	case 'T':
		if (ctl_duration_parse(arg, &d) < 0 || d < 1)
			return err_set(e, -EINVAL, "kube: bad --timeout '%s' (like 4h)", arg);
		x->timeout = arg;
		break;
	case 'c':
		x->cron = arg;
		break;
	case 'w':
		x->wait = true;
		break;
	case 'F':
		json_object_set_new(x->spec, "backupName", json_string(arg));
		break;
	case 'M':
		return ns_mappings(x->spec, arg, e);
	case 'S':
		json_object_set_new(x->spec, "storageClassName", json_string(arg));
		break;
	case 'Z':
		if (!*arg || arg[0] < '0' || arg[0] > '9')
			return err_set(e, -EINVAL, "kube: bad --pvc-size '%s' (like 10Gi)", arg);
		json_object_set_new(x->spec, "pvcSize", json_string(arg));
		break;
	case 'P':
		return target_pvc(x->spec, arg, e);
	case 'V':
		json_object_set_new(x->spec, "volume", json_string(arg));
		break;
	case 'O':
		json_object_set_new(x->spec, "overwrite", json_true());
		break;
	case 'N':
		json_object_set_new(x->spec, "writeSparseFiles", json_false());
		break;
	default:
		return err_set(e, -EINVAL, "kube: bad arguments");
	}
	return 0;
}

/* The API's transient failures (server busy, unreachable) are the documented "server or
 * network failure" exit, not the repository lock's. */
static int kube_exit(int r)
{
	return r == -EBUSY || r == -EHOSTDOWN ? -EHOSTUNREACH : r;
}

int cmd_kube(struct cli *c, int argc, char **argv)
{
	struct kctx x = { .json = c->json, .spec = json_object() };
	const char *kubeconfig = NULL, *what, *verb, *name;
	struct err e = ERR_INIT;
	bool create_verb;
	int o, r = 0, n;

	if (!x.spec)
		return EXIT_FAILURE_;
	while (r == 0 && (o = cli_getopt(c, argc, argv)) != -1) {
		switch (o) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'n':
			x.ns = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "table"))
				r = err_set(&e, -EINVAL,
				            "kube: --output is table or json, not '%s'", optarg);
			x.json = !strcmp(optarg, "json") || c->json;
			break;
		default:
			for (const struct cmd_flag *f = cmdtab_find("kube")->flags; f->name; f++) {
				if (f->val != o)
					continue;
				if (!x.create_flag)
					x.create_flag = f->name;
				if (!x.backup_flag && strchr("tsdTc", o))
					x.backup_flag = f->name;
				if (!x.restore_flag && strchr("FMSZPVO", o))
					x.restore_flag = f->name;
			}
			r = create_flag(&x, o, optarg, &e);
			break;
		}
	}
	n = argc - optind;
	what = n > 0 ? argv[optind] : "";
	verb = n > 1 ? argv[optind + 1] : "";
	name = n > 2 ? argv[optind + 2] : NULL;
	create_verb = !strcmp(verb, "create") && strcmp(what, "location");
	if (r == 0 && (n < 2 || n > 3))
		r = err_set(&e, -EINVAL,
		            "kube: give backup|schedule|restore|location VERB [NAME] (see cairn "
		            "kube --help)");
	else if (r == 0 && x.create_flag && !create_verb)
		r = err_set(&e, -EINVAL, "kube: --%s is for backup, schedule and restore create",
		            x.create_flag);
	else if (r == 0 && x.backup_flag && !strcmp(what, "restore"))
		r = err_set(&e, -EINVAL, "kube: --%s is for backup create and schedule create",
		            x.backup_flag);
	else if (r == 0 && x.restore_flag && strcmp(what, "restore"))
		r = err_set(&e, -EINVAL, "kube: --%s is for restore create", x.restore_flag);
	if (r < 0) {
		json_decref(x.spec);
		return cli_fail(c, &e, r);
	}
	r = kcfg_load(kubeconfig, &x.kc, &e);
	if (r < 0) {
		json_decref(x.spec);
		return cli_fail(c, &e, r);
	}
	if (!x.ns)
		x.ns = x.kc.ns;
	snprintf(x.base, sizeof(x.base), "/apis/%s/namespaces/%s", CTL_API, x.ns);
	r = kube_new(&x.kc, &x.k);
	if (r < 0)
		goto out;
	if (!strcmp(what, "backup") && create_verb)
		r = create(&x, false, name, &e);
	else if (!strcmp(what, "schedule") && create_verb)
		r = create(&x, true, name, &e);
	else if (!strcmp(what, "restore") && create_verb)
		r = create_restore(&x, name, &e);
	else if (!strcmp(what, "restore") && !strcmp(verb, "get"))
		r = get(&x, "restores", name, print_restores, &e);
	else if (!strcmp(what, "restore") && !strcmp(verb, "describe") && name)
		r = describe_restore(&x, name, &e);
	else if (!strcmp(what, "restore") && !strcmp(verb, "delete") && name)
		r = del(&x, "restores", name, &e);
	else if (!strcmp(what, "backup") && !strcmp(verb, "get"))
		r = get(&x, "backups", name, print_backups, &e);
	else if (!strcmp(what, "schedule") && !strcmp(verb, "get"))
		r = get(&x, "schedules", name, print_schedules, &e);
	else if (!strcmp(what, "location") && !strcmp(verb, "get"))
		r = get(&x, "backupstoragelocations", name, print_locations, &e);
	else if (!strcmp(what, "backup") && !strcmp(verb, "describe") && name)
		r = describe(&x, name, &e);
	else if (!strcmp(what, "backup") && !strcmp(verb, "delete") && name)
		r = del(&x, "backups", name, &e);
	else if (!strcmp(what, "schedule") && !strcmp(verb, "delete") && name)
		r = del(&x, "schedules", name, &e);
	else if (!strcmp(what, "schedule") &&
	         (!strcmp(verb, "pause") || !strcmp(verb, "unpause")) && name)
		r = set_paused(&x, name, !strcmp(verb, "pause"), &e);
	else
		r = err_set(&e, -EINVAL, "kube: unknown command '%s %s'%s (see cairn kube --help)",
		            what, verb, name ? "" : " or no NAME");
out:
	json_decref(x.spec);
	kube_free(x.k);
	kcfg_release(&x.kc);
	if (r < 0)
		return cli_fail(c, &e, kube_exit(r));
	return r > 0 ? r : EXIT_OK; /* create --wait: the documented exit of its outcome */
}
