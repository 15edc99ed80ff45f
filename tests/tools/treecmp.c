/* Owns treecmp's command line and the walk: both trees are read side by side through
 * directory fds (lstat semantics, never following symlinks), names merged byte-exactly,
 * then link groups are checked. Exit 0 equal, 1 different, 2 error. */
#include "tests/tools/treecmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tools/tt.h"
#include "util/banned.h"

#define TC_PATH_MAX (1u << 16)
#define TC_DIR_MAX  (1u << 24) /* names in one directory */

void tc_diff(struct tc *t, const char *fmt, ...)
{
	va_list ap;

	t->diffs++;
	tt_put_escaped(stdout, (const char *)t->path.p, t->path.len);
	fputs(": ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static int tc_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void tc_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* All names of the directory open at fd, sorted bytewise. */
static int tc_names(struct tc *t, int fd, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;
	int r, dfd;

	r = dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		goto fail;
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = -EFBIG;
		if (n == TC_DIR_MAX)
			goto fail;
		if (n == cap) {
			char **nv = reallocarray(v, cap ? 2 * cap : 64, sizeof(*v));

			r = -ENOMEM;
			if (!nv)
				goto fail;
			v = nv;
			cap = cap ? 2 * cap : 64;
		}
		r = -ENOMEM;
		if (!(v[n] = strdup(de->d_name)))
			goto fail;
		n++;
	}
	r = -errno;
	if (errno)
		goto fail;
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), tc_cmp_names);
	*ret = v;
	*ret_n = n;
	return 0;
fail:
	if (d)
		closedir(d);
	tc_names_free(v, n);
	return err_set(&t->err, r, "readdir: %s", strerror(-r));
}

static int tc_push(struct tc *t, const char *name, size_t *ret_old)
{
	size_t old = t->path.len, n = strlen(name);
	int r;

	if ((old > 0 && (r = buf_append(&t->path, "/", 1)) < 0) ||
	    (r = buf_append(&t->path, name, n)) < 0 || (r = buf_reserve(&t->path, 1)) < 0)
		return err_set(&t->err, r, "path too long");
	t->path.p[t->path.len] = 0;
	*ret_old = old;
	return 0;
}

static void tc_pop(struct tc *t, size_t old)
{
	t->path.len = old;
	t->path.p[old] = 0;
}

