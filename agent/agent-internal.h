/* State shared between the agent's files: kubelet paths (kubelet_), PodVolumeBackup
 * records (pvb_), storage locations (bsl_), jobs (job_) and metrics (metrics_). The
 * Kubernetes client itself is kube/. */
#pragma once
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/agent.h"
#include "kube/kube.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

/* ---- kubelet paths (kubelet.c) ---- */

/* The folder name under volumes/<plugin>/ for volume `name` of a pod, Velero's way: the
 * volume name; for a PVC the bound PV name, plus "/mount" when the PV is CSI; for an
 * inline CSI volume "<name>/mount". podvol is the entry of pod.spec.volumes; pv is the
 * bound PersistentVolume (NULL for non-PVC volumes); drivers is the CSIDriverList (NULL
 * when not needed, see kubelet_pv_needs_drivers). -EINVAL for an unsafe name. */
int kubelet_volume_dir(const json_t *podvol, const json_t *pv, const json_t *drivers, char *out,
                       size_t n, struct err *e) _must_check_;
/* True when pv has no spec.csi but an annotation (provisioned-by, migrated-to) may name a
 * CSI driver: an in-tree PV migrated to CSI is mounted as a CSI volume. */
bool kubelet_pv_needs_drivers(const json_t *pv);
/* Check the kubelet pods folder against the pods the API server says run on this node:
 * each must have its <host_pods>/<uid> folder. -ENOENT with a message naming the first
 * pod whose folder is missing (the host path is wrong); -ENOTDIR when host_pods is not a
 * folder. pods is a PodList's items array. */
int kubelet_check_pods(const char *host_pods, const json_t *pods, size_t *ret_checked,
                       struct err *e) _must_check_;
/* Exactly one match of <host_pods>/<pod_uid>/volumes/ * /<dir>, malloc'ed into ret;
 * -ENOENT none, -ENOTUNIQ several; the message names the pattern. */
int kubelet_resolve(const char *host_pods, const char *pod_uid, const char *dir, char **ret,
                    struct err *e) _must_check_;
/* The volume entry named `volume` in pod.spec.volumes (borrowed) or NULL. */
const json_t *kubelet_pod_volume(const json_t *pod, const char *volume);

/* ---- PodVolumeBackup records (pvb.c) ---- */

/* cairn's own API group: the agent never reads or writes another group's objects. */
#define CAIRN_API         "/apis/cairn.dev/v1alpha1"
#define PVB_FINALIZER     "cairn.dev/pod-volume-finalizer"
#define PVB_LABEL_BACKUP  "cairn.dev/backup-name"
#define PVB_LABEL_UID     "cairn.dev/backup-uid"
#define PVB_EMPTY_MESSAGE "volume was empty so no snapshot was taken"
#define PVB_ANN_PVC_SPEC  "cairn.dev/pvc-spec"

enum pvb_phase {
	PVB_NEW, /* "" or "New" */
	PVB_ACCEPTED,
	PVB_IN_PROGRESS,
	PVB_COMPLETED,
	PVB_FAILED,
	PVB_CANCELED,
	PVB_PARTIALLY_FAILED, /* PodVolumeRestores only: some files could not be restored */
	_PVB_PHASE_MAX,
	_PVB_PHASE_INVALID = -22,
};

/* Borrowed views into a PodVolumeBackup's JSON; valid while the object lives. */
struct pvb {
	const char *name, *ns, *uid;
	const char *node, *volume, *bsl;
	const char *pod_ns, *pod_name, *pod_uid;
	const json_t *tags; /* spec.tags object or NULL */
	enum pvb_phase phase;
	bool cancel, deleting;
};

const char *pvb_phase_name(enum pvb_phase p);
enum pvb_phase pvb_phase_from_name(const char *s);
/* -EINVAL when a required field (name, spec.node, spec.volume, spec.pod) is missing. */
int pvb_parse(const json_t *obj, struct pvb *ret) _must_check_;
bool pvb_claimable(const struct pvb *p, const char *node);
bool pvb_terminal(enum pvb_phase p);

