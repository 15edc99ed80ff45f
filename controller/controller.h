/* The cluster controller: turns Backup objects into one PodVolumeBackup per selected pod
 * volume and follows them to a final phase; fires Schedules; expires Backups (deleting
 * their snapshots); validates storage locations and re-creates Backup objects from a
 * location's repositories. It talks to the node agents only through API objects and
 * prints nothing: what it has to say goes to the caller's note callback. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "repo/backend.h"
#include "util/attr.h"
#include "util/err.h"

/* cairn's own API group (daemonset/crds/). */
#define CTL_GROUP   "cairn.dev"
#define CTL_VERSION "v1alpha1"
#define CTL_API     CTL_GROUP "/" CTL_VERSION

/* Velero's annotations and labels, which pods and tools already carry. */
#define CTL_ANN_VOLUMES     "backup.velero.io/backup-volumes"
#define CTL_ANN_EXCLUDES    "backup.velero.io/backup-volumes-excludes"
#define CTL_LABEL_BACKUP    "cairn.dev/backup-name"
#define CTL_LABEL_BACKUP_ID "cairn.dev/backup-uid"
#define CTL_LABEL_PVC_UID   "cairn.dev/pvc-uid"
#define CTL_LABEL_SCHEDULE  "cairn.dev/schedule-name"
#define CTL_ANN_PVC_NAME    "cairn.dev/pvc-name"
/* cairn's own: the claim's spec (JSON) so a restore can re-create it; the per-backup
 * timeout; where a synced Backup came from; the Backup finalizer. */
#define CTL_ANN_PVC_SPEC "cairn.dev/pvc-spec"
#define CTL_ANN_TIMEOUT  "cairn.dev/backup-timeout"
/* What the Backup status schema has no field for (Velero keeps it in the bucket): the
 * warning and error messages and per-volume counts, as JSON. */
#define CTL_ANN_DETAIL    "cairn.dev/status-detail"
#define CTL_ANN_SYNCED    "cairn.dev/synced-from"
#define CTL_FINALIZER     "cairn.dev/backup-finalizer"
#define CTL_PVB_EMPTY_MSG "volume was empty so no snapshot was taken"

#define CTL_DEFAULT_TTL_SEC     (720 * 3600)
#define CTL_DEFAULT_TIMEOUT_SEC (4 * 3600)

/* ---- durations (duration.c) ---- */

/* Go's time.Duration text ("720h0m0s", "1h30m", "90s", "1.5h") to whole seconds.
 * -EINVAL when malformed or negative. */
int ctl_duration_parse(const char *s, int64_t *ret_sec) _must_check_;
/* Seconds as Go prints them: "720h0m0s", "1m30s", "0s"; out needs 32 bytes. */
void ctl_duration_format(int64_t sec, char out[32]);
/* RFC 3339 UTC "2024-01-02T03:04:05Z" to seconds; -EINVAL otherwise. */
int ctl_time_parse(const char *s, time_t *ret) _must_check_;

/* ---- cron (cron.c) ---- */

/* A parsed schedule: five fields (minute hour day-of-month month day-of-week) with lists,
 * ranges, steps and month/day names; @yearly @annually @monthly @weekly @daily @midnight
 * @hourly; "@every <duration>"; an optional "CRON_TZ=<zone> " or "TZ=<zone> " prefix (TZ
 * database names, resolved by the C library). */
struct ctl_cron {
	uint64_t minute;           /* bit i: minute i */
	uint32_t hour, dom, month; /* dom bits 1..31, month bits 1..12 */
	uint8_t dow;               /* bit 0 = Sunday */
	bool dom_any, dow_any;
	int64_t every_sec; /* "@every": > 0, the fields are unused */
	char tz[64];       /* "" = UTC */
};

/* -EINVAL with the reason in e ("field 2 (hour): 24 is out of range 0-23"). */
int ctl_cron_parse(const char *expr, struct ctl_cron *ret, struct err *e) _must_check_;
/* The first time strictly after `after` that the schedule fires (whole minutes in its
 * zone); -ERANGE when none within eight years (e.g. "0 0 30 2 *"), -EOVERFLOW when it
 * would pass the end of time_t. */
int ctl_cron_next(const struct ctl_cron *c, time_t after, time_t *ret) _must_check_;

/* ---- label selectors (select.c) ---- */

/* A metav1.LabelSelector (matchLabels, matchExpressions with In, NotIn, Exists,
 * DoesNotExist) as the query string the API server takes, into out[n] ("" selects all).
 * -EINVAL with the reason for a bad operator, key or value. */
