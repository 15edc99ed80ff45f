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

/* ---- kubelet paths (kubelet.c) ---- */

/* The folder name under volumes/<plugin>/ for volume `name` of a pod, Velero's way: the
 * volume name; for a PVC the bound PV name, plus "/mount" when the PV is CSI; for an
 * inline CSI volume "<name>/mount". podvol is the entry of pod.spec.volumes; pv is the
 * bound PersistentVolume (NULL for non-PVC volumes). -EINVAL for an unsafe name. */
int kubelet_volume_dir(const json_t *podvol, const json_t *pv, char *out, size_t n,
                       struct err *e) _must_check_;
/* Exactly one match of <host_pods>/<pod_uid>/volumes/ * /<dir>, malloc'ed into ret;
 * -ENOENT none, -ENOTUNIQ several; the message names the pattern. */
int kubelet_resolve(const char *host_pods, const char *pod_uid, const char *dir, char **ret,
                    struct err *e) _must_check_;
/* The volume entry named `volume` in pod.spec.volumes (borrowed) or NULL. */
const json_t *kubelet_pod_volume(const json_t *pod, const char *volume);

/* ---- PodVolumeBackup records (pvb.c) ---- */

#define PVB_FINALIZER     "velero.io/pod-volume-finalizer"
#define PVB_EMPTY_MESSAGE "volume was empty so no snapshot was taken"

enum pvb_phase {
	PVB_NEW, /* "" or "New" */
	PVB_ACCEPTED,
	PVB_IN_PROGRESS,
	PVB_COMPLETED,
	PVB_FAILED,
	PVB_CANCELED,
	_PVB_PHASE_MAX,
	_PVB_PHASE_INVALID = -22,
};

/* Borrowed views into a PodVolumeBackup's JSON; valid while the object lives. */
struct pvb {
	const char *name, *ns, *uid;
	const char *node, *volume, *bsl, *uploader, *repo_id;
	const char *pod_ns, *pod_name, *pod_uid;
	const json_t *tags; /* spec.tags object or NULL */
	enum pvb_phase phase;
	bool cancel, deleting;
};

const char *pvb_phase_name(enum pvb_phase p);
enum pvb_phase pvb_phase_from_name(const char *s);
/* -EINVAL when a required field (name, spec.node, spec.volume, spec.pod) is missing. */
int pvb_parse(const json_t *obj, struct pvb *ret) _must_check_;
/* uploader_types is a comma list ("cairn,kopia"); an empty spec.uploaderType is taken
 * as "cairn" (objects written by our own controller may leave it out). */
bool pvb_uploader_served(const char *uploader, const char *uploader_types);
bool pvb_claimable(const struct pvb *p, const char *node, const char *uploader_types);
bool pvb_terminal(enum pvb_phase p);

struct pvb_status {
	enum pvb_phase phase;
	const char *message;     /* NULL leaves it; "" clears it */
	const char *snapshot_id; /* NULL leaves it */
	const char *path;
	bool has_progress;
	uint64_t total_bytes, bytes_done;
	bool has_incremental;
	uint64_t incremental_bytes;
	time_t start, completion; /* 0 leaves them */
};

/* Write s into obj.status (creating it), keeping fields s leaves alone. */
int pvb_status_apply(json_t *obj, const struct pvb_status *s) _must_check_;
/* Add or remove the agent's finalizer; returns 1 when obj changed. */
int pvb_finalizer(json_t *obj, bool add) _must_check_;

/* ---- storage locations (bsl.c) ---- */

/* The repository URL for pods of namespace pod_ns under a BackupStorageLocation:
 * s3:<s3Url>/<bucket>/<prefix>/plugins/cairn/<pod_ns>, plus backend options written into
 * opts[] (malloc'ed "key=value", at most n_max; count in *ret_n). -EROFS for a ReadOnly
 * location (message says so), -EINVAL for a location we cannot use. */
int bsl_repo_url(const json_t *bsl, const char *pod_ns, char **ret_url, char **opts, size_t n_max,
                 size_t *ret_n, struct err *e) _must_check_;

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

/* ---- the agent's shared context and its jobs (agent.c, job.c, jobprep.c) ---- */

struct agent_ctx {
	const struct agent_config *cfg;
	struct kube_config kc;
	const char *ns; /* namespace of the PodVolumeBackups */
	struct metrics *metrics;
};

/* True once a stop was requested (signal or agent_stop). */
bool agent_stopping(void);

/* Tags and identity of one volume, filled by job_prepare. */
#define JOB_MAX_TAGS 10
struct job_volume {
	char *path; /* the kubelet folder to read (malloc'ed) */
	char tagbuf[JOB_MAX_TAGS][320];
	size_t n_tags;
	size_t parent_idx[3]; /* indexes into tagbuf */
	size_t n_parent_tags;
	/* Pointers into tagbuf, set by job_volume_bind once the struct stays put. */
	const char *tags[JOB_MAX_TAGS];
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

struct job;
/* Start a thread that claims and backs up the PVB in obj (obj is copied). */
int job_start(const struct agent_ctx *a, const json_t *obj, struct job **ret) _must_check_;
/* Ask the job to stop: cancel (spec.cancel or deletion -> Canceled) or shutdown (Failed). */
void job_cancel(struct job *j, bool shutdown);
bool job_done(struct job *j);
/* Join the finished (or cancelled) thread and free the job. */
void job_free(struct job *j);
/* Start-up: a PVB of this node left Accepted/InProgress by a previous process is failed
 * with a clear message, and what that run uploaded is indexed so the next backup reuses it. */
void job_recover(const struct agent_ctx *a, struct kube *k, const json_t *obj);