struct pvb_status {
	enum pvb_phase phase;
	const char *message;     /* NULL leaves it; "" clears it */
	const char *snapshot_id; /* NULL leaves it */
	const char *path;
	const char *node; /* PodVolumeRestores: the node restoring it; NULL leaves it */
	bool has_progress;
	uint64_t total_bytes, bytes_done;
	bool has_incremental;
	uint64_t incremental_bytes;
	time_t accepted, start, completion; /* 0 leaves them */
};

/* Write s into obj.status (creating it), keeping fields s leaves alone. */
int pvb_status_apply(json_t *obj, const struct pvb_status *s) _must_check_;
/* Add or remove the agent's finalizer; returns 1 when obj changed. */
int pvb_finalizer(json_t *obj, bool add) _must_check_;

/* ---- PodVolumeRestore records (pvr.c) ---- */

#define PVR_LABEL_RESTORE_UID "cairn.dev/restore-uid"
#define PVR_LABEL_HELPER      "cairn.dev/restore-helper"
#define PVR_WAIT_CONTAINER    "restore-wait"
/* Velero's done-file: <volume>/.velero/<restore-uid>, which `cairn restore-wait` waits for. */
#define PVR_DONE_DIR ".velero"

/* Borrowed views into a PodVolumeRestore's JSON; valid while the object lives. */
struct pvr {
	const char *name, *ns, *uid;
	const char *pod_ns, *pod_name, *pod_uid; /* pod_uid may be NULL */
	const char *volume, *snapshot, *bsl, *source_ns;
	const char *node;        /* status.node: the claiming node, or NULL */
	const char *restore_uid; /* label cairn.dev/restore-uid, else the owner's uid */
	uint64_t size;           /* spec.snapshotSize, 0 when unknown */
	enum pvb_phase phase;
	bool cancel, deleting, overwrite;
	bool no_sparse; /* spec.writeSparseFiles: false (absent or true: holes stay holes) */
};

/* -EINVAL when a required field (name, spec.pod, spec.volume, spec.snapshotID) is missing
 * or the restore uid is not usable as a file name. */
int pvr_parse(const json_t *obj, struct pvr *ret) _must_check_;
/* True when pod (a core/v1 Pod) runs on node and is ready for its volumes to be filled:
 * its restore-wait init container is running, or it is the controller's helper pod
 * (label cairn.dev/restore-helper) and Running. */
bool pvr_pod_ready(const json_t *pod, const char *node);

/* ---- storage locations (bsl.c) ---- */

/* The repository URL for pods of namespace pod_ns under a BackupStorageLocation:
 * s3:<s3Url>/<bucket>/<prefix>/plugins/cairn/<pod_ns>, plus backend options written into
 * opts[] (malloc'ed "key=value", at most n_max; count in *ret_n). -EROFS for a ReadOnly
 * location (message says so), -EINVAL for a location we cannot use. */
int bsl_repo_url(const json_t *bsl, const char *pod_ns, char **ret_url, char **opts, size_t n_max,
                 size_t *ret_n, struct err *e) _must_check_;
/* The same for reading (restores): a ReadOnly location is fine; *ret_ro says it is one. */
int bsl_repo_url_read(const json_t *bsl, const char *pod_ns, char **ret_url, char **opts,
                      size_t n_max, size_t *ret_n, bool *ret_ro, struct err *e) _must_check_;

/* ---- metrics (metrics.c) ---- */

struct metrics;
/* addr: ":8085", "127.0.0.1:8085", ":0" (any free port) or "" (disabled: *ret NULL). */
int metrics_start(const char *addr, struct metrics **ret, struct err *e) _must_check_;
void metrics_stop(struct metrics *m);
unsigned metrics_port(const struct metrics *m);
void metrics_phase(struct metrics *m, enum pvb_phase p);
void metrics_backup_done(struct metrics *m, uint64_t bytes, uint64_t added, double seconds);
void metrics_running(struct metrics *m, int delta);
void metrics_status_latency(struct metrics *m, double seconds);
void metrics_healthy(struct metrics *m, bool ok);
/* A restore's repository: opened (key derived, index read) or reused from the last one. */
void metrics_restore_repo(struct metrics *m, bool reused);

