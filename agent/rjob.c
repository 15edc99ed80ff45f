/* Owns one PodVolumeRestore's life on this node, in its own thread with its own API client
 * and repository: claim (status.node), InProgress, progress, the restore itself, the
 * done-file, then Completed | PartiallyFailed | Failed | Canceled. */
#include "agent/agent-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repo/repo.h"
#include "restore/restore.h"
#include "util/banned.h"
#include "util/buf.h"
#include "util/log.h"

enum { RJOB_RUN = 0, RJOB_CANCEL = 1, RJOB_SHUTDOWN = 2 };

#define RJOB_RETRY_MIN_MS   200
#define RJOB_RETRY_MAX_MS   10000
#define RJOB_STOP_WRITE_SEC 10
/* Warnings kept for the status message, the Event and the Restore (each also logged). */
#define RJOB_WARN_MAX (4u * 1024)

struct rjob {
	const struct agent_ctx *a;
	json_t *obj;
	char name[256], ns[256], path[1024], status_path[1100];
	int stop;
	bool done, resume, gave_up;
	bool lost; /* the claim found the object no longer ours (read after done) */
	pthread_t thread;
	struct kube *k;
	struct progress *prog; /* while restore_run runs */
	pthread_mutex_t wlock; /* warnings come from the restore workers */
	struct buf warn;
	uint64_t n_warn;
	bool warn_full; /* later warnings are only logged and counted */
	/* Monotonic seconds at each step's end, for the -vv timing line (0: not reached);
	 * t_seen: when the watch brought the object. */
	double t_seen, t_begin, t_claim, t_lookup, t_repo, t_index, t_restore, t_sync, t_status;
	struct rrepo rr; /* the repository, with its own step times */
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- status writes ---- */

enum rguard { RG_NONE, RG_CLAIM, RG_RESUME };

struct redit {
	const struct pvb_status *st;
	enum rguard guard;
	const char *node;
};

static int redit_fn(void *ud, json_t *obj)
{
	struct redit *ed = ud;
	struct pvr p;

	if (pvr_parse(obj, &p) < 0)
		return -EALREADY;
	/* The claim re-checks the fresh object: two agents cannot both take it. */
	if (ed->guard == RG_CLAIM && p.phase != PVB_NEW)
		return -EALREADY;
	if (ed->guard == RG_RESUME &&
	    (pvb_terminal(p.phase) || !p.node || strcmp(p.node, ed->node) != 0))
		return -EALREADY;
	return pvb_status_apply(obj, ed->st);
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* As the backup jobs: retried with backoff on transient errors until it lands; the object
 * vanishing, a guard that no longer holds and a 4xx end it. */
static int write_status(struct rjob *j, const struct pvb_status *st, enum rguard guard,
                        struct err *e)
{
	struct redit ed = { st, guard, j->a->cfg->node };
	unsigned delay = RJOB_RETRY_MIN_MS;
	double give_up = 0;
	int r;

	for (;;) {
		err_clear(e);
		r = kube_update_retry(j->k, j->status_path, redit_fn, &ed, NULL, e);
		if (r >= 0 || !kube_transient(r))
			return r;
		if (agent_stopping()) {
			if (give_up == 0)
				give_up = now_mono() + RJOB_STOP_WRITE_SEC;
			else if (now_mono() > give_up)
				return r;
		}
		log_warn("pvr %s/%s: %s (retrying in %u ms)", j->ns, j->name, e->msg, delay);
		nap_ms(delay);
		delay = delay * 2 > RJOB_RETRY_MAX_MS ? RJOB_RETRY_MAX_MS : delay * 2;
	}
}

static void event(struct rjob *j, const char *type, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
static void event(struct rjob *j, const char *type, const char *reason, const char *fmt, ...)
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

/* The one exit for a claimed restore: status, log line, Event. */
static void finish(struct rjob *j, struct pvb_status *st)
{
	struct err e = ERR_INIT;
	int r;

	st->completion = time(NULL);
	r = write_status(j, st, RG_NONE, &e);
	j->t_status = now_mono();
	if (r < 0 && r != -ENOENT && r != -EALREADY) {
		log_error("pvr %s/%s: cannot record phase %s: %s", j->ns, j->name,
		          pvb_phase_name(st->phase), e.msg);
		j->gave_up = true;
	}
	switch (st->phase) {
	case PVB_FAILED:
		log_error("pvr %s/%s failed: %s", j->ns, j->name, st->message);
		event(j, "Warning", "RestoreFailed", "%s", st->message);
		break;
	case PVB_PARTIALLY_FAILED:
		log_warn("pvr %s/%s partially failed: %s", j->ns, j->name, st->message);
		event(j, "Warning", "RestorePartiallyFailed", "%s", st->message);
		break;
	case PVB_CANCELED:
		log_info("pvr %s/%s canceled", j->ns, j->name);
		event(j, "Normal", "RestoreCanceled", "restore of the volume was canceled");
		break;
	default:
		log_info("pvr %s/%s completed", j->ns, j->name);
		event(j, "Normal", "RestoreCompleted", "volume restored");
		break;
	}
}

static void fail(struct rjob *j, const char *fmt, ...) _printf_(2, 3);
static void fail(struct rjob *j, const char *fmt, ...)
{
	struct pvb_status st = { .phase = PVB_FAILED };
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	st.message = text;
	finish(j, &st);
}

/* ---- restore callbacks ---- */

static bool on_cancel(void *ud)
{
	struct rjob *j = ud;

	return __atomic_load_n(&j->stop, __ATOMIC_RELAXED) != RJOB_RUN || agent_stopping();
}

/* From the restore walker: the numbers go to the progress thread, which writes them, so
 * the walker (which feeds the fetch workers) never waits for a GET and a PUT. */
static void on_progress(void *ud, const struct restore_progress *p)
{
	struct rjob *j = ud;

	progress_note(j->prog, p->bytes_done, p->bytes_total);
}

static void on_gone(void *ud)
{
	rjob_cancel(ud, false);
}

static void on_warn(void *ud, const char *path, int code, const char *msg)
{
	struct rjob *j = ud;

	/* The engine's message names the file already. */
	log_warn("pvr %s/%s: %s", j->ns, j->name, msg);
	pthread_mutex_lock(&j->wlock);
	j->n_warn++;
	/* A full buffer keeps the first warnings; the count says how many there were. */
	if (!j->warn_full && buf_printf(&j->warn, "%s%s", j->warn.len ? "; " : "", msg) < 0)
		j->warn_full = true;
	pthread_mutex_unlock(&j->wlock);
}

/* ---- the job ---- */

/* Where the data goes: the target pod's kubelet folder for the volume, resolved as for
 * backups. The pod must be on this node (and, when the PVR names one, have its uid). */
static int target_dir(struct rjob *j, const struct pvr *p, char **ret, struct err *e)
{
	json_t *pod = NULL, *pvc = NULL, *pv = NULL, *drivers = NULL;
	const char *claim, *pvname, *uid;
	const json_t *podvol;
	char path[1024], dir[320];
	int r;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p->pod_ns, p->pod_name);
	r = kube_get(j->k, path, &pod, e);
	if (r < 0) {
		err_wrap(e, r, "pod %s/%s", p->pod_ns, p->pod_name);
		goto fail;
	}
	uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
	if (!uid || (p->pod_uid && p->pod_uid[0] && strcmp(uid, p->pod_uid) != 0)) {
		r = err_set(e, -ESTALE, "pod %s/%s was re-created (uid %s, the restore names %s)",
		            p->pod_ns, p->pod_name, uid ? uid : "?", p->pod_uid);
		goto fail;
	}
	podvol = kubelet_pod_volume(pod, p->volume);
	if (!podvol) {
		r = err_set(e, -ENOENT, "pod %s/%s has no volume %s", p->pod_ns, p->pod_name,
		            p->volume);
		goto fail;
	}
	claim = json_string_value(
	    json_object_get(json_object_get(podvol, "persistentVolumeClaim"), "claimName"));
	if (claim) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s",
		         p->pod_ns, claim);
		r = kube_get(j->k, path, &pvc, e);
		if (r < 0) {
			err_wrap(e, r, "claim %s/%s", p->pod_ns, claim);
			goto fail;
		}
		pvname =
		    json_string_value(json_object_get(json_object_get(pvc, "spec"), "volumeName"));
		if (!pvname || !pvname[0]) {
			r = err_set(e, -EINVAL, "claim %s/%s is not bound", p->pod_ns, claim);
			goto fail;
		}
		snprintf(path, sizeof(path), "/api/v1/persistentvolumes/%s", pvname);
		r = kube_get(j->k, path, &pv, e);
		if (r < 0) {
			err_wrap(e, r, "persistent volume %s", pvname);
			goto fail;
		}
	}
	if (kubelet_pv_needs_drivers(pv)) {
		r = kube_get(j->k, "/apis/storage.k8s.io/v1/csidrivers", &drivers, e);
		if (r < 0) {
			err_wrap(e, r, "CSI drivers (to resolve a migrated PV)");
			goto fail;
		}
	}
	r = kubelet_volume_dir(podvol, pv, drivers, dir, sizeof(dir), e);
	if (r == 0)
		r = kubelet_resolve(j->a->cfg->host_pods, uid, dir, ret, e);
fail:
	json_decref(pod);
	json_decref(pvc);
	json_decref(pv);
	json_decref(drivers);
	return r;
}

