/* Owns removal: a Backup being deleted (by a person or because it expired) cancels its
 * running volumes, forgets its snapshots, deletes its PodVolumeBackups and then lets the
 * API server drop it; and the periodic prune of each repository, one at a time, never
 * while a backup writes into it. */
#include "controller/ctl-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/maint.h"
#include "util/banned.h"
#include "util/hex.h"

/* How long a deleted Backup waits for its cancelled volumes to stop before their
 * snapshots are forgotten anyway (an agent may be gone for good). */
#define CANCEL_GRACE_SEC 60

static bool running(const json_t *pvb)
{
	const char *p = ctl_jstr(json_object_get(pvb, "status"), "phase");

	return !p || (strcmp(p, "Completed") != 0 && strcmp(p, "Failed") != 0 &&
	              strcmp(p, "Canceled") != 0);
}

bool ctl_location_read_only(const json_t *loc)
{
	const char *mode = ctl_jstr(json_object_get(loc, "spec"), "accessMode");

	return mode && strcmp(mode, "ReadOnly") == 0;
}

/* True when cr is not this cluster's to prune. With one fixed repository every location
 * names it: it is when all of them are ReadOnly (a cluster that only restores another's
 * backups). Otherwise when a ReadOnly location's URL prefix reaches it. */
static bool repo_read_only(const struct ctl *c, const struct ctl_repo *cr)
{
	const json_t *loc;
	struct err e = ERR_INIT;
	char url[2048];
	size_t i, ro = 0;

	json_array_foreach(c->locations, i, loc)
	{
		if (!ctl_location_read_only(loc))
			continue;
		ro++;
		if (!c->cfg->repo_url && ctl_location_url(loc, "", url, sizeof(url), &e) == 0 &&
		    strncmp(cr->url, url, strlen(url)) == 0)
			return true;
		err_clear(&e);
	}
	return c->cfg->repo_url && ro && ro == json_array_size(c->locations);
}

/* Forget one snapshot under an exclusive lock. -EBUSY when a backup or another
 * maintenance holds the repository. */
static int forget(struct ctl *c, const json_t *pvb, const char *id_hex, struct err *e)
{
	const json_t *spec = json_object_get(pvb, "spec");
	const char *pod_ns = ctl_jstr(json_object_get(spec, "pod"), "namespace");
	const json_t *loc = ctl_location(c, ctl_jstr(spec, "backupStorageLocation"));
	uint8_t id[ID_BYTES];
	struct ctl_repo *cr;
	struct repo_lock *l = NULL;
	int r;

	if (strlen(id_hex) != ID_HEX - 1 || hex_decode(id_hex, id, ID_BYTES) < 0)
		return err_set(e, -EINVAL, "bad snapshot id '%s'", id_hex);
	if (!loc && !c->cfg->repo_url)
		return err_set(e, -ENOENT, "storage location of %s is gone", ctl_meta(pvb, "name"));
	if (ctl_location_read_only(loc))
		return err_set(e, -EROFS, "storage location %s is ReadOnly", ctl_meta(loc, "name"));
	r = ctl_repo_get(c, loc, pod_ns ? pod_ns : "", &cr, e);
	if (r < 0)
		return r;
	r = repo_lock(cr->r, REPO_LOCK_EXCLUSIVE, &l, e);
	if (r < 0)
		return r;
	r = repo_snapshot_delete(cr->r, id, e);
	repo_unlock(l);
	if (r == -ENOENT) {
		err_clear(e);
		r = 0;
	}
	return r;
}

