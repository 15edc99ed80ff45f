/* Owns one PodVolumeBackup's life on this node, in its own thread with its own API client
 * and repository: claim, InProgress, progress, then Completed | Failed | Canceled. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "repo/repo.h"
#include "util/banned.h"
#include "util/hex.h"
#include "util/log.h"

enum { JOB_RUN = 0, JOB_CANCEL = 1, JOB_SHUTDOWN = 2 };

/* Backoff of a status write that met a transient error, and how long a write keeps
 * trying once the agent is stopping (the pod's grace period is 30 s). */
#define JOB_RETRY_MIN_MS   200
#define JOB_RETRY_MAX_MS   10000
#define JOB_STOP_WRITE_SEC 10

struct job {
	const struct agent_ctx *a;
	json_t *obj; /* the PVB as dispatched */
	char name[256], ns[256], path[1024], status_path[1100];
	int stop; /* JOB_*, read and written atomically */
	bool done, resume;
	bool gave_up; /* written by the job thread, read after job_done */
	pthread_t thread;
	struct kube *k;
	struct progress *prog; /* while the backup runs */
	time_t start;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- status writes ---- */

enum guard {
	GUARD_NONE,
	GUARD_CLAIM,  /* only while New and on this node */
	GUARD_RESUME, /* only while Accepted (by an earlier process) and on this node */
};

struct edit {
	const struct pvb_status *st; /* NULL leaves status alone */
	int finalizer;               /* 1 add, -1 remove, 0 leave */
	enum guard guard;
	const char *node;
};

static int edit_fn(void *ud, json_t *obj)
{
	struct edit *ed = ud;
	bool changed = false;
	struct pvb p;
	int r;

	if (ed->guard != GUARD_NONE) {
		enum pvb_phase want = ed->guard == GUARD_CLAIM ? PVB_NEW : PVB_ACCEPTED;

		if (pvb_parse(obj, &p) < 0 || p.phase != want || strcmp(p.node, ed->node) != 0)
			return -EALREADY;
	}
	if (ed->st) {
		r = pvb_status_apply(obj, ed->st);
		if (r < 0)
			return r;
		changed = true; /* the server drops a write that changes nothing */
	}
	/* A finalizer cannot be added to an object being deleted (422). */
	if (ed->finalizer > 0 &&
	    json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"))
		return changed ? 0 : 1;
	if (ed->finalizer) {
		r = pvb_finalizer(obj, ed->finalizer > 0);
		if (r < 0)
			return r;
		changed = changed || r == 1;
	}
	return changed ? 0 : 1;
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One read-modify-write, repeated until it lands: a transient error (conflict, 429/5xx,
 * connection reset or refused) waits with backoff and tries again; the object vanishing
 * (-ENOENT), a guard that no longer holds (-EALREADY) and a 4xx reply end it. Only a
 * stopping agent gives up on a transient error, after JOB_STOP_WRITE_SEC. */
static int write_retry(struct job *j, const char *path, struct edit *ed, struct err *e)
{
	unsigned delay = JOB_RETRY_MIN_MS;
	double give_up = 0;
	int r;

	for (;;) {
		err_clear(e);
		r = kube_update_retry(j->k, path, edit_fn, ed, NULL, e);
		if (r >= 0 || !kube_transient(r))
			return r;
		if (agent_stopping()) {
			if (give_up == 0)
				give_up = now_mono() + JOB_STOP_WRITE_SEC;
			else if (now_mono() > give_up)
				return r;
		}
		log_warn("pvb %s/%s: %s (retrying in %u ms)", j->ns, j->name, e->msg, delay);
		nap_ms(delay);
		delay = delay * 2 > JOB_RETRY_MAX_MS ? JOB_RETRY_MAX_MS : delay * 2;
	}
}

/* Status through the status subresource first (with a guard, that is the claim), then
 * the finalizer through the main resource, each retried until it lands. */
static int write_status(struct job *j, const struct pvb_status *st, int finalizer, enum guard guard,
                        struct err *e)
{
	struct edit ed = { st, 0, guard, j->a->cfg->node };
	double t0 = now_mono();
	int r = 0;

	if (st)
		r = write_retry(j, j->status_path, &ed, e);
	if (r == 0 && finalizer) {
		struct edit fin = { NULL, finalizer, GUARD_NONE, j->a->cfg->node };

		r = write_retry(j, j->path, &fin, e);
	}
	metrics_status_latency(j->a->metrics, now_mono() - t0);
	return r;
}

/* The one exit for a job that ran: status, finalizer off, log line, Event, metrics. */
/* Events are best effort: a failure to record one is logged, never fatal. */
static void event(struct job *j, const char *type, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
static void event(struct job *j, const char *type, const char *reason, const char *fmt, ...)
{
	struct err e = ERR_INIT;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (kube_event(j->k, j->obj, type, reason, "cairn-agent", j->a->cfg->node, &e, "%s", msg) <
	    0)
		log_warn("event %s for %s/%s not recorded: %s", reason, j->ns, j->name, e.msg);
}

static void finish_guarded(struct job *j, struct pvb_status *st, enum guard guard)
{
	struct pvb_status refused = { .phase = PVB_FAILED };
	struct err e = ERR_INIT;
	char msg[512];
	int r;

	st->completion = time(NULL);
	r = write_status(j, st, -1, guard, &e);
	if (r < 0 && r != -ENOENT && r != -EALREADY && !kube_transient(r) &&
	    st->phase != PVB_FAILED) {
		/* The server refuses this write and always will: record that as the
		 * failure, once; the job then ends whatever the answer. */
		log_error("pvb %s/%s: cannot record phase %s: %s", j->ns, j->name,
		          pvb_phase_name(st->phase), e.msg);
		snprintf(msg, sizeof(msg), "cannot record phase %s: %.400s",
		         pvb_phase_name(st->phase), e.msg);
		refused.message = msg;
		refused.completion = st->completion;
		st = &refused;
		err_clear(&e);
		r = write_status(j, st, -1, guard, &e);
	}
	if (r < 0 && r != -ENOENT && r != -EALREADY) {
		log_error("pvb %s/%s: cannot record phase %s: %s", j->ns, j->name,
		          pvb_phase_name(st->phase), e.msg);
		j->gave_up = true;
	}
	metrics_phase(j->a->metrics, st->phase);
	if (st->phase == PVB_FAILED) {
		log_error("pvb %s/%s failed: %s", j->ns, j->name, st->message);
		event(j, "Warning", "BackupFailed", "%s", st->message);
	} else if (st->phase == PVB_CANCELED) {
		log_info("pvb %s/%s canceled", j->ns, j->name);
		event(j, "Normal", "BackupCanceled", "backup of the volume was canceled");
	} else {
		log_info("pvb %s/%s completed: snapshot %s", j->ns, j->name,
		         st->snapshot_id[0] ? st->snapshot_id : "(none: empty volume)");
		event(j, "Normal", "BackupCompleted", "volume backed up to snapshot %s",
		      st->snapshot_id[0] ? st->snapshot_id : "(none: empty volume)");
	}
}

static void finish(struct job *j, struct pvb_status *st)
{
	finish_guarded(j, st, GUARD_NONE);
}

static void fail(struct job *j, const char *fmt, ...) _printf_(2, 3);
static void fail(struct job *j, const char *fmt, ...)
{
	struct pvb_status st = { .phase = PVB_FAILED };
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	st.message = text;
	finish(j, &st);
}

/* ---- backup callbacks ---- */

static bool on_cancel(void *ud)
{
	struct job *j = ud;

	return __atomic_load_n(&j->stop, __ATOMIC_RELAXED) != JOB_RUN || agent_stopping();
}

/* Test builds only: while the file CAIRN_TEST_BACKUP_HOLD names exists, the backup waits in
 * its progress callback, so a test can have a progress write under way (and held by the API
 * server) before the data path goes on. */
static void test_backup_hold(struct job *j)
{
#ifdef CAIRN_TEST_HOOKS
	const char *path = getenv("CAIRN_TEST_BACKUP_HOLD");

	if (!path || !path[0] || access(path, F_OK) < 0)
		return;
	log_info("pvb %s/%s: backup held while %s exists (test hook)", j->ns, j->name, path);
	while (access(path, F_OK) == 0 && !agent_stopping())
		nap_ms(20);
#else
	(void)j;
#endif
}

/* From the backup's data path: the numbers go to the progress thread, which writes them
 * (at most once per progress interval), so the chunkers and uploads never wait for a GET
 * and a PUT to the API server. */
static void on_progress(void *ud, const struct backup_progress *p)
{
	struct job *j = ud;

	progress_note(j->prog, p->bytes_done, p->bytes_total);
	test_backup_hold(j);
}

/* From the progress thread: the PVB was deleted under the job (a forced delete ignores
 * the finalizer). */
static void on_gone(void *ud)
{
	job_cancel(ud, false);
}

static void on_warn(void *ud, const char *path, int code, const char *msg)
{
	struct job *j = ud;

	log_warn("pvb %s/%s: %s: %s", j->ns, j->name, path, msg);
}

/* ---- the job ---- */

static void run_backup(struct job *j, const struct pvb *p)
{
	struct pvb_status st = { .phase = PVB_IN_PROGRESS };
	struct backup_result res;
	struct backup_opts o = { 0 };
	struct job_volume v = { 0 };
	struct repo *repo = NULL;
	struct err e = ERR_INIT;
	char id[ID_HEX], what[600];
	double t0;
	int r;

	r = job_prepare(j->k, j->a, p, j->obj, &v, &e);
	if (r < 0) {
		fail(j, "%s", e.msg);
		goto out;
	}
	err_clear(&e);
	r = job_open_repo(j->k, j->a, p, &repo, &e);
	if (r < 0) {
		fail(j, "repository: %s", e.msg);
		goto out;
	}
	if (on_cancel(j)) {
		if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED) == JOB_CANCEL) {
			st.phase = PVB_CANCELED;
			st.message = "canceled before the backup started";
			finish(j, &st);
		} else {
			fail(j, "%s", "the node agent was stopped before the backup started");
		}
		goto out;
	}
	st.start = j->start = time(NULL);
	st.path = v.path;
	st.message =
	    j->resume ? "resumed: the node agent restarted after accepting this backup" : "";
	err_clear(&e);
	r = write_status(j, &st, 0, GUARD_NONE, &e);
	if (r == -ENOENT)
		goto out;
	if (r < 0) {
		fail(j, "cannot record phase InProgress: %s", e.msg);
		goto out;
	}
	metrics_phase(j->a->metrics, PVB_IN_PROGRESS);
	job_volume_bind(&v);
	o.paths = (const char *const *)&v.path;
	o.n_paths = 1;
	o.tags = v.tags;
	o.n_tags = v.n_tags;
	o.parent_tags = v.parent_tags;
	o.n_parent_tags = v.n_parent_tags;
	o.hostname = j->a->cfg->node;
	o.threads = j->a->cfg->threads;
	o.progress_ms = 1000;
	/* An empty volume completes without a snapshot, as Velero's node agent does. */
	o.skip_empty = true;
	o.progress = on_progress;
	o.warn = on_warn;
	o.cancel = on_cancel;
	o.ud = j;
	snprintf(what, sizeof(what), "pvb %s/%s", j->ns, j->name);
	if (progress_start(&j->a->kc, j->status_path, what, j->a->cfg->progress_sec, on_gone, j,
	                   &j->prog) < 0)
		log_warn("%s: no progress updates (no thread)", what);
	t0 = now_mono();
	err_clear(&e);
	if (v.cmd_argv) {
		/* The pod's backup command replaces the volume's folder (docs/agent.md). */
		log_info("pvb %s/%s: backing up the output of the pod's backup command as %s",
		         j->ns, j->name, v.cmd_file);
		r = job_stream_run(j->k, repo, p, &v, &o, &res, &e);
	} else {
		log_info("pvb %s/%s: backing up %s", j->ns, j->name, v.path);
		r = backup_run(repo, &o, &res, &e);
	}
	/* Before the end is written: a late progress write would turn it back to InProgress. */
	progress_stop(j->prog);
	j->prog = NULL;
	memset(&st, 0, sizeof(st));
	if (r == -ECANCELED) {
		if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED) == JOB_CANCEL) {
			st.phase = PVB_CANCELED;
			st.message = "canceled while running";
			finish(j, &st);
		} else {
			fail(j, "%s",
			     "the node agent was stopped during the backup; data uploaded "
			     "so far is kept and reused by the next backup");
		}
		goto out;
	}
	if (r < 0) {
		/* Room for a backup command's 400 bytes of stderr after its exit code. */
		char text[ERR_MSG_MAX + 32];

		snprintf(text, sizeof(text), "backup failed: %s", e.msg[0] ? e.msg : strerror(-r));
		st.phase = PVB_FAILED;
		st.message = text;
		finish(j, &st);
		goto out;
	}
	st.phase = PVB_COMPLETED;
	st.has_progress = st.has_incremental = true;
	st.total_bytes = st.bytes_done = res.summary.total_bytes;
	st.incremental_bytes = res.summary.bytes_added;
	if (res.empty) {
		id[0] = 0;
		st.message = PVB_EMPTY_MESSAGE;
	} else {
		hex_encode(res.snapshot_id, ID_BYTES, id);
		st.message = "";
	}
	st.snapshot_id = id;
	metrics_backup_done(j->a->metrics, res.summary.total_bytes, res.summary.bytes_added,
	                    now_mono() - t0);
	finish(j, &st);
out:
	repo_free(repo);
	job_volume_release(&v);
}

