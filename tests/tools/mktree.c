/* Owns mktree's command line, the created-entry list and the last pass that applies
 * owners, modes and nanosecond times (children before parents, so directory mtimes
 * survive), plus --small mode for the many-small-files test and bench. */
#include "tests/tools/mktree.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

#define MK_MAX_FILES     (UINT64_C(1) << 24)
#define MK_SMALL_PER_DIR 100

int mk_add(struct mk *m, const char *path, mode_t mode, struct mk_ent **ret)
{
	struct mk_ent *e;

	if (m->n_ents == m->cap_ents) {
		size_t cap = m->cap_ents ? 2 * m->cap_ents : 256;
		struct mk_ent *n = reallocarray(m->ents, cap, sizeof(*n));

		if (!n)
			return err_set(&m->err, -ENOMEM, "out of memory");
		m->ents = n;
		m->cap_ents = cap;
	}
	e = &m->ents[m->n_ents];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path)
		return err_set(&m->err, -ENOMEM, "out of memory");
	e->mode = mode;
	m->n_ents++;
	if (ret)
		*ret = e;
	return 0;
}

int mk_dir(struct mk *m, const char *path, mode_t mode)
{
	/* Created writable; the final mode (maybe 0000) comes in the last pass. */
	if (mkdir(path, 0700) < 0)
		return err_set(&m->err, -errno, "mkdir %s: %s", path, strerror(errno));
	return mk_add(m, path, mode, NULL);
}

int mk_fill_fd(struct mk *m, int fd, enum mk_content c, uint64_t size)
{
	uint8_t pattern[65536];
	uint64_t line = 0;
	int r;

	tt_fill(&m->rng, pattern, sizeof(pattern));
	while (size > 0) {
		size_t n = size < MK_MIB ? (size_t)size : (size_t)MK_MIB;

		if (c == MK_RANDOM) {
			tt_fill(&m->rng, m->blk, n);
		} else if (c == MK_REPEAT) {
			for (size_t o = 0; o < n; o += sizeof(pattern))
				memcpy(m->blk + o, pattern,
				       n - o < sizeof(pattern) ? n - o : sizeof(pattern));
		} else if (c == MK_ZERO) {
			memset(m->blk, 0, n);
		} else {
			size_t o = 0;

			/* Log-like lines: compressible but not trivially so. */
			while (o < n) {
				int w = snprintf((char *)m->blk + o, n - o,
				                 "%012llu level=info req=%016llx took %llums ok\n",
				                 (unsigned long long)line++,
				                 (unsigned long long)tt_next(&m->rng),
				                 (unsigned long long)tt_below(&m->rng, 5000));
				if (w < 0 || (size_t)w >= n - o) {
					memset(m->blk + o, '.', n - o);
					break;
				}
				o += (size_t)w;
			}
		}
		r = write_full(fd, m->blk, n);
		if (r < 0)
			return r;
		size -= n;
	}
	return 0;
}

int mk_file(struct mk *m, const char *path, mode_t mode, enum mk_content c, uint64_t size)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(&m->err, -errno, "create %s: %s", path, strerror(errno));
	r = mk_fill_fd(m, fd, c, size);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return err_set(&m->err, r, "write %s: %s", path, strerror(-r));
	return mk_add(m, path, mode, NULL);
}

int mk_symlink(struct mk *m, const char *target, const char *path)
{
	struct mk_ent *e = NULL;
	int r;

	if (symlink(target, path) < 0)
		return err_set(&m->err, -errno, "symlink %s: %s", path, strerror(errno));
	r = mk_add(m, path, MK_MODE_KEEP, &e);
	if (r < 0)
		return r;
	e->is_link = true;
	return 0;
}

/* Give the most recently added entry at path a foreign owner (root only). */
int mk_owned(struct mk *m, const char *path, uid_t uid, gid_t gid)
{
	for (size_t i = m->n_ents; i-- > 0;) {
		if (strcmp(m->ents[i].path, path) == 0) {
			m->ents[i].has_owner = m->root;
			m->ents[i].uid = uid;
			m->ents[i].gid = gid;
			return 0;
		}
	}
	return err_set(&m->err, -ENOENT, "internal: %s not recorded", path);
}

int mk_xattr(struct mk *m, const char *path, const char *name, const void *v, size_t n)
{
	if (lsetxattr(path, name, v, n, 0) < 0)
		return err_set(&m->err, -errno, "setxattr %s %s: %s", path, name, strerror(errno));
	return 0;
}

static void mk_seeded_time(struct mk *m, struct timespec *t)
{
	/* 2017..2023 with arbitrary nanoseconds, so a restore that drops them shows. */
	t->tv_sec = 1500000000 + (time_t)tt_below(&m->rng, 200000000);
	t->tv_nsec = (long)tt_below(&m->rng, 1000000000);
}