/* True when dir holds nothing but lost+found and the done-file folder. */
static int dir_empty(const char *dir, bool *ret)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "lost+found") && strcmp(de->d_name, PVR_DONE_DIR))
			empty = false;
	closedir(d);
	*ret = empty;
	return 0;
}

/* Velero's done-file, written without following a link the restored data may hold. */
static int done_file(const char *dir, const char *restore_uid, struct err *e)
{
	int dfd = -1, vfd = -1, fd = -1, r = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(e, -errno, "%s: %s", dir, strerror(errno));
	/* The app starts once the done-file exists: the restored data must be on disk before
	 * it, or a node crash soon after hands the app empty or truncated files (delayed
	 * allocation) that look restored. One syncfs writes the whole volume's dirty data; a
	 * write error it reports (EIO, ENOSPC) fails the restore. */
	if (syncfs(dfd) < 0) {
		r = err_set(e, -errno, "%s: the restored data could not be written to disk: %s",
		            dir, strerror(errno));
		goto out;
	}
	if (mkdirat(dfd, PVR_DONE_DIR, 0755) < 0 && errno != EEXIST) {
		r = err_set(e, -errno, "%s/%s: %s", dir, PVR_DONE_DIR, strerror(errno));
		goto out;
	}
	vfd = openat(dfd, PVR_DONE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (vfd < 0) {
		r = err_set(e, -errno, "%s/%s is not a folder: %s", dir, PVR_DONE_DIR,
		            strerror(errno));
		goto out;
	}
	fd = openat(vfd, restore_uid, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || fsync(fd) < 0)
		r = err_set(e, -errno, "%s/%s/%s: %s", dir, PVR_DONE_DIR, restore_uid,
		            strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (vfd >= 0)
		close(vfd);
	close(dfd);
	return r;
}

/* The restore's end once restore_run returned r. */
static void conclude(struct rjob *j, const struct pvr *p, const char *target, int r,
                     const struct restore_result *res, struct err *e)
{
	struct pvb_status st = { .phase = PVB_COMPLETED, .has_progress = true };
	char msg[RJOB_WARN_MAX + 128];
	struct err de = ERR_INIT;

	if (r == -ECANCELED) {
		if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED) == RJOB_CANCEL) {
			st.phase = PVB_CANCELED;
			st.message = "canceled while running";
			st.has_progress = false;
			finish(j, &st);
		} else {
			/* Left as it is: the next agent process on this node resumes it, and
			 * the pod's restore-wait keeps waiting meanwhile. */
			log_info("pvr %s/%s: the node agent stops; the restore resumes when it "
			         "starts again",
			         j->ns, j->name);
		}
		return;
	}
	if (r < 0) {
		fail(j, "restore failed: %s", e->msg[0] ? e->msg : strerror(-r));
		return;
	}
	st.total_bytes = st.bytes_done = res->bytes;
	st.message = "";
	pthread_mutex_lock(&j->wlock);
	if (j->n_warn || res->errors) {
		st.phase = PVB_PARTIALLY_FAILED;
		uint64_t n = res->errors > j->n_warn ? res->errors : j->n_warn;

		snprintf(msg, sizeof(msg), "%" PRIu64 " %s not restored: %.*s", n,
		         n == 1 ? "file" : "files", (int)j->warn.len,
		         j->warn.len ? (const char *)j->warn.p : "");
		st.message = msg;
	}
	pthread_mutex_unlock(&j->wlock);
	if (res->partials_removed)
		log_info("pvr %s/%s: %" PRIu64
		         " partly written files of the interrupted run removed",
		         j->ns, j->name, res->partials_removed);
	if (res->skipped)
		log_info("pvr %s/%s: %" PRIu64 " files already identical in the volume were left "
		         "as they were",
		         j->ns, j->name, res->skipped);
	/* The pod's app containers start once this exists: only after the data is in. */
	r = done_file(target, p->restore_uid, &de);
	j->t_sync = now_mono();
	if (r < 0) {
		fail(j, "cannot write the done-file: %s", de.msg);
		return;
	}
	finish(j, &st);
}

