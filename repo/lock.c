/* Owns repository locks: sealed lock objects naming their holder (host, pid, boot id, pid
 * namespace, process start time) and a refresh time. Backups, restores, checks and mounts
 * hold shared locks, prune an exclusive one. Each lock refreshes itself from its own thread
 * while held; a lock not refreshed for the stale age is ignored by others, and so is a lock
 * whose holder provably no longer runs (same host, boot and pid namespace, process gone).
 *
 * The holder's side of the bargain is a lease: once its lock has gone unrefreshed for
 * longer than the lease (stale age minus one refresh period) others may have ignored it,
 * so the lock counts as lost for good and the repository refuses further pack, index and
 * snapshot writes (repo_lock_check) instead of writing what a prune may already have
 * removed the ground under. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

#define LOCK_REFRESH_SEC (5 * 60)
/* After a failed refresh, try again this often (a store's hiccup must not cost the lease). */
#define LOCK_RETRY_DIV 5

struct repo_lock {
	struct repo *r;
	enum repo_lock_kind kind;
	struct repo_lock *next; /* in r->held, under r->held_mu */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	bool stop, lost;
	char name[ID_HEX];
	double refreshed; /* wall time when the last successful write began */
	char why[160];
};

/* The ages, shortened by the environment in test builds only (docs/format.md). */
static long env_sec(const char *name, long def)
{
#ifdef CAIRN_TEST_HOOKS
	const char *s = getenv(name);
	char *end;
	long v;

	if (s && *s) {
		v = strtol(s, &end, 10);
		if (!*end && v > 0 && v <= 24 * 3600)
			return v;
	}
#else
	(void)name;
#endif
	return def;
}

static long stale_sec(void)
{
	return env_sec("CAIRN_LOCK_STALE_SEC", REPO_LOCK_STALE_SEC);
}

static long refresh_sec(void)
{
	long s = env_sec("CAIRN_LOCK_REFRESH_SEC", LOCK_REFRESH_SEC), st = stale_sec();

	return s * 2 > st ? (st / 2 > 0 ? st / 2 : 1) : s;
}

/* How long after its last refresh a holder may still trust its lock. */
static long lease_sec(void)
{
	long l = stale_sec() - refresh_sec();

	return l > 0 ? l : 1;
}

/* Wall time (others judge our lock by the wall clock too) with sub-second resolution:
 * whole seconds would cut a short test lease by up to one. */
static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- who holds a lock ---- */

static void read_line(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd >= 0 ? read(fd, out, n - 1) : -1;

	if (fd >= 0)
		close(fd);
	out[k > 0 ? k : 0] = 0;
	out[strcspn(out, "\n")] = 0;
}

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. 0 when unknown,
 * -1 when there is no such process. */
static int64_t proc_start(long pid)
{
	char path[64], buf[1024], *p;
	int64_t v = 0;
	int fd;
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -1 : 0;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return 0;
	buf[k] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p && sscanf(p + 1, "%" SCNd64, &v) != 1)
		v = 0;
	return v;
}

struct self {
	char host[128], boot[64], pidns[64];
};

static void self_get(struct self *s)
{
	ssize_t k;

	memset(s, 0, sizeof(*s));
	gethostname(s->host, sizeof(s->host) - 1);
	read_line("/proc/sys/kernel/random/boot_id", s->boot, sizeof(s->boot));
	/* Pods on one node share its boot id (and, with the node name as hostname, the host);
	 * only the pid namespace tells whose pid 1234 it is. */
	k = readlink("/proc/self/ns/pid", s->pidns, sizeof(s->pidns) - 1);
	s->pidns[k > 0 ? k : 0] = 0;
}

/* True only when li's holder is provably gone: it ran on this host, in this boot and pid
 * namespace, and its pid is free or now another process (a different start time). */
