/* Owns the life of a restored file and the error latch: a file is finished when its last
 * blob lands (renamed into place when whole, removed and named when not), the first fatal
 * error stops the restore unless keep_going, and waiting walkers poll the caller's cancel. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/err.h"
#include "util/fsutil.h"

/* How often a waiting walker polls the caller's cancel: SIGTERM is honoured within this
 * plus one range fetch per worker. */
#define POLL_NS (200 * 1000 * 1000L)

static void vfail(struct rs *s, int code, const char *fmt, va_list ap) _printf_(3, 0);
static void vfail(struct rs *s, int code, const char *fmt, va_list ap)
{
	if (s->o->keep_going && code != -ECANCELED && code != -ENOMEM)
		return;
	if (!s->fail.code) {
		s->fail.code = code;
		vsnprintf(s->fail.msg, sizeof(s->fail.msg), fmt, ap);
	}
	atomic_store(&s->failed, true);
}

void rs_fail(struct rs *s, int code, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	va_start(ap, fmt);
	vfail(s, code, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&s->lock);
}

void rs_warn(struct rs *s, const char *path, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	err_vfit(msg, sizeof(msg), fmt, ap); /* a deep path must not push out the reason */
	va_end(ap);
	atomic_fetch_add(&s->errors, 1);
	/* Workers fail files at once: the caller's callback is not asked to be thread-safe
	 * (test-restore-fail counted 39 of 40 warnings through a plain counter). */
	if (s->o->warn) {
		pthread_mutex_lock(&s->warn_lock);
		s->o->warn(s->o->ud, path, code, msg);
		pthread_mutex_unlock(&s->warn_lock);
	}
}

void rs_note(struct rs *s, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	err_vfit(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->o->warn) {
		pthread_mutex_lock(&s->warn_lock);
		s->o->warn(s->o->ud, path, 0, msg);
		pthread_mutex_unlock(&s->warn_lock);
	}
}

bool rs_stopping(struct rs *s)
{
	if (atomic_load(&s->failed))
		return true;
	if (s->o->cancel && s->o->cancel(s->o->ud)) {
		rs_fail(s, -ECANCELED, "restore cancelled");
		return true;
	}
	return false;
}

