/* Owns storage locations: periodic validation (Available | Unavailable with the reason)
 * and DR sync, which re-creates Backup and PodVolumeBackup objects from the snapshots in a
 * location's repositories, so a fresh cluster pointed at an existing bucket sees every
 * backup it can restore. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/hex.h"

static void put_phase(struct ctl *c, const json_t *loc, const char *phase, const char *msg)
{
	const json_t *old = json_object_get(loc, "status");
	struct err e = ERR_INIT;
	json_t *st = json_is_object(old) ? json_deep_copy(old) : json_object();
	char path[1024], ts[32];

	if (!st ||
	    ctl_path(c, "backupstoragelocations", ctl_meta(loc, "name"), path, sizeof(path)) < 0) {
		json_decref(st);
		return;
	}
	if (!ctl_jstr(old, "phase") || strcmp(ctl_jstr(old, "phase"), phase) != 0)
		ctl_note(c, strcmp(phase, "Available") == 0 ? CTL_NOTE_INFO : CTL_NOTE_WARN,
		         "storage location %s is %s%s%s", ctl_meta(loc, "name"), phase,
		         msg[0] ? ": " : "", msg);
	json_object_set_new(st, "phase", json_string(phase));
	json_object_set_new(st, "message", json_string(msg));
	ctl_timestamp(ctl_now(c), ts);
	json_object_set_new(st, "lastValidationTime", json_string(ts));
	if (ctl_status_put(c, path, st, &e) < 0)
		ctl_note(c, CTL_NOTE_WARN, "storage location %s: status not written: %s",
		         ctl_meta(loc, "name"), e.msg);
}

void ctl_locations_validate(struct ctl *c)
{
	const json_t *loc;
	size_t i;

	json_array_foreach(c->locations, i, loc)
	{
		const json_t *os = json_object_get(json_object_get(loc, "spec"), "objectStorage");
		const char *bucket = ctl_jstr(os, "bucket");
		struct err e = ERR_INIT;
		struct ctl_repo *cr;

		if (!bucket || !*bucket || strchr(bucket, '/')) {
			put_phase(c, loc, "Unavailable",
			          "spec.objectStorage.bucket is missing or "
			          "not a bucket name");
			continue;
		}
		/* With one repository for everything, it must open; per-namespace
		 * repositories are created by the agents on first use. */
		if (c->cfg->repo_url && ctl_repo_get(c, loc, "", &cr, &e) < 0) {
			put_phase(c, loc, "Unavailable", e.msg);
			continue;
		}
		put_phase(c, loc, "Available", "");
	}
}

static bool backup_known(const struct ctl *c, const char *name)
{
	const json_t *b;
	size_t i;

	json_array_foreach(c->backups, i,
	                   b) if (strcmp(ctl_meta(b, "name"), name) == 0) return true;
	return false;
}

/* Create obj, then write its status (dropped on create when the kind has a status
 * subresource). *ret_uid gets the new uid (malloc'ed). */
static int create_with_status(struct ctl *c, const char *plural, json_t *obj, char **ret_uid,
                              struct err *e)
{
	json_t *stored = NULL, *st = json_deep_copy(json_object_get(obj, "status"));
	char path[1024];
	int r = ctl_path(c, plural, NULL, path, sizeof(path));

	if (r == 0)
		r = kube_create(c->k, path, obj, &stored, e);
	if (r == 0)
		r = ctl_path(c, plural, ctl_meta(stored, "name"), path, sizeof(path));
	if (r == 0) {
		r = ctl_status_put(c, path, st, e);
		st = NULL;
	}
	if (r == 0 && ret_uid)
		*ret_uid = strdup(ctl_meta(stored, "uid"));
	json_decref(st);
	json_decref(stored);
	return r;
}