static void *job_main(void *ud)
{
	struct job *j = ud;
	struct agent_wake *wake;
	struct pvb_status st = { .phase = PVB_ACCEPTED };
	enum guard guard = j->resume ? GUARD_RESUME : GUARD_CLAIM;
	struct err e = ERR_INIT;
	char msg[512];
	struct pvb p;
	int r;

	metrics_running(j->a->metrics, 1);
	if (kube_new(&j->a->kc, &j->k) < 0 || pvb_parse(j->obj, &p) < 0)
		goto out;
	if (p.cancel || p.deleting) {
		/* Cancelled before we began: take it straight to Canceled. */
		st.phase = PVB_CANCELED;
		st.message = "canceled before it started";
		finish_guarded(j, &st, guard);
		goto out;
	}
	st.accepted = time(NULL);
	r = write_status(j, &st, 1, guard, &e);
	if (r == -EALREADY || r == -ENOENT)
		goto out; /* someone moved it on, or it is gone */
	if (r < 0) {
		/* A claim the server refuses (4xx): one Failed with its reason, no retry. */
		memset(&st, 0, sizeof(st));
		st.phase = PVB_FAILED;
		snprintf(msg, sizeof(msg), "cannot claim the backup: %.400s", e.msg);
		st.message = msg;
		finish_guarded(j, &st, guard);
		goto out;
	}
	metrics_phase(j->a->metrics, PVB_ACCEPTED);
	log_info("pvb %s/%s: %s (%s/%s volume %s)", j->ns, j->name,
	         j->resume ? "accepted again after a restart" : "accepted", p.pod_ns, p.pod_name,
	         p.volume);
	run_backup(j, &p);
out:
	metrics_running(j->a->metrics, -1);
	wake = j->a->wake; /* j may be freed as soon as it says done */
	__atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
	agent_wake(wake); /* its slot is free and its end is to be reaped */
	return NULL;
}

