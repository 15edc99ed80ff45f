/* State shared between the agent's files: the Kubernetes client (kube_), kubeconfig
 * loading (kcfg_), watch streams (watch_), kubelet paths (kubelet_), PodVolumeBackup
 * records (pvb_), storage locations (bsl_), jobs (job_) and metrics (metrics_). */
#pragma once
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/agent.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/err.h"

/* ---- kubeconfig / in-cluster configuration (kcfg.c) ---- */

/* Largest kubeconfig or service-account file we read. */
#define KCFG_FILE_MAX (1u * 1024 * 1024)
#define KCFG_SA_DIR   "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where and how to reach the API server. Every string is owned (malloc'ed); the *_data
 * blobs are decoded PEM. token is wiped on release. */
struct kube_config {
	char *server; /* "https://host:port", no trailing slash */
	char *ns;     /* default namespace; never NULL after a successful load */
	char *token;
	char *token_file; /* re-read whenever it changes (rotated service-account tokens) */
	char *ca_file, *cert_file, *key_file;
	uint8_t *ca_data, *cert_data, *key_data;
	size_t ca_len, cert_len, key_len;
	bool insecure;
};

void kcfg_release(struct kube_config *c);
/* Parse a kubeconfig file (the current context, or `context` when non-NULL); relative file
 * paths are taken from the kubeconfig's folder. -ENOENT missing file, -EINVAL bad content. */
int kcfg_load_file(const char *path, const char *context, struct kube_config *ret,
                   struct err *e) _must_check_;
/* In-cluster: KUBERNETES_SERVICE_HOST/PORT and the service-account folder (token, ca.crt,
 * namespace). -ENOENT when not running in a pod. */
int kcfg_in_cluster(const char *sa_dir, struct kube_config *ret, struct err *e) _must_check_;
/* The flag, else the first file in KUBECONFIG, else in-cluster, else ~/.kube/config. */
int kcfg_load(const char *flag, struct kube_config *ret, struct err *e) _must_check_;

/* ---- the HTTP client (kube.c) ---- */

/* Largest non-streamed response body (a list page of at most KUBE_LIST_LIMIT objects). */
#define KUBE_BODY_MAX   (64u * 1024 * 1024)
#define KUBE_LIST_LIMIT 500
/* Attempts of a read-modify-write before giving up on repeated 409 Conflicts. */
#define KUBE_UPDATE_TRIES 10

/* One client per thread (a curl handle is not shared); the config is borrowed. */
struct kube;

int kube_new(const struct kube_config *cfg, struct kube **ret) _must_check_;
void kube_free(struct kube *k);
const struct kube_config *kube_cfg(const struct kube *k);

/* Status mapping: 404 -ENOENT, 409 -EAGAIN (conflict) or -EEXIST (AlreadyExists),
 * 410 -ESTALE, 401/403 -EACCES, 400/422 -EINVAL, others -EPROTO; transport -EHOSTDOWN.
 * The message names method, path, status and the server's reason, never the token. */
int kube_request(struct kube *k, const char *method, const char *path, const json_t *body,
                 const char *content_type, json_t **ret, struct err *e) _must_check_;
int kube_get(struct kube *k, const char *path, json_t **ret, struct err *e) _must_check_;
int kube_create(struct kube *k, const char *collection, const json_t *obj, json_t **ret,
                struct err *e) _must_check_;
/* PUT; obj must carry metadata.resourceVersion; -EAGAIN on conflict. */
int kube_update(struct kube *k, const char *path, const json_t *obj, json_t **ret,
                struct err *e) _must_check_;
int kube_patch_merge(struct kube *k, const char *path, const json_t *patch, json_t **ret,
                     struct err *e) _must_check_;
/* Deleting a missing object succeeds. */
int kube_delete(struct kube *k, const char *path, struct err *e) _must_check_;

/* Read-modify-write: GET, fn(ud, obj) edits obj in place (a negative return aborts and is
 * returned; 1 means "nothing to change"), PUT; repeats on 409. ret (optional) gets the
 * stored object. */
typedef int (*kube_mutate_fn)(void *ud, json_t *obj);
int kube_update_retry(struct kube *k, const char *path, kube_mutate_fn fn, void *ud, json_t **ret,
                      struct err *e) _must_check_;

/* Paged list: fn is called for every item (borrowed); ret_rv gets the list's
 * resourceVersion (malloc'ed). -ESTALE when a continue token expired mid-way. */
typedef int (*kube_item_fn)(void *ud, json_t *item);
int kube_list(struct kube *k, const char *collection, const char *label_selector,
              const char *field_selector, kube_item_fn fn, void *ud, char **ret_rv,
              struct err *e) _must_check_;

/* Streamed GET: body bytes go to fn as they arrive (a negative return aborts and is
 * returned). stop is polled at least once a second; when it says true the call returns
 * -ECANCELED. A non-2xx reply is mapped like kube_request. */
typedef int (*kube_data_fn)(void *ud, const char *p, size_t n);
typedef bool (*kube_stop_fn)(void *ud);
int kube_stream(struct kube *k, const char *path, kube_data_fn fn, void *ud, kube_stop_fn stop,
                void *stop_ud, struct err *e) _must_check_;

/* Percent-encode a query value into out (bounded); -ENAMETOOLONG when it does not fit. */
int kube_query_escape(const char *in, char *out, size_t n) _must_check_;

/* A core/v1 Event about an object (Normal or Warning); best effort, failures logged. */
void kube_event(struct kube *k, const json_t *obj, const char *type, const char *reason,
                const char *component, const char *host, const char *fmt, ...) _printf_(7, 8);

/* RFC 3339 UTC ("2024-01-02T03:04:05Z") into out[32]. */
void kube_timestamp(time_t t, char out[32]);

/* ---- watch (watch.c) ---- */

/* Longest watch event line we hold; a longer one drops the stream and re-lists. */
#define WATCH_LINE_MAX        (16u * 1024 * 1024)
#define WATCH_BACKOFF_MAX_SEC 30

/* Splits a chunked byte stream into newline-terminated lines with a bounded buffer. */
struct watch_lines {
	struct buf b;
};
typedef int (*watch_line_fn)(void *ud, const char *line, size_t n);
void watch_lines_init(struct watch_lines *w, size_t max_line);
/* fn gets each complete line without "\n" or "\r\n"; empty lines are skipped. -EFBIG when
 * a line grows past max_line (the partial line is dropped). */
int watch_lines_feed(struct watch_lines *w, const char *p, size_t n, watch_line_fn fn,
                     void *ud) _must_check_;
void watch_lines_release(struct watch_lines *w);

enum watch_kind {
	WATCH_ADDED,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_SYNC_BEGIN, /* a full list follows as ADDED events... */
	WATCH_SYNC_END,   /* ...and ends here: objects not seen since BEGIN are gone */
	_WATCH_KIND_MAX,
	_WATCH_KIND_INVALID = -22,
};

typedef void (*watch_fn)(void *ud, enum watch_kind kind, json_t *obj);

struct watch_params {
	const char *collection; /* "/apis/velero.io/v1/namespaces/velero/podvolumebackups" */
	const char *label_selector, *field_selector;
	unsigned timeout_sec; /* server-side watch timeout; the client reconnects after it */
	watch_fn fn;
	void *ud;
	kube_stop_fn stop;
	void *stop_ud;
};

/* List, then watch from the list's resourceVersion; re-list on 410 Gone; reconnect with
 * backoff when the stream drops. Returns 0 once stop says true. */
int watch_run(struct kube *k, const struct watch_params *p, struct err *e) _must_check_;

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