static bool holder_gone(const struct lock_info *li, const struct self *me)
{
	int64_t st;

	if (!li->boot[0] || !li->pidns[0] || !li->start || li->pid <= 0 || !me->boot[0] ||
	    !me->pidns[0] || strcmp(li->host, me->host) || strcmp(li->boot, me->boot) ||
	    strcmp(li->pidns, me->pidns))
		return false;
	st = proc_start((long)li->pid);
	return st < 0 || (st > 0 && st != li->start);
}

int lock_decode(const void *p, size_t n, struct lock_info *ret)
{
	const char *host = "", *boot = "", *pidns = "";
	json_int_t t = 0, pid = 0, start = 0;
	json_t *o;
	int excl = 0, rc = -EBADMSG;

	o = json_loadb(p, n, 0, NULL);
	if (o && json_unpack(o, "{s:b, s:I, s:I, s:s, s?s, s?s, s?I}", "exclusive", &excl, "time",
	                     &t, "pid", &pid, "hostname", &host, "boot_id", &boot, "pid_ns", &pidns,
	                     "start", &start) == 0) {
		ret->exclusive = excl;
		ret->time = t;
		ret->pid = pid;
		ret->start = start;
		snprintf(ret->host, sizeof(ret->host), "%s", host);
		snprintf(ret->boot, sizeof(ret->boot), "%s", boot);
		snprintf(ret->pidns, sizeof(ret->pidns), "%s", pidns);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

int64_t lock_age_at(int64_t now, int64_t t)
{
	int64_t age;

	/* t is whatever the lock's writer put there: INT64_MIN must not overflow. */
	if (__builtin_sub_overflow(now, t, &age))
		return t < 0 ? INT64_MAX : INT64_MIN;
	return age;
}

static int lock_read(struct repo *r, const char *name, struct lock_info *li, struct err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_init(&b, 64 * 1024);
	rc = obj_get_open(r, OBJ_LOCK, KEY_DOMAIN_LOCK, name, &b, e);
	if (rc >= 0)
		rc = lock_decode(b.p, b.len, li);
	buf_release(&b);
	return rc;
}

static int lock_write(struct repo *r, enum repo_lock_kind kind, char ret_name[ID_HEX],
                      struct err *e)
{
	struct self me;
	json_t *o;
	char *s;
	int rc;

	self_get(&me);
	o = json_pack("{s:b, s:I, s:I, s:s, s:I, s:s, s:s, s:I}", "exclusive",
	              kind == REPO_LOCK_EXCLUSIVE, "time", (json_int_t)time(NULL), "pid",
	              (json_int_t)getpid(), "hostname", me.host, "uid", (json_int_t)getuid(),
	              "boot_id", me.boot, "pid_ns", me.pidns, "start",
	              (json_int_t)proc_start((long)getpid()));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	rc = obj_seal_put(r, OBJ_LOCK, KEY_DOMAIN_LOCK, s, strlen(s), ret_name, e);
	free(s);
	return rc;
}

/* ---- scanning ---- */

struct lock_scan {
	struct repo *r;
	struct err *e;
	const char *self;
	enum repo_lock_kind kind;
	bool remove_stale, remove_all;
	ssize_t removed;
	int conflict;
	struct self me;
};

/* Stale by age: not refreshed for the stale age, or dated further ahead than the stale
 * age (no clock skew we tolerate explains that, and such a lock would otherwise block
 * until its date came, for years if forged). */
static bool lock_too_old(int64_t age)
{
	return age > stale_sec() || age < -stale_sec();
}

static int scan_one(void *ud, const char *name, uint64_t size)
{
	struct lock_scan *s = ud;
	struct lock_info li;
	struct err ignore = ERR_INIT;
	int64_t age;
	bool stale;

	if (s->self && strcmp(name, s->self) == 0)
		return 0;
	/* A lock we cannot read (another key, or damaged) has no age we could judge: ignore
	 * it rather than block forever, and let --remove-all remove it (nothing else can). */
	if (lock_read(s->r, name, &li, &ignore) < 0) {
		if (s->remove_all && s->r->be->ops->del(s->r->be, OBJ_LOCK, name, s->e) >= 0)
			s->removed++;
		return 0;
	}
	age = lock_age_at((int64_t)time(NULL), li.time);
	stale = lock_too_old(age) || holder_gone(&li, &s->me);
	if (s->remove_all || (s->remove_stale && stale)) {
		if (s->r->be->ops->del(s->r->be, OBJ_LOCK, name, s->e) >= 0)
			s->removed++;
		return 0;
	}
	if (stale || s->remove_stale)
		return 0;
	if (s->kind == REPO_LOCK_EXCLUSIVE || li.exclusive) {
		s->conflict =
		    err_set(s->e, -EBUSY,
		            "repository is locked %s by pid %lld on %s (lock %.8s, "
		            "%s %llds%s; 'cairn unlock' removes stale locks)",
		            li.exclusive ? "exclusively" : "", (long long)li.pid, li.host, name,
		            age < 0 ? "dated" : "refreshed", (long long)(age < 0 ? -age : age),
		            age < 0 ? " in the future" : " ago");
		return -EBUSY;
	}
	return 0;
}

/* ---- the holder's refresh thread ---- */

/* Caller holds l->mu. */
static void mark_lost(struct repo_lock *l, const char *why)
{
	if (!l->lost)
		snprintf(l->why, sizeof(l->why), "%s", why);
	l->lost = true;
}

/* Caller holds l->mu: a lease that ran out is lost even if a refresh could still succeed
 * (a frozen or suspended process wakes up after others have ignored its lock). */
static bool lease_over(struct repo_lock *l)
{
	char why[160];

	if (!l->lost && now_sec() - l->refreshed >= (double)lease_sec()) {
		snprintf(why, sizeof(why), "not refreshed for %.0fs (stale after %lds)",
		         now_sec() - l->refreshed, stale_sec());
		mark_lost(l, why);
	}
	return l->lost;
}

static void *refresher(void *arg)
{
	struct repo_lock *l = arg;
	bool failed = false;

	pthread_mutex_lock(&l->mu);
	while (!l->stop && !l->lost) {
		long wait = failed ? refresh_sec() / LOCK_RETRY_DIV : refresh_sec();
		struct timespec until;
		char old[ID_HEX], fresh[ID_HEX];
		struct err e = ERR_INIT;
		uint64_t size;
		double began;
		int rc;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait > 0 ? wait : 1;
		while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
			;
		if (l->stop || lease_over(l))
			break;
		memcpy(old, l->name, ID_HEX);
		pthread_mutex_unlock(&l->mu);
		began = now_sec();
		/* The new object first, then a look at the old one: if someone removed the old
		 * ('unlock --remove-all', or judged it stale) at any time before the new one
		 * existed, there was an instant with no lock of ours, others (a prune) may have
		 * acted in it, and the new object must not hide that. One look after the write
		 * covers a removal before it too. */
		rc = lock_write(l->r, l->kind, fresh, &e);
		if (rc >= 0) {
			rc = l->r->be->ops->stat(l->r->be, OBJ_LOCK, old, &size, &e);
			if (rc < 0) /* lost, or unknown: keep only the old one's standing */
				(void)!l->r->be->ops->del(l->r->be, OBJ_LOCK, fresh, &e);
		}
		pthread_mutex_lock(&l->mu);
		if (rc == -ENOENT) {
			mark_lost(l, "the lock object was removed by someone else");
			break;
		}
		failed = rc < 0;
		if (failed)
			continue;
		if (lease_over(l)) {
			memcpy(old, fresh, ID_HEX); /* too late: take the new object back */
			pthread_mutex_unlock(&l->mu);
			(void)!l->r->be->ops->del(l->r->be, OBJ_LOCK, old, &e);
			pthread_mutex_lock(&l->mu);
			break;
		}
		memcpy(l->name, fresh, ID_HEX);
		l->refreshed = began;
		pthread_mutex_unlock(&l->mu);
		(void)!l->r->be->ops->del(l->r->be, OBJ_LOCK, old, &e);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static int lost_error(struct repo_lock *l, struct err *e)
{
	return err_set(e, -ENOLCK,
	               "repository lock %.8s lost: %s; stopping without writing more (run it "
	               "again)",
	               l->name, l->why);
}

/* ---- public ---- */

int repo_lock(struct repo *r, enum repo_lock_kind kind, struct repo_lock **ret, struct err *e)
{
	struct lock_scan s = { .r = r, .e = e, .kind = kind };
	struct repo_lock *l;
	int rc;

	self_get(&s.me);
	rc = r->be->ops->list(r->be, OBJ_LOCK, scan_one, &s, e);
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return err_set(e, -ENOMEM, "out of memory");
	l->r = r;
	l->kind = kind;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->refreshed = now_sec();
	rc = lock_write(r, kind, l->name, e);
	if (rc < 0)
		goto fail;
	/* Two lockers may have raced past the first scan: look again with ours in place,
	 * and back off if there is a conflict now. */
	s.self = l->name;
	rc = r->be->ops->list(r->be, OBJ_LOCK, scan_one, &s, e);
	if (rc >= 0) {
		sigset_t all, old;
		int k;

		/* Born with every signal blocked: SIGINT/SIGTERM must reach the threads that act
		 * on them (a FUSE loop's read is only interrupted in its own thread). */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		k = pthread_create(&l->thread, NULL, refresher, l);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (k != 0)
			rc = err_set(e, -EAGAIN, "cannot start the lock refresh thread");
	}
	if (rc < 0) {
		struct err ignore = ERR_INIT;

		r->be->ops->del(r->be, OBJ_LOCK, l->name, &ignore);
		goto fail;
	}
	l->started = true;
	pthread_mutex_lock(&r->held_mu);
	l->next = r->held;
	r->held = l;
	pthread_mutex_unlock(&r->held_mu);
	*ret = l;
	return 0;
fail:
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
	return rc;
}

int repo_lock_reader(struct repo *r, struct repo_lock **ret, struct err *e)
{
	int rc = repo_lock(r, REPO_LOCK_SHARED, ret, e);

	if (rc == -EROFS || rc == -ENOENT) {
		/* A read-only location (or a copy with no locks folder): no prune can run through
		 * it from here, and refusing would make a read-only restore impossible. */
		err_clear(e);
		*ret = NULL;
		return 0;
	}
	return rc;
}

int repo_lock_refresh(struct repo_lock *l, struct err *e)
{
	int rc = 0;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	if (lease_over(l))
		rc = lost_error(l, e);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int repo_lock_check(struct repo *r, struct err *e)
{
	int rc = 0;

	pthread_mutex_lock(&r->held_mu);
	for (struct repo_lock *l = r->held; l && rc >= 0; l = l->next)
		rc = repo_lock_refresh(l, e);
	pthread_mutex_unlock(&r->held_mu);
	return rc;
}

void repo_unlock(struct repo_lock *l)
{
	struct err ignore = ERR_INIT;
	struct repo *r;

	if (!l)
		return;
	r = l->r;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (l->started)
		pthread_join(l->thread, NULL);
	pthread_mutex_lock(&r->held_mu);
	for (struct repo_lock **p = &r->held; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	pthread_mutex_unlock(&r->held_mu);
	r->be->ops->del(r->be, OBJ_LOCK, l->name, &ignore);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

ssize_t repo_locks_remove(struct repo *r, bool all, struct err *e)
{
	struct lock_scan s = { .r = r, .e = e, .remove_stale = true, .remove_all = all };
	int rc;

	self_get(&s.me);
	rc = r->be->ops->list(r->be, OBJ_LOCK, scan_one, &s, e);
	return rc < 0 ? rc : s.removed;
}

long repo_lock_stale_sec(void)
{
	return stale_sec();
}