/* ---- the table of this node's PodVolumeBackups (ptable.c) ---- */

struct job;
struct rjob;
struct pentry {
	char *uid;
	json_t *obj; /* the newest object seen (owned) */
	struct job *job;
	struct rjob *rjob; /* PodVolumeRestores: the running restore */
	time_t next_check; /* PodVolumeRestores: when to look at the target pod again */
	double seen_at;    /* PodVolumeRestores: monotonic seconds of its first event */
	bool seen;         /* in the current re-list */
	bool gone;         /* deleted while its job runs */
	bool gave_up;      /* its end could not be recorded: not started again by this process */
	bool resume;       /* Accepted by a previous process: claim it again */
	bool refused;      /* PodVolumeRestores: not valid (pvr_parse); said once in the log */
	uint64_t hash;
	struct pentry *next;
};
struct ptab {
	struct pentry **buckets;
	size_t n_buckets, n;
};
void ptab_init(struct ptab *t);
/* Borrowed entry or NULL. */
struct pentry *ptab_find(const struct ptab *t, const char *uid);
/* A new zeroed entry for uid (not checked for duplicates); -ENOMEM. */
int ptab_add(struct ptab *t, const char *uid, struct pentry **ret) _must_check_;
/* Frees the entry and its object (not its job). */
void ptab_del(struct ptab *t, struct pentry *en);
/* Iteration: ptab_next(t, NULL) is the first entry; take the next one before deleting. */
struct pentry *ptab_next(const struct ptab *t, const struct pentry *en);
void ptab_release(struct ptab *t);

/* ---- waking the main loop (wake.c) ---- */

/* What the main loop sleeps on: a watch event or a job's end wakes it at once; with
 * nothing to do it still runs every max_ms (pods are not watched, signals only set a flag). */
struct agent_wake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pending;
};
void agent_wake_init(struct agent_wake *w);
void agent_wake_release(struct agent_wake *w);
/* From any thread; NULL does nothing. */
void agent_wake(struct agent_wake *w);
/* Until a wake (one since the last return counts) or max_ms. */
void agent_wake_wait(struct agent_wake *w, unsigned max_ms);

/* ---- the repository restores keep open between jobs (repocache.c) ---- */

struct repo;
struct repocache;
/* Names of index files (64 hex digits each), sorted. */
struct repocache_names {
	char (*v)[ID_HEX];
	size_t n, cap;
};
void repocache_names_release(struct repocache_names *n);
/* The names under index/ now, sorted; -EFBIG past the number a kept repository may have. */
int repocache_list_index(struct repo *r, struct repocache_names *ret, struct err *e) _must_check_;
/* Call with the repository locked (so no prune runs): 0 when a kept repository may serve
 * one more restore, with the index files written since read in; -ESTALE when its key file
 * or an index file it read is gone (open it again); else the store's error. */
int repocache_still_valid(struct repo *r, const struct repocache_names *loaded,
                          struct err *e) _must_check_;
int repocache_new(struct repocache **ret) _must_check_;
/* The kept repository when it was opened for `where` (URL and options) and is not
 * expired, with the index names listed when it was put back (moved into *names); else
 * NULL. The caller owns it: repocache_put or repo_free. NULL c: NULL. */
struct repo *repocache_take(struct repocache *c, const char *where, struct repocache_names *names);
/* Keep r (opened for where; names: its index files, moved) for the next restore; the one
 * kept before is freed. Takes r in any case (freed when it cannot be kept). */
void repocache_put(struct repocache *c, const char *where, struct repo *r,
                   struct repocache_names *names);
/* From the main loop: free a repository idle too long. True when one went. */
bool repocache_expire(struct repocache *c);
void repocache_free(struct repocache *c);

