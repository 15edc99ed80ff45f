/* Owns Schedules: validate the cron expression, and when a run is due create the Backup
 * `<schedule>-<YYYYMMDDhhmmss>` from the template. A run missed while the controller was
 * down is made once (the next time after the last backup is in the past), not once per
 * missed slot. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static int put_status(struct ctl *c, const char *path, const json_t *s, const char *phase,
                      const char *why, time_t last)
{
	json_t *st = json_is_object(json_object_get(s, "status"))
	                 ? json_deep_copy(json_object_get(s, "status"))
	                 : json_object();
	struct err e = ERR_INIT;
	char ts[32];
	int r;

	if (!st)
		return -ENOMEM;
	json_object_set_new(st, "phase", json_string(phase));
	if (why)
		json_object_set_new(st, "validationErrors", json_pack("[s]", why));
	else
		json_object_del(st, "validationErrors");
	if (last) {
		ctl_timestamp(last, ts);
		json_object_set_new(st, "lastBackup", json_string(ts));
	}
	r = ctl_status_put(c, path, st, &e);
	if (r < 0 && r != -ENOENT)
		ctl_note(c, CTL_NOTE_WARN, "schedule %s: status not written: %s",
		         ctl_meta(s, "name"), e.msg);
	return r;
}

static int create_backup(struct ctl *c, const json_t *s, time_t now, struct err *e)
{
	const char *sname = ctl_meta(s, "name");
	const json_t *spec = json_object_get(s, "spec");
	json_t *tmpl = json_deep_copy(json_object_get(spec, "template")), *obj;
	char name[300], path[1024];
	struct tm tm;
	int r;

	if (!tmpl)
		tmpl = json_object();
	gmtime_r(&now, &tm);
	snprintf(name, sizeof(name), "%.230s-%04d%02d%02d%02d%02d%02d", sname, tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:o}", "apiVersion", CTL_API, "kind",
	                "Backup", "metadata", "name", name, "namespace", c->ns, "labels",
	                CTL_LABEL_SCHEDULE, sname, "spec", tmpl);
	if (!obj)
		return -ENOMEM;
	if (json_is_true(json_object_get(spec, "useOwnerReferencesInBackup")))
		json_object_set_new(json_object_get(obj, "metadata"), "ownerReferences",
		                    json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", CTL_API, "kind",
		                              "Schedule", "name", sname, "uid",
		                              ctl_meta(s, "uid")));
	r = ctl_path(c, "backups", NULL, path, sizeof(path));
	if (r == 0)
		r = kube_create(c->k, path, obj, NULL, e);
	if (r == -EEXIST) { /* made by the run before a restart: that run counts */
		err_clear(e);
		r = 0;
	}
	json_decref(obj);
	if (r == 0)
		ctl_note(c, CTL_NOTE_INFO, "schedule %s: created backup %s", sname, name);
	return r;
}

int ctl_schedule_reconcile(struct ctl *c, json_t *s)
{
	const json_t *spec = json_object_get(s, "spec"), *st = json_object_get(s, "status");
	const char *expr = ctl_jstr(spec, "schedule"), *phase = ctl_jstr(st, "phase");
	struct ctl_cron cron;
	struct err e = ERR_INIT;
	char path[1024];
	time_t last = 0, next, now = ctl_now(c);
	int r;

	if (json_object_get(json_object_get(s, "metadata"), "deletionTimestamp"))
		return 0;
	r = ctl_path(c, "schedules", ctl_meta(s, "name"), path, sizeof(path));
	if (r < 0)
		return 0;
	r = ctl_cron_parse(expr ? expr : "", &cron, &e);
	if (r < 0) {
		char why[1100];

		snprintf(why, sizeof(why), "invalid schedule '%s': %s", expr ? expr : "", e.msg);
		if (!phase || strcmp(phase, "FailedValidation") != 0 ||
		    !json_object_get(st, "validationErrors"))
			(void)put_status(c, path, s, "FailedValidation", why, 0);
		return 0;
	}
	if (!phase || strcmp(phase, "Enabled") != 0) {
		/* Enabled first; skipImmediately or not, a new schedule's first run is the
		 * first cron time after it was created. */
		(void)put_status(c, path, s, "Enabled", NULL, 0);
		return 0;
	}
	if (json_is_true(json_object_get(spec, "paused")))
		return 0;
	if (ctl_time_parse(ctl_jstr(st, "lastBackup"), &last) < 0 &&
	    ctl_time_parse(ctl_meta(s, "creationTimestamp"), &last) < 0)
		return 0;
	if (ctl_cron_next(&cron, last, &next) < 0 || now < next)
		return 0;
	r = create_backup(c, s, now, &e);
	if (r < 0) {
		ctl_note(c, CTL_NOTE_WARN, "schedule %s: backup not created: %s",
		         ctl_meta(s, "name"), e.msg);
		return 0;
	}
	(void)put_status(c, path, s, "Enabled", NULL, now);
	return 0;
}