static void job_paths(struct job *j, const char *ns, const char *name)
{
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->ns, sizeof(j->ns), "%s", ns);
	snprintf(j->path, sizeof(j->path), CAIRN_API "/namespaces/%s/podvolumebackups/%s", ns,
	         name);
	snprintf(j->status_path, sizeof(j->status_path), "%s/status", j->path);
}

int job_start(const struct agent_ctx *a, const json_t *obj, bool resume, struct job **ret)
{
	json_t *meta = json_object_get(obj, "metadata");
	struct job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->a = a;
	j->resume = resume;
	j->obj = json_deep_copy(obj);
	job_paths(j, json_string_value(json_object_get(meta, "namespace")),
	          json_string_value(json_object_get(meta, "name")));
	r = j->obj ? -pthread_create(&j->thread, NULL, job_main, j) : -ENOMEM;
	if (r < 0) {
		json_decref(j->obj);
		free(j);
		return r;
	}
	*ret = j;
	return 0;
}

void job_cancel(struct job *j, bool shutdown)
{
	int want = shutdown ? JOB_SHUTDOWN : JOB_CANCEL, cur = JOB_RUN;

	/* A user's cancel is not turned into a shutdown failure, nor the reverse. */
	__atomic_compare_exchange_n(&j->stop, &cur, want, false, __ATOMIC_RELAXED,
	                            __ATOMIC_RELAXED);
}