/* ---- a restore's repository (rrepo.c) ---- */

struct agent_ctx;
struct repo_lock;
/* What a restore holds of its repository, and when each step of getting it ended
 * (monotonic seconds, 0: not reached), for the -vv step times. */
struct rrepo {
	struct repo *repo;
	struct repo_lock *lock; /* NULL for a ReadOnly location */
	char *where;            /* what it is kept under: URL and options (never logged) */
	bool ro;                /* the location is ReadOnly */
	bool kept;              /* the repository the last restore kept open */
	double t_location, t_open, t_lock, t_check;
};
/* The repository of PVR p, from its storage location (k reads it) or the agent's --repo:
 * the kept one when it still holds, else opened; locked as a reader unless the location is
 * ReadOnly. what names the restore in the log ("pvr ns/name"). On failure rr holds
 * nothing. */
int rrepo_open(const struct agent_ctx *a, struct kube *k, const struct pvr *p, const char *what,
               struct rrepo *rr, struct err *e) _must_check_;
/* Unlock, then keep the repository open for the next restore (keep: this one met no
 * fault) or free it. rr holds nothing afterwards. */
void rrepo_close(const struct agent_ctx *a, const char *what, struct rrepo *rr, bool keep);

/* ---- the agent's shared context and its jobs (agent.c, job.c, jobprep.c) ---- */

struct agent_ctx {
	const struct agent_config *cfg;
	struct kube_config kc;
	const char *ns;       /* namespace of the PodVolumeBackups */
	char collection[512]; /* CAIRN_API/namespaces/<ns>/podvolumebackups */
	struct metrics *metrics;
	struct agent_wake *wake;  /* the main loop's; jobs wake it when they end */
	struct repocache *rcache; /* restores' kept repository */
};

/* True once a stop was requested (signal or agent_stop). */
bool agent_stopping(void);

/* Tags and identity of one volume, filled by job_prepare. */
#define JOB_MAX_TAGS 11
/* A pod's backup command (cairn.dev/backup-command): its stdout is the backup. */
#define JOB_ANN_CMD           "cairn.dev/backup-command"
#define JOB_ANN_CMD_CONTAINER "cairn.dev/backup-command-container"
#define JOB_ANN_CMD_FILE      "cairn.dev/backup-command-filename"
#define JOB_CMD_MAX_ARGS      256
struct job_volume {
	/* The kubelet folder to read, or with a backup command "backup-command:<file>" for
	 * status.path (malloc'ed). */
	char *path;
	/* With a backup command: argv (NULL-terminated, malloc'ed words), the container
	 * ("" for the pod's only one) and the name of the one file of the snapshot. */
	char **cmd_argv;
	size_t cmd_argc;
	char cmd_container[256];
	char cmd_file[256];
	char tagbuf[JOB_MAX_TAGS][320];
	size_t n_tags;
	size_t parent_idx[3]; /* indexes into tagbuf */
	size_t n_parent_tags;
	/* "pvc-spec=<JSON>": the claim's spec, so a fresh cluster can re-create the claim
	 * from the repository alone (malloc'ed; NULL for other volumes). */
	char *pvc_spec;
	/* Pointers into tagbuf (and pvc_spec), set by job_volume_bind once the struct stays put. */
	const char *tags[JOB_MAX_TAGS + 1];
	const char *parent_tags[3];
};
void job_volume_bind(struct job_volume *v);

/* Resolve the pod volume of PVB p to a folder and build its tags. -ENOENT/-ENOTUNIQ/-EINVAL
 * with the reason in e (the message names the glob when the folder is not found). */
int job_prepare(struct kube *k, const struct agent_ctx *a, const struct pvb *p, const json_t *obj,
                struct job_volume *ret, struct err *e) _must_check_;
void job_volume_release(struct job_volume *v);
/* Open (or, for a storage-location repository, create) the repository for PVB p. */
struct repo;
int job_open_repo(struct kube *k, const struct agent_ctx *a, const struct pvb *p, struct repo **ret,
                  struct err *e) _must_check_;
