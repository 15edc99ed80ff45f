/* State shared between the controller's files: the loop and helpers (ctl.c), Backups
 * (backup.c), Schedules (schedule.c), expiry, deletion and prune (gc.c), storage
 * locations and DR sync (location.c), metrics (metrics.c). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "controller/controller.h"
#include "kube/kube.h"
#include "repo/repo.h"
#include "util/attr.h"
#include "util/err.h"

#define CTL_MAX_REPOS 64

struct ctl_repo {
	char *url;
	struct repo *r;
	time_t last_prune;
};

struct ctl_metrics;

struct ctl {
	const struct ctl_config *cfg;
	struct kube_config kc;
	struct kube *k;
	const char *ns;
	char base[512];    /* /apis/cairn.dev/v1alpha1/namespaces/<ns> */
	json_t *locations; /* the last list of BackupStorageLocations (array) */
	json_t *backups;   /* the last list of Backups (array) */
	time_t last_validation, last_sync;
	struct ctl_repo repos[CTL_MAX_REPOS];
	size_t n_repos;
	struct ctl_metrics *m;
	struct ctl_hookpool *hp; /* created with the first hook job */
};

time_t ctl_now(const struct ctl *c);
/* A stop was asked for (SIGTERM): long work (hooks) ends early. */
bool ctl_stopping(void);
/* Seconds on CLOCK_MONOTONIC, for intervals. */
time_t ctl_mono(void);
void ctl_note(const struct ctl *c, enum ctl_note_level l, const char *fmt, ...) _printf_(3, 4);
const char *ctl_jstr(const json_t *o, const char *k);
const char *ctl_meta(const json_t *o, const char *k);
/* base + "/" + plural [+ "/" + name], bounded. */
int ctl_path(const struct ctl *c, const char *plural, const char *name, char *out,
             size_t n) _must_check_;
/* Every item of a collection (deep copies) into *ret (an array). */
int ctl_list(struct ctl *c, const char *collection, const char *label_selector, json_t **ret,
             struct err *e) _must_check_;
/* Replace obj's status with `status` (stolen), through the status subresource when the
 * kind has one, else through the object itself. -ENOENT when the object is gone. */
int ctl_status_put(struct ctl *c, const char *path, json_t *status, struct err *e) _must_check_;
/* Add or remove a finalizer (merge patch on the whole list). */
int ctl_finalizer(struct ctl *c, const char *path, const json_t *obj, const char *fin, bool add,
                  struct err *e) _must_check_;
bool ctl_has_finalizer(const json_t *obj, const char *fin);
void ctl_timestamp(time_t t, char out[32]);

/* The storage location a Backup names ("" = the default one), borrowed from
 * c->locations, or NULL. */
const json_t *ctl_location(const struct ctl *c, const char *name);
/* A location in ReadOnly access mode: its repositories are never written (no forget, no
 * prune), as a cluster restoring another one's backups needs. */
bool ctl_location_read_only(const json_t *loc);
/* The repository URL of a location for one pod namespace ("" gives the common prefix). */
int ctl_location_url(const json_t *loc, const char *pod_ns, char *out, size_t n,
                     struct err *e) _must_check_;
/* The repository of a location and pod namespace, opened once and kept. */
int ctl_repo_get(struct ctl *c, const json_t *loc, const char *pod_ns, struct ctl_repo **ret,
                 struct err *e) _must_check_;
void ctl_repos_free(struct ctl *c);

int ctl_backup_reconcile(struct ctl *c, json_t *b) _must_check_;
/* A deleted Backup's owed post hooks (ctl_hooks_post), their outcome written to its
 * status. 0 when none is owed any more, 1 while some wait for their pod's volumes. */
int ctl_backup_post_hooks(struct ctl *c, const json_t *b, const json_t *pvbs, bool force,
                          struct err *e) _must_check_;
/* Append a message to status's warningMessages (or errorMessages) and its count. */
void ctl_status_add(json_t *status, bool error, const char *fmt, ...) _printf_(3, 4);

/* ---- hooks (hooks.c) ---- */

/* Run hooks (from ctl_hooks_of) in pod in order, counting them in status.hooks
 * (attempted, failed). A failed on-error Continue hook is a warning in status; a failed
 * Fail hook stops the rest and returns -EIO with why in msg (exit code and stderr, or the
 * timeout). 0 otherwise. */
int ctl_hooks_run(struct ctl *c, const json_t *pod, const json_t *hooks, json_t *status, char *msg,
                  size_t n) _must_check_;
/* Note in status.hooks.pending that pod's post hooks are owed. */
int ctl_hooks_owe(json_t *status, const json_t *pod) _must_check_;
/* Append pod (namespace, name, uid) to the array status.hooks.<list>. */
int ctl_hooks_note(json_t *status, const char *list, const json_t *pod) _must_check_;
/* Start the owed post hooks (on the hook pool) of every pod whose PodVolumeBackups (pvbs:
 * all of b's) are terminal, or of every pod with force, but never of a pod still in
 * status.hooks.pre; take back those that returned, record their outcome in status and drop
 * them from the list. Returns how many are still owed, *running of them started. */
size_t ctl_hooks_post(struct ctl *c, const json_t *b, json_t *status, const json_t *pvbs,
                      bool force, size_t *running);
/* ---- hooks that outlive a pass of the loop (hookpool.c) ---- */

enum ctl_hook_kind { CTL_HOOK_PRE, CTL_HOOK_POST };