/* Test builds only: while the file CAIRN_TEST_CLAIM_HOLD names exists, a restore waits
 * just before its claim, so a test can let two agents that both read the New object claim
 * it at the same moment. */
static void test_claim_hold(struct rjob *j)
{
#ifdef CAIRN_TEST_HOOKS
	const char *path = getenv("CAIRN_TEST_CLAIM_HOLD");

	if (!path || !path[0] || access(path, F_OK) < 0)
		return;
	log_info("pvr %s/%s: claim held while %s exists (test hook)", j->ns, j->name, path);
	while (access(path, F_OK) == 0 && !agent_stopping())
		nap_ms(20);
#else
	(void)j;
#endif
}

/* The claim (status.node) and the move to InProgress are one write: a PUT of the object
 * the watch brought, guarded by its resourceVersion, so a fresh PodVolumeRestore costs no
 * GET. A 409 (another agent's claim, or any newer write) and a guard that fails on that
 * copy fall back to GET + PUT with the guard checked again on the fresh object: of two
 * agents only one gets past it. -EALREADY: not ours to run. */
static int claim(struct rjob *j, const struct pvb_status *st, enum rguard guard, struct err *e)
{
	struct redit ed = { st, guard, j->a->cfg->node };
	json_t *obj = json_deep_copy(j->obj);
	int r;

	if (!obj)
		return -ENOMEM;
	test_claim_hold(j);
	r = redit_fn(&ed, obj);
	if (r == 0)
		r = kube_update(j->k, j->status_path, obj, NULL, e);
	json_decref(obj);
	if (r == 0 || r == -ENOENT || (!kube_transient(r) && r != -EALREADY))
		return r;
	return write_status(j, st, guard, e);
}

