/* Owns the restore workers: fetch + open + decompress a blob, write it at its offset
 * (all-zero blobs are skipped so they stay holes), finish files when their last blob
 * lands. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

void rs_fail(struct rs *s, int code, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->fail.code) {
		s->fail.code = code;
		va_start(ap, fmt);
		vsnprintf(s->fail.msg, sizeof(s->fail.msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->errors, 1);
}

void rs_warn(struct rs *s, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&s->errors, 1);
	if (s->o->warn)
		s->o->warn(s->o->ud, s->path, code, msg);
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

void rs_file_done(struct rs *s, struct rfile *f)
{
	if (atomic_fetch_sub(&f->pending, 1) != 1)
		return;
	rs_apply_fd(s, f->fd, &f->meta, f->path);
	if (close(f->fd) < 0)
		rs_fail(s, -errno, "%s: write failed: %s", f->path, strerror(errno));
	atomic_fetch_add(&s->files, 1);
	node_release(&f->meta);
	free(f->path);
	free(f);
}

static void *worker(void *arg)
{
	struct rs *s = arg;
	struct buf b = BUF_INIT;

	buf_init(&b, REPO_BLOB_MAX);
	for (;;) {
		struct err e = ERR_INIT;
		struct rjob j;
		int rc;

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

		buf_reset(&b);
		rc = atomic_load(&s->failed) ? 0 : repo_blob_get(s->repo, BLOB_DATA, j.id, &b, &e);
		if (rc < 0) {
			rs_fail(s, rc, "%s: %s", j.f->path, e.msg);
		} else if (b.len != j.len && !atomic_load(&s->failed)) {
			rs_fail(s, -EBADMSG, "%s: blob length %zu differs from the tree's %llu",
				j.f->path, b.len, (unsigned long long)j.len);
		} else if (b.len && !all_zero(b.p, b.len)) {
			rc = pwrite_full(j.f->fd, b.p, b.len, (off_t)j.off);
			if (rc < 0)
				rs_fail(s, rc, "%s: write failed: %s", j.f->path, strerror(-rc));
		}
		atomic_fetch_add(&s->bytes, j.len);
		rs_file_done(s, j.f);
	}
	buf_release(&b);
	return NULL;
}

int rs_workers_start(struct rs *s, int n)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->not_full, NULL);
	pthread_cond_init(&s->not_empty, NULL);
	s->cap = 64;
	s->ring = calloc(s->cap, sizeof(*s->ring));
	s->workers = calloc((size_t)n, sizeof(*s->workers));
	if (!s->ring || !s->workers)
		return err_set(s->e, -ENOMEM, "out of memory");
	for (; s->n_workers < n; s->n_workers++)
		if (pthread_create(&s->workers[s->n_workers], NULL, worker, s) != 0)
			return err_set(s->e, -EAGAIN, "cannot start worker threads");
	return 0;
}

int rs_workers_stop(struct rs *s)
{
	if (s->ring) {
		pthread_mutex_lock(&s->lock);
		s->closed = true;
		pthread_cond_broadcast(&s->not_empty);
		pthread_mutex_unlock(&s->lock);
	}
	for (int i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
	free(s->ring);
	s->workers = NULL;
	s->ring = NULL;
	s->n_workers = 0;
	if (s->fail.code) {
		*s->e = s->fail;
		return s->fail.code;
	}
	return 0;
}

int rs_submit(struct rs *s, const struct rjob *j)
{
	pthread_mutex_lock(&s->lock);
	while (s->n == s->cap)
		pthread_cond_wait(&s->not_full, &s->lock);
	s->ring[(s->head + s->n) % s->cap] = *j;
	s->n++;
	pthread_cond_signal(&s->not_empty);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