/* One pod's hooks for one Backup, run on a worker while the loop goes on. The job owns
 * everything it reads (a copy of the pod, its hooks, the ids), so a Backup deleted or
 * rewritten meanwhile never frees what a worker uses; only the loop frees a job, after it
 * took it back (ctl_hookjob_take). */
struct ctl_hookjob {
	json_t *pod;    /* owned: the pod as it was when the job started */
	json_t *hooks;  /* owned, from ctl_hooks_of */
	json_t *status; /* the job's own counts and warnings (ctl_hooks_run's status) */
	char msg[1024]; /* why, when r is -EIO */
	int r;          /* ctl_hooks_run's result, set by the worker */
	enum ctl_hook_kind kind;
	char buid[128], puid[128]; /* the Backup's and the pod's uid */
	bool done;                 /* under the pool's lock */
	struct ctl_hookjob *next;
};
struct ctl_hookpool;

/* Start pod's hooks (both stolen, released on failure) for Backup buid on a worker and
 * return at once. 0, or a negative errno when nothing was started (-EAGAIN: the queue is
 * full; the caller tries again on a later pass). */
int ctl_hookjob_start(struct ctl *c, const char *buid, enum ctl_hook_kind kind, json_t *pod,
                      json_t *hooks) _must_check_;
/* The job of that Backup, pod and kind: 0 when there is none, 1 while it runs, 2 when it
 * finished: then it is taken out of the pool into *ret, for ctl_hookjob_free. */
int ctl_hookjob_take(struct ctl *c, const char *buid, const char *puid, enum ctl_hook_kind kind,
                     struct ctl_hookjob **ret);
void ctl_hookjob_free(struct ctl_hookjob *j);
/* Free the finished jobs of Backups no longer in backups (the last list): nobody will
 * take them. Running ones are freed once they finished, on a later sweep. */
void ctl_hookpool_sweep(struct ctl *c, const json_t *backups);
/* Stop: the running hooks end early (ctl_stopping), workers are joined, jobs freed. */
void ctl_hookpool_free(struct ctl *c);
/* Add a finished job's counts and messages to a Backup's status. */
void ctl_hooks_merge(json_t *status, const struct ctl_hookjob *j);
/* How many pods' hooks may run at once (cfg->hook_workers, or CTL_HOOK_WORKERS). */
unsigned ctl_hook_workers(const struct ctl *c);
int ctl_schedule_reconcile(struct ctl *c, json_t *s) _must_check_;
/* A Backup with a deletionTimestamp: cancel its volumes, forget its snapshots, delete its
 * PodVolumeBackups, drop the finalizer. 0 when done, 1 when it must wait. */
int ctl_backup_delete(struct ctl *c, json_t *b) _must_check_;
/* Prune every known repository that is due and not being written. */
void ctl_maintenance(struct ctl *c);
void ctl_locations_validate(struct ctl *c);
void ctl_sync(struct ctl *c);

/* ---- restores (restore.c, pvc.c) ---- */

#define CTL_LABEL_RESTORE_UID    "cairn.dev/restore-uid"
#define CTL_LABEL_RESTORE_HELPER "cairn.dev/restore-helper"
#define CTL_ANN_SOURCE_PVB       "cairn.dev/source-pvb"
#define CTL_ANN_HELPER_POD       "cairn.dev/helper-pod"
/* The helper pod runs `cairn restore-wait` from cairn's own image. */
#define CTL_HELPER_IMAGE "cairn"

/* One backed-up volume a Restore brings back; strings borrowed from the PVB and Restore. */
struct ctl_ritem {
	const char *restore_name, *restore_uid, *pvb_name;
	const char *src_ns, *pod, *volume, *pvc, *pvc_spec, *snapshot, *bsl;
	const char *target_pvc;                     /* --to-pvc: the existing claim */
	const char *class_override, *size_override; /* "" or NULL: as recorded */
	char tns[256];                              /* the target namespace */
	uint64_t size;
	bool overwrite;
	bool no_sparse;    /* spec.writeSparseFiles false: holes written as zeros */
	bool restore_pvcs; /* spec.restorePVCs (default true): re-create claims of gone pods */
};

int ctl_restore_reconcile(struct ctl *c, json_t *rst) _must_check_;
/* List the Restores and move each on (one pass of the loop). */
void ctl_restores_pass(struct ctl *c);
/* The object of list whose cairn.dev/source-pvb annotation names pvb (borrowed) or NULL. */
const json_t *ctl_restore_made(const json_t *list, const char *pvb);
/* Create what is missing for it (claim, helper pod, PodVolumeRestore); pods and pvcs are
 * what this Restore made so far in the target namespace plus the pods there. 1 when the
 * volume has no claim and no pod with restore-wait waits for it yet. */
int ctl_restore_start_item(struct ctl *c, const struct ctl_ritem *it, const json_t *pods,
                           const json_t *pvcs, struct err *e) _must_check_;

/* ---- metrics (metrics.c) ---- */
int ctl_metrics_start(const char *addr, struct ctl_metrics **ret, struct err *e) _must_check_;
void ctl_metrics_stop(struct ctl_metrics *m);
unsigned ctl_metrics_port(const struct ctl_metrics *m);
/* phase: the Backup's final phase; schedule may be "" */
void ctl_metrics_backup(struct ctl_metrics *m, const char *schedule, const char *phase,
                        double seconds, uint64_t bytes, time_t when);
void ctl_metrics_attempt(struct ctl_metrics *m, const char *schedule);