static void log_times(struct rjob *j)
{
	/* check: a kept repository's key file and index files looked at, new ones read. */
	static const char *const name[] = { "claim",   "mount lookup", "location", "repository",
		                            "lock",    "check",        "snapshot", "index",
		                            "restore", "sync",         "status" };
	double step[] = { j->t_claim,   j->t_lookup,   j->rr.t_location, j->rr.t_open,
		          j->rr.t_lock, j->rr.t_check, j->t_repo,        j->t_index,
		          j->t_restore, j->t_sync,     j->t_status };
	char line[512];
	size_t len = 0;
	double t = j->t_begin;

	_Static_assert(ELEMENTSOF(name) == ELEMENTSOF(step), "a name per step");
	/* A step not reached counts 0; the next one reached is measured from the last one. */
	for (size_t i = 0; i < ELEMENTSOF(step) && len < sizeof(line); i++) {
		double ms = step[i] > 0 ? (step[i] - t) * 1000 : 0;
		int n = snprintf(line + len, sizeof(line) - len, "%s%s %.0f", i ? ", " : "",
		                 name[i], ms);

		if (n > 0)
			len += (size_t)n;
		if (step[i] > 0)
			t = step[i];
	}
	/* dispatch: from the watch's first event of the PVR to this job's start: the pod
	 * check and the thread, and the wait for the pod when it was not ready yet. */
	log_debug("pvr %s/%s: times (ms): dispatch %.0f, %s; total %.0f (repository %s)", j->ns,
	          j->name, j->t_seen > 0 ? (j->t_begin - j->t_seen) * 1000 : 0, line,
	          (t - j->t_begin) * 1000, j->rr.kept ? "kept open" : "opened");
}

