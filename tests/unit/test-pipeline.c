/* The backup pipeline stops soon after a worker fails or the caller cancels: the walker
 * notices at its next read or push, and the queue drops what is queued. The bound is the
 * queue's (a few MiB), not the source's size. Elapsed times are reported, not asserted. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "tests/tap.h"

#define SOURCE_MB 96
#define STOP_MB   32 /* far above what the queue and one read can hold past the stop */

static char top[] = "/tmp/cairn-test-pipeline-XXXXXX";
static atomic_ullong seen_bytes;
static atomic_bool cancel_now;
static struct timespec stop_at;

static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if ((size_t)vsnprintf(out, n, fmt, ap) >= n)
		abort();
	va_end(ap);
}

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(void *ud, const struct backup_progress *p)
{
	(void)ud;
	atomic_store(&seen_bytes, p->bytes_done);
	if (p->bytes_done >= 4u << 20 && !atomic_exchange(&cancel_now, true))
		clock_gettime(CLOCK_MONOTONIC, &stop_at);
}

static bool on_cancel(void *ud)
{
	return ud && atomic_load(&cancel_now);
}

static int make_source(const char *dir)
{
	char p[PATH_MAX];
	uint8_t *buf = malloc(1u << 20);
	int fd, rc = 0;

	mkdir(dir, 0755);
	pathf(p, sizeof(p), "%s/big", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!buf || fd < 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < SOURCE_MB; i++) {
		randombytes_buf(buf, 1u << 20);
		if (write(fd, buf, 1u << 20) != 1 << 20)
			rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

static int open_repo(const char *dir, struct repo **r)
{
	struct repo_create_params cp;
	struct repo_open_params o = { .url = dir, .password = "pw", .password_len = 2 };
	struct err e = ERR_INIT;

	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	cp.pack_size = REPO_PACK_MIN;
	return repo_create(&o, &cp, r, &e);
}

static int run(struct repo *r, const char *src, bool cancel, struct err *e)
{
	const char *paths[] = { src };
	struct backup_opts o = { .paths = paths,
		                 .n_paths = 1,
		                 .no_parent = true,
		                 .threads = 2,
		                 .progress_ms = 1,
		                 .progress = on_progress,
		                 .cancel = on_cancel,
		                 .ud = cancel ? (void *)1 : NULL };
	struct backup_result res;

	*e = (struct err)ERR_INIT;
	atomic_store(&seen_bytes, 0);
	atomic_store(&cancel_now, false);
	return backup_run(r, &o, &res, e);
}

int main(void)
{
	char src[PATH_MAX], full[PATH_MAX], roomy[PATH_MAX];
	struct repo *r = NULL;
	struct err e = ERR_INIT;
	struct timespec t0;
	int rc;

	if (sodium_init() < 0 || !mkdtemp(top))
		return 1;
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to mount a small tmpfs\n");
		return 0;
	}
	pathf(src, sizeof(src), "%s/src", top);
	pathf(full, sizeof(full), "%s/full", top);
	pathf(roomy, sizeof(roomy), "%s/roomy", top);
	ok(make_source(src) == 0, "a %d MiB source", SOURCE_MB);

	/* A worker fails: the repository's filesystem is full after a few packs. */
	mkdir(full, 0755);
	ok(mount("tmpfs", full, "tmpfs", 0, "size=6m") == 0, "a 6 MiB tmpfs for the repository");
	ok(open_repo(full, &r) == 0, "repository on it");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run(r, src, false, &e);
	ok(rc == -ENOSPC, "the worker's error ends the backup: %d %s", rc, e.msg);
	ok(atomic_load(&seen_bytes) < (unsigned long long)STOP_MB << 20,
	   "the walker stopped early (%llu of %d MiB read)", atomic_load(&seen_bytes) >> 20,
	   SOURCE_MB);
	tap_diag("worker failure: backup returned after %.2f s", since(&t0));
	repo_free(r);
	umount2(full, MNT_DETACH);

	/* The caller cancels (what SIGTERM does through the CLI's cancel callback). */
	mkdir(roomy, 0755);
	ok(open_repo(roomy, &r) == 0, "repository with room");
	rc = run(r, src, true, &e);
	ok(rc == -ECANCELED, "cancel ends the backup: %d %s", rc, e.msg);
	ok(atomic_load(&seen_bytes) < (unsigned long long)STOP_MB << 20,
	   "the walker stopped early (%llu of %d MiB read)", atomic_load(&seen_bytes) >> 20,
	   SOURCE_MB);
	tap_diag("cancel: backup returned %.2f s after the cancel", since(&stop_at));
	repo_free(r);
	{
		char cmd[PATH_MAX + 16];

		pathf(cmd, sizeof(cmd), "rm -rf %s", top);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", top);
	}
	return tap_done();
}