void rs_file_bad(struct rs *s, struct rfile *f, int code, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!f->why.code) {
		f->why.code = code;
		va_start(ap, fmt);
		vsnprintf(f->why.msg, sizeof(f->why.msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_store(&f->bad, true);
}

/* The file is whole: metadata on the fd, then the rename makes it appear at once. */
static int finish_whole(struct rs *s, struct rfile *f)
{
	int fd = f->fd;

	f->fd = -1;
	rs_apply_fd(s, fd, &f->meta, f->path);
	if (close(fd) < 0)
		return -errno;
	if (renameat(f->dir->fd, f->tmp, f->dir->fd, f->meta.name) < 0)
		return -errno;
	return 0;
}

/* Test builds only: while the file CAIRN_TEST_RESTORE_HOLD names exists, each thread that
 * has just finished a file waits there (polling cancel), so a restore of more files than
 * workers stops mid-way with some files in place: cancel and shutdown tests need no race. */
static void test_hold(struct rs *s)
{
#ifdef CAIRN_TEST_HOOKS
	const char *path = getenv("CAIRN_TEST_RESTORE_HOLD");
	struct timespec ts = { 0, 50 * 1000 * 1000L };

	while (path && path[0] && access(path, F_OK) == 0 && !rs_stopping(s))
		nanosleep(&ts, NULL);
#else
	(void)s;
#endif
}

/* Whether the restore's fatal error is this file's failure: "PATH: WHY", as need_done
 * latches it. */
static bool fail_is(struct rs *s, const struct rfile *f)
{
	size_t n = strlen(f->path);
	bool same;

	pthread_mutex_lock(&s->lock);
	same = s->fail.code == f->why.code && strncmp(s->fail.msg, f->path, n) == 0 &&
	       strncmp(s->fail.msg + n, ": ", 2) == 0 &&
	       strcmp(s->fail.msg + n + 2, f->why.msg) == 0;
	pthread_mutex_unlock(&s->lock);
	return same;
}

/* Whether f failed as the restore's fatal error did (ENOSPC in two workers at once): it
 * is then named in that error's list, not by a warning line of its own. */
static bool same_cause(struct rs *s, const struct rfile *f)
{
	bool same;

	pthread_mutex_lock(&s->lock);
	same = s->fail.code == f->why.code;
	pthread_mutex_unlock(&s->lock);
	return same;
}

/* Name a file that is not restored, once. The file whose failure stopped the restore is
 * named by the restore's own error, and so are the files it stopped in the middle of
 * (as many as fit, the rest counted): a full disk under many files is one line, not a
 * warning per file and the same failure twice. keep_going names every file by a
 * warning, as its callers list them. */
static void name_failure(struct rs *s, struct rfile *f)
{
	pthread_mutex_lock(&s->lock);
	s->bytes_lost = ckd_sat_add_i64max(s->bytes_lost, f->meta.size);
	pthread_mutex_unlock(&s->lock);
	if (!s->o->keep_going && atomic_load(&s->failed) &&
	    (f->why.code == -ECANCELED || (same_cause(s, f) && !fail_is(s, f)))) {
		size_t n = strlen(f->path);

		atomic_fetch_add(&s->errors, 1);
		pthread_mutex_lock(&s->lock);
		if (s->stopped_len + n + 3 <= sizeof(s->stopped)) {
			snprintf(s->stopped + s->stopped_len, sizeof(s->stopped) - s->stopped_len,
			         "%s%s", s->stopped_len ? ", " : "", f->path);
			s->stopped_len += n + (s->stopped_len ? 2 : 0);
		} else {
			s->stopped_more++;
		}
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (!s->o->keep_going && fail_is(s, f)) {
		atomic_fetch_add(&s->errors, 1);
		return;
	}
	rs_warn(s, f->path, f->why.code, "%s: not restored: %s", f->path, f->why.msg);
}

void rs_file_done(struct rs *s, struct rfile *f)
{
	int rc = 0;

	if (atomic_fetch_sub(&f->pending, 1) != 1)
		return;
	if (!atomic_load(&f->bad)) {
		rc = finish_whole(s, f);
		if (rc < 0)
			rs_file_bad(s, f, rc, "%s", strerror(-rc));
	}
	if (atomic_load(&f->bad)) {
		/* Content is missing: a pre-sized file with the source's mode and mtime would
		 * look restored, so nothing is left under any name. */
		if (f->fd >= 0)
			close(f->fd);
		unlinkat(f->dir->fd, f->tmp, 0);
		name_failure(s, f);
	} else {
		atomic_fetch_add(&s->files, 1);
	}
	rs_dir_put(s, f->dir);
	/* Freed by the walker (reap.c), before live goes down: rs_drain then knows that
	 * every finished file is on the list. */
	rs_file_bury(s, f);
	pthread_mutex_lock(&s->lock);
	s->live--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	test_hold(s);
}

/* Wait on cond with the lock held, waking every POLL_NS to poll the caller's cancel (the
 * workers poll it too, but only between blobs, and a slow fetch may hold them all). */
void rs_wait_polling(struct rs *s, pthread_cond_t *cond)
{
	struct timespec t;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += POLL_NS;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	if (pthread_cond_timedwait(cond, &s->lock, &t) == 0 || atomic_load(&s->failed))
		return;
	pthread_mutex_unlock(&s->lock);
	stop = rs_stopping(s);
	pthread_mutex_lock(&s->lock);
	(void)stop;
}

void rs_drain(struct rs *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->live)
		rs_wait_polling(s, &s->idle);
	pthread_mutex_unlock(&s->lock);
}