static void run_restore(struct rjob *j, const struct pvr *p)
{
	struct restore_opts o = { 0 };
	struct restore_result res = { 0 };
	struct snapshot snap = { 0 };
	struct err e = ERR_INIT;
	char *target = NULL, sub[1024], what[600];
	struct repo *repo = NULL;
	const char *base;
	bool empty = true, keep = false;
	int r;

	snprintf(what, sizeof(what), "pvr %s/%s", j->ns, j->name);
	r = target_dir(j, p, &target, &e);
	j->t_lookup = now_mono();
	if (r < 0) {
		fail(j, "%s", e.msg);
		goto out;
	}
	err_clear(&e);
	r = rrepo_open(j->a, j->k, p, what, &j->rr, &e);
	if (r < 0) {
		fail(j, "repository: %s", e.msg);
		goto out;
	}
	repo = j->rr.repo;
	if (j->rr.ro)
		log_info("pvr %s/%s: storage location %s is ReadOnly: restoring without a lock",
		         j->ns, j->name, p->bsl);
	r = repo_snapshot_load(repo, p->snapshot, &snap, &e);
	j->t_repo = now_mono();
	if (r < 0 || snap.n_paths < 1) {
		fail(j, "snapshot %s: %s", p->snapshot, r < 0 ? e.msg : "it holds no path");
		goto out;
	}
	/* Here rather than inside restore_run (which then finds it read): its time shows on
	 * its own in the step times, and a kept repository has read only the new files. */
	r = repo_index_load(repo, &e);
	j->t_index = now_mono();
	if (r < 0) {
		fail(j, "repository index: %s", e.msg);
		goto out;
	}
	base = strrchr(snap.paths[0], '/');
	snprintf(sub, sizeof(sub), "/%s", base ? base + 1 : snap.paths[0]);
	/* A resumed restore finds what its killed predecessor wrote: that is no user data. */
	if (!p->overwrite && !j->resume && (r = dir_empty(target, &empty)) == 0 && !empty) {
		fail(j,
		     "pod %s/%s volume %s is not empty: restore into it only with overwrite "
		     "(cairn kube restore create --overwrite)",
		     p->pod_ns, p->pod_name, p->volume);
		goto out;
	}
	if (on_cancel(j)) {
		conclude(j, p, target, -ECANCELED, &res, &e);
		goto out;
	}
	o.snapshot = p->snapshot;
	o.subdir = sub;
	o.target = target;
	o.keep_going = true; /* one bad file does not stop the rest; each is named */
	/* Into a volume that held data, or after a restart: what is already the snapshot's
	 * stays untouched (a resumed restore does not fetch again what was finished). */
	o.skip_identical = p->overwrite || j->resume;
	/* The killed predecessor's temporary files are not the user's: they go. */
	o.clear_partials = j->resume;
	o.no_sparse = p->no_sparse;
	/* keep_privileges stays false: a pod volume never gains a device node, a setuid
	 * bit or a file capability from a repository that every node can write (a forged
	 * snapshot could hand the pod the host's disk); each device is named. */
	o.owners = -1;
	/* No free-space check in a pod volume: its estimate (4 KiB per entry on top of the
	 * data) may be above what the volume's file system really uses (it may compress),
	 * and a PVR has no way to say "try anyway", so a restore that fits could be refused.
	 * A volume that does fill up is still named, file by file. */
	o.no_space_check = true;
	o.threads = j->a->cfg->threads;
	o.progress_ms = 1000;
	o.progress = on_progress;
	o.warn = on_warn;
	o.cancel = on_cancel;
	o.ud = j;
	log_info("pvr %s/%s: restoring snapshot %s into %s", j->ns, j->name, p->snapshot, target);
	if (progress_start(&j->a->kc, j->status_path, what, j->a->cfg->progress_sec, on_gone, j,
	                   &j->prog) < 0)
		log_warn("%s: no progress updates (no thread)", what);
	err_clear(&e);
	r = restore_run(repo, &o, &res, &e);
	/* Before the end is written: a late progress write would turn it back to InProgress. */
	progress_stop(j->prog);
	j->prog = NULL;
	j->t_restore = now_mono();
	/* Kept only after a restore that met no fault: a pack that failed to read may mean
	 * the kept index is what is wrong. */
	keep = r == 0 && res.errors == 0 && j->n_warn == 0;
	conclude(j, p, target, r, &res, &e);
out:
	snapshot_release(&snap);
	rrepo_close(j->a, what, &j->rr, keep);
	free(target);
}