static int tc_opendir(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int tc_dir(struct tc *t, int da, int db);

/* One name present on both sides: compare it and descend into directories. */
static int tc_both(struct tc *t, int da, int db, const char *name)
{
	struct stat sa, sb;
	int r, ca = -1, cb = -1;

	if (fstatat(da, name, &sa, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(db, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(&t->err, -errno, "lstat: %s", strerror(errno));
	r = tc_entry(t, da, db, name, &sa, &sb, false);
	if (r <= 0)
		return r;
	r = ca = tc_opendir(da, name);
	if (r >= 0)
		r = cb = tc_opendir(db, name);
	if (r >= 0)
		r = tc_dir(t, ca, cb);
	else
		r = err_set(&t->err, r, "open directory: %s", strerror(-r));
	if (ca >= 0)
		close(ca);
	if (cb >= 0)
		close(cb);
	return r;
}

static int tc_dir(struct tc *t, int da, int db)
{
	char **na = NULL, **nb = NULL;
	size_t ka = 0, kb = 0, i = 0, j = 0, old = 0;
	int r;

	if ((r = tc_names(t, da, &na, &ka)) < 0 || (r = tc_names(t, db, &nb, &kb)) < 0)
		goto fail;
	while (r >= 0 && (i < ka || j < kb)) {
		int c = i == ka ? 1 : j == kb ? -1 : strcmp(na[i], nb[j]);
		const char *name = c <= 0 ? na[i] : nb[j];

		if ((r = tc_push(t, name, &old)) < 0)
			break;
		if (c < 0)
			tc_diff(t, "only in A");
		else if (c > 0)
			tc_diff(t, "only in B");
		else
			r = tc_both(t, da, db, name);
		if (r < 0 && !t->err_path[0])
			tt_escape(t->err_path, sizeof(t->err_path), (const char *)t->path.p,
			          t->path.len);
		tc_pop(t, old);
		i += c <= 0;
		j += c >= 0;
	}
fail:
	tc_names_free(na, ka);
	tc_names_free(nb, kb);
	return r;
}

static int tc_cmp_a(const void *x, const void *y)
{
	const struct tc_link *a = x, *b = y;

	if (a->ad != b->ad)
		return a->ad < b->ad ? -1 : 1;
	return a->ai < b->ai ? -1 : a->ai > b->ai;
}

static int tc_cmp_b(const void *x, const void *y)
{
	const struct tc_link *a = x, *b = y;

	if (a->bd != b->bd)
		return a->bd < b->bd ? -1 : 1;
	return a->bi < b->bi ? -1 : a->bi > b->bi;
}

/* Within each group sharing an inode on one side, every member must share one inode on
 * the other side too: a broken link and a spurious link both show. */
static void tc_groups(struct tc *t, bool by_a)
{
	struct tc_link *l = t->links;
	size_t first = 0;

	/* No links at all: links is NULL, which qsort must not get (UBSan says so). */
	if (t->n_links < 2)
		return;
	qsort(l, t->n_links, sizeof(*l), by_a ? tc_cmp_a : tc_cmp_b);
	for (size_t i = 1; i < t->n_links; i++) {
		bool same_here =
		    by_a ? tc_cmp_a(&l[i], &l[first]) == 0 : tc_cmp_b(&l[i], &l[first]) == 0;
		bool same_there =
		    by_a ? tc_cmp_b(&l[i], &l[first]) == 0 : tc_cmp_a(&l[i], &l[first]) == 0;

		if (!same_here) {
			first = i;
			continue;
		}
		if (!same_there) {
			char esc[600];

			tt_escape(esc, sizeof(esc), l[first].path, strlen(l[first].path));
			buf_reset(&t->path);
			if (buf_append(&t->path, l[i].path, strlen(l[i].path) + 1) < 0)
				continue;
			t->path.len--;
			tc_diff(t, "hardlink: shares an inode with %s in %s but not in %s", esc,
			        by_a ? "A" : "B", by_a ? "B" : "A");
		}
	}
}

void tc_links_check(struct tc *t)
{
	tc_groups(t, true);
	tc_groups(t, false);
}

static void usage(FILE *f)
{
	fputs("usage: treecmp [--no-atime] [--no-owner] [--no-xattr] [--ignore-root-times] A B\n"
	      "  Compares two trees entry by entry (never following symlinks): names, type,\n"
	      "  mode, owner, size, content, symlink target, rdev, mtime and atime in\n"
	      "  nanoseconds, xattrs (ACLs included), hardlink groups and sparseness.\n"
	      "  One line per difference, then a summary. Exit 0 equal, 1 different, 2 error.\n",
	      f);
}

static int tc_parse(struct tc_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-atime", no_argument, NULL, 'a' },
		{ "no-owner", no_argument, NULL, 'o' },
		{ "no-xattr", no_argument, NULL, 'x' },
		{ "ignore-root-times", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->no_atime = true;
			break;
		case 'o':
			o->no_owner = true;
			break;
		case 'x':
			o->no_xattr = true;
			break;
		case 'r':
			o->ignore_root_times = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	return argc - optind == 2 ? 0 : -EINVAL;
}

/* The roots are opened as directories and compared as the entry "." of themselves. */
static int tc_run(struct tc *t, const char *a, const char *b)
{
	int da = -1, db = -1, r;
	struct stat sa, sb;

	da = open(a, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (da < 0) {
		r = err_set(&t->err, -errno, "%s: %s", a, strerror(errno));
		goto fail;
	}
	db = open(b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (db < 0) {
		r = err_set(&t->err, -errno, "%s: %s", b, strerror(errno));
		goto fail;
	}
	r = -ENOMEM;
	if (buf_append(&t->path, ".", 2) < 0)
		goto fail;
	t->path.len = 1;
	if (fstat(da, &sa) < 0 || fstat(db, &sb) < 0) {
		r = err_set(&t->err, -errno, "stat: %s", strerror(errno));
		goto fail;
	}
	r = tc_entry(t, da, db, ".", &sa, &sb, true);
	if (r < 0)
		goto fail;
	tc_pop(t, 0);
	r = tc_dir(t, da, db);
	if (r >= 0)
		tc_links_check(t);
fail:
	if (da >= 0)
		close(da);
	if (db >= 0)
		close(db);
	return r;
}

int main(int argc, char **argv)
{
	struct tc t = { .err = ERR_INIT };
	int r;

	if (tc_parse(&t.o, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	buf_init(&t.path, TC_PATH_MAX);
	t.ba = malloc(TC_BLOCK);
	t.bb = malloc(TC_BLOCK);
	if (!t.ba || !t.bb)
		r = err_set(&t.err, -ENOMEM, "out of memory");
	else
		r = tc_run(&t, argv[optind], argv[optind + 1]);
	if (r < 0) {
		fflush(stdout);
		fprintf(stderr, "treecmp: error at %s: %s\n", t.err_path[0] ? t.err_path : ".",
		        t.err.msg[0] ? t.err.msg : strerror(-r));
	} else {
		printf("treecmp: %llu entries, %llu sparse files, %llu differences%s\n",
		       (unsigned long long)t.entries, (unsigned long long)t.sparse_files,
		       (unsigned long long)t.diffs, t.diffs ? "" : ": equal");
	}
	for (size_t i = 0; i < t.n_links; i++)
		free(t.links[i].path);
	free(t.links);
	free(t.ba);
	free(t.bb);
	buf_release(&t.path);
	return r < 0 ? 2 : t.diffs ? 1 : 0;
}