/* Reverse creation order: every child is finished before its directory, so neither a
 * later create nor a chmod to 0000 gets in the way. chown before chmod: it clears setuid. */
static int mk_finish(struct mk *m)
{
	for (size_t i = m->n_ents; i-- > 0;) {
		struct mk_ent *e = &m->ents[i];
		struct timespec ts[2];

		if (e->has_owner && lchown(e->path, e->uid, e->gid) < 0)
			return err_set(&m->err, -errno, "chown %s: %s", e->path, strerror(errno));
		if (!e->is_link && e->mode != MK_MODE_KEEP && chmod(e->path, e->mode) < 0)
			return err_set(&m->err, -errno, "chmod %s: %s", e->path, strerror(errno));
		if (e->fixed_time) {
			memcpy(ts, e->ts, sizeof(ts));
		} else {
			mk_seeded_time(m, &ts[0]);
			mk_seeded_time(m, &ts[1]);
		}
		if (utimensat(AT_FDCWD, e->path, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return err_set(&m->err, -errno, "utimensat %s: %s", e->path,
			               strerror(errno));
	}
	return 0;
}

/* N files of 1..8 KiB, MK_SMALL_PER_DIR per directory, half text and half random. */
static int mk_small(struct mk *m, uint64_t n)
{
	char path[64];
	int r;

	for (uint64_t i = 0; i < n; i++) {
		struct timespec ts[2] = { { 1700000000 + (time_t)(i % 100000), 0 },
			                  { 1700000000 + (time_t)(i % 100000), 0 } };
		uint64_t size = 1024 + tt_below(&m->rng, 7 * 1024);
		int fd;

		if (i % MK_SMALL_PER_DIR == 0) {
			snprintf(path, sizeof(path), "s%06llu",
			         (unsigned long long)(i / MK_SMALL_PER_DIR));
			if (mkdir(path, 0755) < 0)
				return err_set(&m->err, -errno, "mkdir %s: %s", path,
				               strerror(errno));
		}
		snprintf(path, sizeof(path), "s%06llu/f%08llu",
		         (unsigned long long)(i / MK_SMALL_PER_DIR), (unsigned long long)i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_set(&m->err, -errno, "create %s: %s", path, strerror(errno));
		r = mk_fill_fd(m, fd, (i & 1) ? MK_RANDOM : MK_TEXT, size);
		if (r == 0 && futimens(fd, ts) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r < 0)
			return err_set(&m->err, r, "write %s: %s", path, strerror(-r));
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mktree DIR [--seed N] [--files N] [--big-mib N] [--small N]\n"
	        "  Creates DIR (must not exist) with every file kind and metadata kind.\n"
	        "  The same seed gives the same names, bytes, modes and times.\n"
	        "  --small N: only N small files (1-8 KiB) in directories of %d.\n"
	        "  Sockets are never created (backup tools skip them). Device nodes and\n"
	        "  foreign owners need root and are left out otherwise.\n",
	        MK_SMALL_PER_DIR);
}

static int mk_parse(struct mk *m, int argc, char **argv, uint64_t *small, const char **dir)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "files", required_argument, NULL, 'f' },
		{ "big-mib", required_argument, NULL, 'b' },
		{ "small", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?' || tt_parse_u64(optarg, c == 's' ? UINT64_MAX : MK_MAX_FILES, &v) < 0)
			return -EINVAL;
		if (c == 's')
			m->rng.s = v;
		else if (c == 'f')
			m->files = v;
		else if (c == 'b')
			m->big_mib = v;
		else
			*small = v;
	}
	if (optind != argc - 1)
		return -EINVAL;
	*dir = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct mk m = { .rng = { 1 }, .files = 40, .big_mib = 6, .err = ERR_INIT };
	uint64_t small = 0;
	const char *dir = NULL;
	int r;

	if (mk_parse(&m, argc, argv, &small, &dir) < 0) {
		usage(stderr);
		return 2;
	}
	umask(022);
	m.root = geteuid() == 0;
	m.blk = malloc(MK_MIB);
	if (!m.blk) {
		fprintf(stderr, "mktree: out of memory\n");
		return 1;
	}
	if (mkdir(dir, 0755) < 0 || chdir(dir) < 0) {
		fprintf(stderr, "mktree: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (small > 0)
		r = mk_small(&m, small);
	else
		r = mk_kinds(&m);
	if (r == 0 && small == 0)
		r = mk_finish(&m);
	if (r < 0)
		fprintf(stderr, "mktree: %s\n", m.err.msg[0] ? m.err.msg : strerror(-r));
	for (size_t i = 0; i < m.n_ents; i++)
		free(m.ents[i].path);
	free(m.ents);
	free(m.blk);
	return r < 0 ? 1 : 0;
}