static void *rjob_main(void *ud)
{
	struct rjob *j = ud;
	struct agent_wake *wake;
	struct pvb_status st = { .phase = PVB_IN_PROGRESS, .has_progress = true };
	enum rguard guard = j->resume ? RG_RESUME : RG_CLAIM;
	struct err e = ERR_INIT;
	struct pvr p;
	int r;

	j->t_begin = now_mono();
	if (kube_new(&j->a->kc, &j->k) < 0 || pvr_parse(j->obj, &p) < 0)
		goto out;
	st.node = j->a->cfg->node;
	if (p.cancel || p.deleting) {
		memset(&st, 0, sizeof(st));
		st.phase = PVB_CANCELED;
		st.node = j->a->cfg->node;
		st.message = "canceled before it started";
		st.completion = time(NULL);
		if (write_status(j, &st, guard, &e) == 0)
			log_info("pvr %s/%s canceled before it started", j->ns, j->name);
		goto out;
	}
	st.accepted = st.start = time(NULL);
	st.total_bytes = p.size;
	st.message = j->resume ? "resumed: the node agent restarted during this restore" : "";
	r = claim(j, &st, guard, &e);
	j->t_claim = now_mono();
	if (r == -EALREADY) {
		j->lost = true;
		if (!j->resume)
			log_info("pvr %s/%s: another agent claimed it first", j->ns, j->name);
		goto out;
	}
	if (r == -ENOENT)
		goto out;
	if (r < 0) {
		fail(j, "cannot claim the restore: %.400s", e.msg);
		goto out;
	}
	log_info("pvr %s/%s: %s (%s/%s volume %s)", j->ns, j->name,
	         j->resume ? "accepted again after a restart" : "accepted", p.pod_ns, p.pod_name,
	         p.volume);
	run_restore(j, &p);
	log_times(j);
out:
	wake = j->a->wake; /* j may be freed as soon as it says done */
	__atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
	agent_wake(wake); /* its slot is free and its end is to be reaped */
	return NULL;
}

int rjob_start(const struct agent_ctx *a, const json_t *obj, bool resume, double seen,
               struct rjob **ret)
{
	const json_t *meta = json_object_get(obj, "metadata");
	struct rjob *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->a = a;
	j->resume = resume;
	j->obj = json_deep_copy(obj);
	pthread_mutex_init(&j->wlock, NULL);
	buf_init(&j->warn, RJOB_WARN_MAX);
	snprintf(j->name, sizeof(j->name), "%s", json_string_value(json_object_get(meta, "name")));
	snprintf(j->ns, sizeof(j->ns), "%s", json_string_value(json_object_get(meta, "namespace")));
	snprintf(j->path, sizeof(j->path), CAIRN_API "/namespaces/%s/podvolumerestores/%s", j->ns,
	         j->name);
	snprintf(j->status_path, sizeof(j->status_path), "%s/status", j->path);
	j->t_seen = seen;
	r = j->obj ? -pthread_create(&j->thread, NULL, rjob_main, j) : -ENOMEM;
	if (r < 0) {
		json_decref(j->obj);
		buf_release(&j->warn);
		pthread_mutex_destroy(&j->wlock);
		free(j);
		return r;
	}
	*ret = j;
	return 0;
}

void rjob_cancel(struct rjob *j, bool shutdown)
{
	int want = shutdown ? RJOB_SHUTDOWN : RJOB_CANCEL, cur = RJOB_RUN;

	__atomic_compare_exchange_n(&j->stop, &cur, want, false, __ATOMIC_RELAXED,
	                            __ATOMIC_RELAXED);
}

bool rjob_done(struct rjob *j)
{
	return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

bool rjob_lost(struct rjob *j)
{
	return rjob_done(j) && j->lost;
}

void rjob_free(struct rjob *j)
{
	if (!j)
		return;
	pthread_join(j->thread, NULL);
	kube_free(j->k);
	json_decref(j->obj);
	buf_release(&j->warn);
	pthread_mutex_destroy(&j->wlock);
	free(j);
}