int ctl_selector_string(const json_t *sel, char *out, size_t n, struct err *e) _must_check_;

/* ---- choosing volumes (select.c) ---- */

/* One pod volume to back up, or skipped with the reason. */
struct ctl_volume {
	char name[256];
	char pvc[256]; /* claim name, "" for other volumes */
	bool skipped;
	char reason[256];
};

/* The volumes of pod (a core/v1 Pod) to back up: the ones named in
 * backup.velero.io/backup-volumes; with fs_default every volume except those in
 * backup.velero.io/backup-volumes-excludes and those that cannot be backed up (hostPath,
 * secret, configMap, projected, downwardAPI, volumes no container mounts; pvc_block(ud,
 * claim) says a claim is block-mode). Skipped volumes come back with skipped=true and a
 * reason. *ret is malloc'ed. */
typedef bool (*ctl_block_fn)(void *ud, const char *claim);
int ctl_pod_volumes(const json_t *pod, bool fs_default, ctl_block_fn pvc_block, void *ud,
                    struct ctl_volume **ret, size_t *ret_n) _must_check_;

/* ---- hooks (hookspec.c) ---- */

/* Velero's defaults: a hook may run 30 s; a failure fails the pod's volumes. */
#define CTL_HOOK_TIMEOUT_SEC 30
#define CTL_HOOK_ARGS_MAX    256
/* Pods whose hooks may run at once when the configuration does not say. */
#define CTL_HOOK_WORKERS     8
#define CTL_HOOK_WORKERS_MAX 256
#define CTL_ANN_HOOK_PREFIX  ".hook.backup.velero.io/"

/* The exec hooks of one phase ("pre" or "post") for pod, in run order: from the pod's
 * annotations <phase>.hook.backup.velero.io/{container,command,on-error,timeout} when its
 * command is set (a JSON array, or any other text as one word), else every exec hook of
 * the Backup's spec.hooks.resources[] that selects the pod (includedNamespaces,
 * excludedNamespaces, includedResources, excludedResources, labelSelector). *ret is a new
 * array of {source, container (default: the pod's first), command [...], fail (on-error
 * Fail, the default), timeoutSec (default 30)}. -EINVAL with the reason for a malformed
 * hook. */
int ctl_hooks_of(const json_t *pod, const json_t *hooks_spec, const char *phase, json_t **ret,
                 struct err *e) _must_check_;
/* Whether labels (an object, or NULL) satisfy a metav1.LabelSelector; NULL selects all. */
bool ctl_labels_match(const json_t *sel, const json_t *labels);

/* ---- the controller (ctl.c) ---- */

enum ctl_note_level { CTL_NOTE_DEBUG, CTL_NOTE_INFO, CTL_NOTE_WARN, CTL_NOTE_ERROR };
typedef void (*ctl_note_fn)(void *ud, enum ctl_note_level level, const char *msg);
/* The controller's clock (tests inject one); NULL means time(). */
typedef time_t (*ctl_clock_fn)(void *ud);

struct ctl_config {
	const char *ns;              /* namespace of cairn's objects; NULL: the kubeconfig's */
	const char *kubeconfig;      /* NULL: KUBECONFIG, in-cluster, ~/.kube/config */
	const char *agent_selector;  /* label selector of the node agents' pods */
	const char *metrics_address; /* ":8085"; "" disables */
	unsigned resync_ms;          /* how often every object is looked at again */
	int64_t default_ttl_sec;
	int64_t backup_timeout_sec;
	int64_t maintenance_sec; /* prune interval per repository */
	int64_t validation_sec;  /* storage-location validation interval */
	int64_t sync_sec;        /* DR sync interval; 0 disables */
	unsigned hook_workers;   /* pods whose hooks run at once; 0: CTL_HOOK_WORKERS */
	/* The repository: a fixed URL (every backup goes there), or NULL for one per
	 * location and namespace as the agents derive it. The password is borrowed. */
	const char *repo_url;
	const struct backend_options *bopts;
	const char *password;
	size_t password_len;
	ctl_clock_fn clock;
	void *clock_ud;
	ctl_note_fn note;
	void *note_ud;
};

/* Runs until ctl_stop (or SIGTERM/SIGINT, whose handlers it installs). 0 after a clean
 * stop; a negative errno with e set when it cannot start. */
int ctl_run(const struct ctl_config *cfg, struct err *e) _must_check_;
/* Async-signal-safe. */
void ctl_stop(void);
