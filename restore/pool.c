/* Owns the restore workers: fetch + open + decompress a blob, write it at its offset
 * (all-zero blobs are skipped so they stay holes), finish files when their last blob
 * lands: renamed into place when whole, removed and named when not. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

/* How often a waiting walker polls the caller's cancel: SIGTERM is honoured within this
 * plus one blob fetch. */
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

static void rs_fail_locked(struct rs *s, int code, const char *fmt, ...) _printf_(3, 4);
static void rs_fail_locked(struct rs *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(s, code, fmt, ap);
	va_end(ap);
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
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&s->errors, 1);
	if (s->o->warn)
		s->o->warn(s->o->ud, path, code, msg);
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

static bool all_zero(const uint8_t *p, size_t n)
{
	/* Word-at-a-time: the common case (real data) fails within the first bytes. */
	size_t i = 0;
	uint64_t acc = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		acc |= w;
		if (acc)
			return false;
	}
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
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
		rs_warn(s, f->path, f->why.code, "%s: not restored: %s", f->path, f->why.msg);
	} else {
		atomic_fetch_add(&s->files, 1);
	}
	rs_dir_put(s, f->dir);
	node_release(&f->meta);
	free(f->path);
	free(f);
	pthread_mutex_lock(&s->lock);
	s->live--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

static void run_job(struct rs *s, const struct rjob *j, struct buf *b)
{
	struct rfile *f = j->f;
	struct err e = ERR_INIT;
	int rc;

	/* After a fatal error or a cancel nothing more is fetched: the file is incomplete. */
	if (rs_stopping(s)) {
		rs_file_bad(s, f, -ECANCELED, "the restore stopped before its content was written");
		return;
	}
	if (atomic_load(&f->bad))
		return; /* one missing blob is enough; do not fetch the rest */
	buf_reset(b);
	rc = repo_blob_get(s->repo, BLOB_DATA, j->id, b, &e);
	if (rc < 0) {
		rs_file_bad(s, f, rc, "%s", e.msg);
	} else if (b->len != j->len) {
		rc = -EBADMSG;
		rs_file_bad(s, f, rc, "blob length %zu differs from the tree's %llu", b->len,
		            (unsigned long long)j->len);
	} else if (b->len && !all_zero(b->p, b->len)) {
		rc = pwrite_full(f->fd, b->p, b->len, (off_t)j->off);
		if (rc < 0)
			rs_file_bad(s, f, rc, "write failed: %s", strerror(-rc));
	}
	if (rc >= 0) {
		atomic_fetch_add(&s->bytes, j->len);
		return;
	}
	/* The first failed content stops the restore unless asked to go on (the file itself
	 * is named by rs_file_done either way). */
	pthread_mutex_lock(&s->lock);
	rs_fail_locked(s, rc, "%s: %s", f->path, f->why.msg);
	pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
	struct rs *s = arg;
	struct buf b = BUF_INIT;

	buf_init(&b, REPO_BLOB_MAX);
	for (;;) {
		struct rjob j;

		pthread_mutex_lock(&s->lock);
		while (!s->n && !s->closed)
			pthread_cond_wait(&s->not_empty, &s->lock);
		if (!s->n) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		j = s->ring[s->head];
		s->head = (s->head + 1) % s->cap;
		s->n--;
		pthread_cond_signal(&s->not_full);
		pthread_mutex_unlock(&s->lock);

		run_job(s, &j, &b);
		rs_file_done(s, j.f);
	}
	buf_release(&b);
	pthread_mutex_lock(&s->lock);
	s->running--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int rs_workers_start(struct rs *s, int n)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->not_full, NULL);
	pthread_cond_init(&s->not_empty, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->cap = 64;
	s->ring = calloc(s->cap, sizeof(*s->ring));
	s->workers = calloc((size_t)n, sizeof(*s->workers));
	if (!s->ring || !s->workers)
		return err_set(s->e, -ENOMEM, "out of memory");
	for (; s->n_workers < n; s->n_workers++) {
		if (pthread_create(&s->workers[s->n_workers], NULL, worker, s) != 0)
			return err_set(s->e, -EAGAIN, "cannot start worker threads");
		pthread_mutex_lock(&s->lock);
		s->running++;
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
}

/* Wait on cond with the lock held, waking every POLL_NS to poll the caller's cancel (the
 * workers poll it too, but only between blobs, and a slow fetch may hold them all). */
static void wait_polling(struct rs *s, pthread_cond_t *cond)
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

int rs_workers_stop(struct rs *s)
{
	if (s->ring) {
		pthread_mutex_lock(&s->lock);
		s->closed = true;
		pthread_cond_broadcast(&s->not_empty);
		while (s->running)
			wait_polling(s, &s->idle);
		pthread_mutex_unlock(&s->lock);
	}
	for (int i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
	free(s->ring);
	s->workers = NULL;
	s->ring = NULL;
	s->n_workers = 0;
	if (s->fail.code && !s->e->code)
		*s->e = s->fail;
	return s->fail.code;
}

void rs_drain(struct rs *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->live && s->running)
		wait_polling(s, &s->idle);
	pthread_mutex_unlock(&s->lock);
}

int rs_submit(struct rs *s, const struct rjob *j)
{
	pthread_mutex_lock(&s->lock);
	while (s->n == s->cap)
		wait_polling(s, &s->not_full);
	s->ring[(s->head + s->n) % s->cap] = *j;
	s->n++;
	pthread_cond_signal(&s->not_empty);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