bool job_gave_up(struct job *j)
{
	return job_done(j) && j->gave_up;
}

bool job_done(struct job *j)
{
	return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

void job_free(struct job *j)
{
	if (!j)
		return;
	pthread_join(j->thread, NULL);
	kube_free(j->k);
	json_decref(j->obj);
	free(j);
}

void job_recover(const struct agent_ctx *a, struct kube *k, const json_t *obj)
{
	struct job j = { .a = a, .k = k };
	struct pvb_status st = { .phase = PVB_FAILED };
	struct repo *repo = NULL;
	struct err e = ERR_INIT;
	char msg[512];
	struct pvb p;
	ssize_t n;

	if (pvb_parse(obj, &p) < 0)
		return;
	j.obj = (json_t *)obj;
	job_paths(&j, p.ns, p.name);
	snprintf(msg, sizeof(msg),
	         "the node agent restarted while this backup was %s; it was not finished (data "
	         "uploaded so far is kept and reused by the next backup)",
	         pvb_phase_name(p.phase));
	st.message = msg;
	finish(&j, &st);
	/* Index the packs the dead process uploaded but never indexed. */
	if (job_open_repo(k, a, &p, &repo, &e) == 0) {
		n = repo_index_adopt_orphans(repo, &e);
		if (n > 0)
			log_info("pvb %s/%s: %zd packs of the interrupted run kept for reuse", p.ns,
			         p.name, n);
		else if (n < 0)
			log_warn("pvb %s/%s: packs of the interrupted run not indexed: %s", p.ns,
			         p.name, e.msg);
	}
	repo_free(repo);
}