/* One backup found in a repository: its snapshots (indexes into v). */
static int sync_backup(struct ctl *c, const json_t *loc, const char *name, const struct snapshot *v,
                       size_t n)
{
	struct err e = ERR_INIT;
	json_t *b;
	char *uid = NULL, ts[32], te[32], tx[32];
	int64_t first = INT64_MAX, last = 0;
	size_t i, made = 0;
	int r;

	for (i = 0; i < n; i++) {
		if (!snapshot_tag(&v[i], "backup") || strcmp(snapshot_tag(&v[i], "backup"), name))
			continue;
		first = v[i].time_sec < first ? v[i].time_sec : first;
		last = v[i].time_sec > last ? v[i].time_sec : last;
	}
	ctl_timestamp((time_t)first, ts);
	ctl_timestamp((time_t)last, te);
	ctl_timestamp((time_t)first + (time_t)c->cfg->default_ttl_sec, tx);
	b = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s},s:[s]},s:{s:s},s:{s:s,s:s,s:s,s:s}}",
	              "apiVersion", CTL_API, "kind", "Backup", "metadata", "name", name,
	              "namespace", c->ns, "annotations", CTL_ANN_SYNCED, ctl_meta(loc, "name"),
	              "finalizers", CTL_FINALIZER, "spec", "storageLocation", ctl_meta(loc, "name"),
	              "status", "phase", "Completed", "startTimestamp", ts, "completionTimestamp",
	              te, "expiration", tx);
	if (!b)
		return -ENOMEM;
	r = create_with_status(c, "backups", b, &uid, &e);
	json_decref(b);
	if (r < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		const struct snapshot *s = &v[i];
		char id[ID_HEX], t[32], gen[300];
		json_t *pvb, *tags;

		if (!snapshot_tag(s, "backup") || strcmp(snapshot_tag(s, "backup"), name))
			continue;
		tags = json_object();
		if (!tags)
			continue;
		for (size_t j = 0; j < s->n_tags; j++) {
			const char *eq = strchr(s->tags[j], '=');
			char key[64];

			if (!eq || (size_t)(eq - s->tags[j]) >= sizeof(key))
				continue;
			memcpy(key, s->tags[j], (size_t)(eq - s->tags[j]));
			key[eq - s->tags[j]] = 0;
			json_object_set_new(tags, key, json_string(eq + 1));
		}
		hex_encode(s->id, ID_BYTES, id);
		ctl_timestamp((time_t)s->time_sec, t);
		snprintf(gen, sizeof(gen), "%.240s-", name);
		/* spec.node names no agent: a synced record is never claimed by one. */
		pvb = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s},s:{s:s}},"
		                "s:{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s},s:o},"
		                "s:{s:s,s:s,s:s,s:s}}",
		                "apiVersion", CTL_API, "kind", "PodVolumeBackup", "metadata",
		                "generateName", gen, "namespace", c->ns, "labels", CTL_LABEL_BACKUP,
		                name, CTL_LABEL_BACKUP_ID, uid, "annotations", CTL_ANN_SYNCED,
		                ctl_meta(loc, "name"), "spec", "node", "cairn-synced", "volume",
		                snapshot_tag(s, "volume") ? snapshot_tag(s, "volume") : "",
		                "backupStorageLocation", ctl_meta(loc, "name"), "uploaderType",
		                "cairn", "pod", "kind", "Pod", "namespace",
		                snapshot_tag(s, "ns") ? snapshot_tag(s, "ns") : "", "name",
		                snapshot_tag(s, "pod") ? snapshot_tag(s, "pod") : "", "uid",
		                snapshot_tag(s, "pod-uid") ? snapshot_tag(s, "pod-uid") : "",
		                "tags", tags, "status", "phase", "Completed", "snapshotID", id,
		                "startTimestamp", t, "completionTimestamp", t);
		if (!pvb)
			continue;
		r = create_with_status(c, "podvolumebackups", pvb, NULL, &e);
		json_decref(pvb);
		if (r < 0)
			goto fail;
		made++;
	}
	ctl_note(c, CTL_NOTE_INFO, "synced backup %s (%zu volumes) from storage location %s", name,
	         made, ctl_meta(loc, "name"));
fail:
	if (r < 0)
		ctl_note(c, CTL_NOTE_WARN, "sync of backup %s: %s", name, e.msg);
	free(uid);
	return r;
}

void ctl_sync(struct ctl *c)
{
	const json_t *loc;
	size_t i;

	json_array_foreach(c->locations, i, loc)
	{
		const char *phase = ctl_jstr(json_object_get(loc, "status"), "phase");
		struct err e = ERR_INIT;
		struct ctl_repo *cr;
		struct snapshot *v = NULL;
		size_t n = 0, j;

		if (!phase || strcmp(phase, "Available") != 0)
			continue;
		/* Only repositories we can name: the fixed one, or those opened so far. */
		if (!c->cfg->repo_url)
			continue;
		if (ctl_repo_get(c, loc, "", &cr, &e) < 0 ||
		    repo_snapshot_list(cr->r, &v, &n, &e) < 0) {
			ctl_note(c, CTL_NOTE_WARN, "sync from %s: %s", ctl_meta(loc, "name"),
			         e.msg);
			continue;
		}
		for (j = 0; j < n; j++) {
			const char *name = snapshot_tag(&v[j], "backup");

			if (!name || !*name || backup_known(c, name))
				continue;
			if (sync_backup(c, loc, name, v, n) < 0)
				break;
			/* Known from now on; the next list shows it anyway. */
			json_array_append_new(c->backups,
			                      json_pack("{s:{s:s}}", "metadata", "name", name));
		}
		snapshot_list_free(v, n);
	}
}