int ctl_backup_delete(struct ctl *c, json_t *b)
{
	const char *name = ctl_meta(b, "name");
	struct err e = ERR_INIT;
	json_t *pvbs = NULL, *pvb, *patch = NULL;
	char path[1024], sel[512];
	time_t since = 0;
	size_t i, busy = 0;
	int r;

	if (!ctl_has_finalizer(b, CTL_FINALIZER))
		return 0;
	r = ctl_path(c, "podvolumebackups", NULL, path, sizeof(path));
	if (r < 0)
		return r;
	snprintf(sel, sizeof(sel), "%s=%s", CTL_LABEL_BACKUP_ID, ctl_meta(b, "uid"));
	r = ctl_list(c, path, sel, &pvbs, &e);
	if (r < 0)
		goto fail;
	if (ctl_time_parse(ctl_meta(b, "deletionTimestamp"), &since) < 0)
		since = 0;
	json_array_foreach(pvbs, i, pvb)
	{
		if (!running(pvb))
			continue;
		busy++;
		if (!json_is_true(json_object_get(json_object_get(pvb, "spec"), "cancel"))) {
			patch = json_pack("{s:{s:b}}", "spec", "cancel", 1);
			if (ctl_path(c, "podvolumebackups", ctl_meta(pvb, "name"), path,
			             sizeof(path)) == 0 &&
			    kube_patch_merge(c->k, path, patch, NULL, &e) < 0)
				ctl_note(c, CTL_NOTE_WARN, "cannot cancel %s: %s",
				         ctl_meta(pvb, "name"), e.msg);
			json_decref(patch);
			patch = NULL;
			err_clear(&e);
		}
	}
	/* deletionTimestamp is the API server's clock, so this wait uses the real one. The
	 * pods still get their post hooks: what a pre hook froze must be thawed. */
	r = ctl_backup_post_hooks(c, b, pvbs, time(NULL) - since >= CANCEL_GRACE_SEC, &e);
	if (r < 0)
		goto fail;
	if (r == 1 || (busy && time(NULL) - since < CANCEL_GRACE_SEC)) {
		r = 1;
		goto fail;
	}
	json_array_foreach(pvbs, i, pvb)
	{
		const char *id = ctl_jstr(json_object_get(pvb, "status"), "snapshotID");

		if (id && *id) {
			r = forget(c, pvb, id, &e);
			if (r < 0) {
				ctl_note(c, CTL_NOTE_WARN,
				         "backup %s: snapshot %.12s not forgotten yet: %s", name,
				         id, e.msg);
				r = 1; /* retried on the next pass */
				goto fail;
			}
		}
	}
	json_array_foreach(pvbs, i, pvb)
	{
		if (ctl_path(c, "podvolumebackups", ctl_meta(pvb, "name"), path, sizeof(path)) ==
		        0 &&
		    kube_delete(c->k, path, &e) < 0) {
			ctl_note(c, CTL_NOTE_WARN, "cannot delete %s: %s", ctl_meta(pvb, "name"),
			         e.msg);
			err_clear(&e);
		}
	}
	r = ctl_path(c, "backups", name, path, sizeof(path));
	if (r == 0)
		r = ctl_finalizer(c, path, b, CTL_FINALIZER, false, &e);
	if (r == 0)
		ctl_note(c, CTL_NOTE_INFO, "backup %s deleted with %zu volume snapshots", name,
		         json_array_size(pvbs));
fail:
	if (r < 0)
		ctl_note(c, CTL_NOTE_WARN, "backup %s: deletion: %s", name, e.msg);
	json_decref(pvbs);
	return r;
}

static bool backup_running(const struct ctl *c)
{
	const json_t *b;
	size_t i;

	json_array_foreach(c->backups, i, b)
	{
		const char *p = ctl_jstr(json_object_get(b, "status"), "phase");

		if (p && strcmp(p, "InProgress") == 0)
			return true;
	}
	return false;
}

void ctl_maintenance(struct ctl *c)
{
	struct repo_prune_opts o = { .max_unused_pct = 5 };
	struct repo_prune_result res;
	struct err e = ERR_INIT;
	struct ctl_repo *cr = NULL;
	struct repo_lock *l = NULL;
	time_t now = ctl_mono();
	size_t i;
	int r;

	if (c->cfg->maintenance_sec <= 0)
		return;
	if (c->cfg->repo_url && c->n_repos == 0 && ctl_repo_get(c, NULL, "", &cr, &e) < 0) {
		ctl_note(c, CTL_NOTE_DEBUG, "maintenance: %s", e.msg);
		return;
	}
	/* The one most overdue; the others wait for later passes. */
	cr = NULL;
	for (i = 0; i < c->n_repos; i++)
		if (now - c->repos[i].last_prune >= c->cfg->maintenance_sec &&
		    (!cr || c->repos[i].last_prune < cr->last_prune))
			cr = &c->repos[i];
	if (!cr || backup_running(c))
		return;
	if (repo_read_only(c, cr)) {
		cr->last_prune = now; /* said once per interval */
		ctl_note(c, CTL_NOTE_INFO,
		         "maintenance of %s skipped: a ReadOnly storage location reaches it",
		         cr->url);
		return;
	}
	r = repo_lock(cr->r, REPO_LOCK_EXCLUSIVE, &l, &e);
	if (r < 0) {
		ctl_note(c, CTL_NOTE_INFO, "maintenance of %s postponed: %s", cr->url, e.msg);
		return;
	}
	r = repo_index_reload(cr->r, &e) < 0 ? -EIO : 0;
	if (r == 0)
		r = repo_prune(cr->r, l, &o, &res, &e);
	repo_unlock(l);
	cr->last_prune = now;
	if (r < 0) {
		ctl_note(c, CTL_NOTE_WARN, "maintenance of %s failed: %s", cr->url, e.msg);
		return;
	}
	if (repo_index_reload(cr->r, &e) < 0)
		err_clear(&e); /* the next user reloads again */
	ctl_note(c, CTL_NOTE_INFO, "pruned %s: %llu packs deleted, %llu repacked", cr->url,
	         (unsigned long long)res.packs_deleted, (unsigned long long)res.packs_repacked);
}