/* Run the pod's backup command (v->cmd_*) through pods/exec and stream its stdout into a
 * snapshot holding the one file v->cmd_file, with no temporary file (streamjob.c). 0 with
 * res filled; -ECANCELED; else a negative errno with the reason in e: the command's exit
 * code and the start of its stderr, or why it could not run. Never a partial snapshot. */
struct backup_opts;
struct backup_result;
int job_stream_run(struct kube *k, struct repo *repo, const struct pvb *p,
                   const struct job_volume *v, const struct backup_opts *o,
                   struct backup_result *res, struct err *e) _must_check_;

/* Start a thread that claims and backs up the PVB in obj (obj is copied). resume: the PVB
 * is Accepted by an earlier agent process on this node and is claimed again. */
int job_start(const struct agent_ctx *a, const json_t *obj, bool resume,
              struct job **ret) _must_check_;
/* True when the job's end could not be recorded (a write the server refuses): the agent
 * must not start it again. */
bool job_gave_up(struct job *j);
/* Ask the job to stop: cancel (spec.cancel or deletion -> Canceled) or shutdown (Failed). */
void job_cancel(struct job *j, bool shutdown);
bool job_done(struct job *j);
/* Join the finished (or cancelled) thread and free the job. */
void job_free(struct job *j);
/* Start-up: a PVB of this node left Accepted/InProgress by a previous process is failed
 * with a clear message, and what that run uploaded is indexed so the next backup reuses it. */
void job_recover(const struct agent_ctx *a, struct kube *k, const json_t *obj);

/* ---- progress writes off the data path (progress.c) ---- */

struct progress;
typedef void (*progress_gone_fn)(void *ud);
/* A thread with its own client (from kc) that writes InProgress with the newest noted
 * numbers into status_path at most every interval_sec, and only when there are new ones.
 * gone(ud) is called from that thread when the object was deleted. what names the job in
 * the log ("pvb ns/name", "pvr ns/name"). */
int progress_start(const struct kube_config *kc, const char *status_path, const char *what,
                   unsigned interval_sec, progress_gone_fn gone, void *ud,
                   struct progress **ret) _must_check_;
/* From the job's data path: stores the numbers, never waits for I/O. NULL does nothing. */
void progress_note(struct progress *p, uint64_t done, uint64_t total);
/* Ends the thread (a write under way finishes first) and frees. NULL does nothing. */
void progress_stop(struct progress *p);

/* ---- PodVolumeRestore jobs (rjob.c) and their dispatcher (restorer.c) ---- */

/* Start a thread that claims (status.node) and restores the PVR in obj (copied). resume:
 * this node claimed it in an earlier process; it is restored again from the start. seen:
 * monotonic seconds when the watch brought it (0: unknown), for the -vv step times. */
int rjob_start(const struct agent_ctx *a, const json_t *obj, bool resume, double seen,
               struct rjob **ret) _must_check_;
/* cancel (spec.cancel, deletion -> Canceled) or shutdown (left for the next process). */
void rjob_cancel(struct rjob *j, bool shutdown);
bool rjob_done(struct rjob *j);
/* True once done when its claim found the object already taken or moved on: the copy the
 * dispatcher holds is older than the server's. */
bool rjob_lost(struct rjob *j);
void rjob_free(struct rjob *j);

struct restorer;
/* A watch of the namespace's PodVolumeRestores in its own thread. */
int restorer_start(const struct agent_ctx *a, struct restorer **ret, struct err *e) _must_check_;
/* From the main loop: claim the PVRs whose target pod runs here and is ready, resume this
 * node's unfinished ones after a restart, cancel and reap. k is the caller's client. */
void restorer_tick(struct restorer *r, struct kube *k);
/* After agent_stop: joins the watch, stops the running restores, frees. NULL is fine. */
void restorer_free(struct restorer *r);
