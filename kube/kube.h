/* A Kubernetes API client that knows nothing of backups: kubeconfig and in-cluster
 * configuration (kcfg.c), requests with status mapping (kube.c), the REST verbs, paged
 * lists and Events (kubeops.c), and list+watch streams (watch.c). Nothing here prints:
 * every failure comes back as a negative errno with a message in the caller's err. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

/* ---- pods/exec (exec.c) ---- */

struct kube_exec_params {
	const char *ns, *pod, *container; /* container NULL or "": the pod's only one */
	const char *const *argv;
	size_t argc;
	unsigned timeout_sec; /* 0: no limit */
	kube_data_fn out;     /* stdout bytes as they arrive; NULL drops them */
	void *out_ud;
	kube_data_fn err; /* stderr bytes */
	void *err_ud;
	kube_stop_fn stop; /* polled at least once a second; may be NULL */
	void *stop_ud;
};

/* Run argv in a container of a pod through the pods/exec subresource (a websocket,
 * v5.channel.k8s.io or v4.channel.k8s.io, as kubectl 1.30+). ret_exit gets the command's
 * exit status (0 .. 255). -ETIMEDOUT, -ECANCELED, -EHOSTDOWN (transport), -EPROTO (the
 * server refused: no such pod or container, bad reply), or the first negative return
 * of out/err. */
int kube_exec(struct kube *k, const struct kube_exec_params *p, int *ret_exit, struct err *e)
	_must_check_;

/* Percent-encode a query value into out (bounded); -ENAMETOOLONG when it does not fit. */
int kube_query_escape(const char *in, char *out, size_t n) _must_check_;

/* Record a core/v1 Event about obj (which must carry apiVersion, kind and metadata name
 * and namespace); type is "Normal" or "Warning". Best effort for the caller, who logs e. */
int kube_event(struct kube *k, const json_t *obj, const char *type, const char *reason,
               const char *component, const char *host, struct err *e, const char *fmt, ...)
	_printf_(8, 9);

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

/* What the stream reports about its own health (drops, re-lists, server errors). */
enum watch_note { WATCH_NOTE_INFO, WATCH_NOTE_WARN };
typedef void (*watch_note_fn)(void *ud, enum watch_note level, const char *msg);

struct watch_params {
	const char *collection; /* "/apis/<group>/<version>/namespaces/<ns>/<plural>" */
	const char *label_selector, *field_selector;
	unsigned timeout_sec; /* server-side watch timeout; the client reconnects after it */
	watch_fn fn;
	void *ud;
	kube_stop_fn stop;
	void *stop_ud;
	watch_note_fn note; /* may be NULL */
	void *note_ud;
};

/* List, then watch from the list's resourceVersion; re-list on 410 Gone; reconnect with
 * backoff when the stream drops. Returns 0 once stop says true. */
int watch_run(struct kube *k, const struct watch_params *p, struct err *e) _must_check_;
