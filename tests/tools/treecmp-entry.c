/* Owns the comparison of one entry present in both trees: type, mode, owner, size, rdev,
 * times, xattrs, symlink target, content, sparseness, and the record for link groups. */
#include "tests/tools/treecmp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/tools/tt.h"
#include "util/banned.h"
#include "util/fsutil.h"

#define TC_XATTR_LIST  65536
#define TC_XATTR_VALUE 65536
#define TC_ESC         600

static const char *tc_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "chardev";
	case S_IFBLK:
		return "blockdev";
	case S_IFSOCK:
		return "socket";
	}
	return "unknown";
}

static void tc_times(struct tc *t, const char *what, const struct timespec *a,
                     const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec || a->tv_nsec != b->tv_nsec)
		tc_diff(t, "%s: A=%lld.%09ld B=%lld.%09ld", what, (long long)a->tv_sec, a->tv_nsec,
		        (long long)b->tv_sec, b->tv_nsec);
}

static void tc_stat(struct tc *t, const struct stat *a, const struct stat *b, bool is_root)
{
	bool root_times = is_root && t->o.ignore_root_times;

	if (!S_ISLNK(a->st_mode) && (a->st_mode & 07777) != (b->st_mode & 07777))
		tc_diff(t, "mode: A=%04o B=%04o", a->st_mode & 07777, b->st_mode & 07777);
	if (!t->o.no_owner && (a->st_uid != b->st_uid || a->st_gid != b->st_gid))
		tc_diff(t, "owner: A=%u:%u B=%u:%u", a->st_uid, a->st_gid, b->st_uid, b->st_gid);
	if ((S_ISREG(a->st_mode) || S_ISLNK(a->st_mode)) && a->st_size != b->st_size)
		tc_diff(t, "size: A=%lld B=%lld", (long long)a->st_size, (long long)b->st_size);
	if ((S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode)) && a->st_rdev != b->st_rdev)
		tc_diff(t, "rdev: A=%u:%u B=%u:%u", major(a->st_rdev), minor(a->st_rdev),
		        major(b->st_rdev), minor(b->st_rdev));
	if (!root_times)
		tc_times(t, "mtime", &a->st_mtim, &b->st_mtim);
	if (!root_times && !t->o.no_atime)
		tc_times(t, "atime", &a->st_atim, &b->st_atim);
}

/* xattr calls on "/proc/self/fd/DIR/NAME" keep paths short however deep the tree is,
 * and the l* variants do not follow a final symlink. */
static int tc_xpath(char *out, size_t n, int dfd, const char *name)
{
	int w = snprintf(out, n, "/proc/self/fd/%d/%s", dfd, name);

	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

/* Sorted, NUL-separated list of names into buf; returns the byte count. */
static ssize_t tc_xlist(struct tc *t, const char *p, char *buf)
{
	ssize_t n = llistxattr(p, buf, TC_XATTR_LIST);

	if (n < 0 && (errno == ENOTSUP || errno == EPERM))
		return 0;
	if (n < 0)
		return err_set(&t->err, -errno, "listxattr: %s", strerror(errno));
	return n;
}

static bool tc_xhas(const char *list, ssize_t n, const char *name)
{
	for (ssize_t o = 0; o < n; o += (ssize_t)strlen(list + o) + 1)
		if (strcmp(list + o, name) == 0)
			return true;
	return false;
}

static int tc_xvalue(struct tc *t, const char *pa, const char *pb, const char *name)
{
	ssize_t na = lgetxattr(pa, name, t->ba, TC_XATTR_VALUE);
	ssize_t nb = lgetxattr(pb, name, t->bb, TC_XATTR_VALUE);
	char esc[TC_ESC];

	if (na < 0 || nb < 0)
		return err_set(&t->err, -errno, "getxattr %s: %s", name, strerror(errno));
	tt_escape(esc, sizeof(esc), name, strlen(name));
	if (na != nb || memcmp(t->ba, t->bb, (size_t)na) != 0)
		tc_diff(t, "xattr %s: value differs (A %zd bytes, B %zd bytes)", esc, na, nb);
	return 0;
}

static int tc_xattrs(struct tc *t, int da, int db, const char *name)
{
	char pa[PATH_MAX], pb[PATH_MAX], esc[TC_ESC], *la = NULL, *lb = NULL;
	ssize_t na, nb;
	int r;

	if ((r = tc_xpath(pa, sizeof(pa), da, name)) < 0 ||
	    (r = tc_xpath(pb, sizeof(pb), db, name)) < 0)
		return err_set(&t->err, r, "path too long");
	la = malloc(TC_XATTR_LIST);
	lb = malloc(TC_XATTR_LIST);
	r = -ENOMEM;
	if (!la || !lb)
		goto fail;
	r = (int)(na = tc_xlist(t, pa, la));
	if (na < 0)
		goto fail;
	r = (int)(nb = tc_xlist(t, pb, lb));
	if (nb < 0)
		goto fail;
	r = 0;
	for (ssize_t o = 0; o < na && r == 0; o += (ssize_t)strlen(la + o) + 1) {
		tt_escape(esc, sizeof(esc), la + o, strlen(la + o));
		if (!tc_xhas(lb, nb, la + o))
			tc_diff(t, "xattr %s: only in A", esc);
		else
			r = tc_xvalue(t, pa, pb, la + o);
	}
	for (ssize_t o = 0; o < nb; o += (ssize_t)strlen(lb + o) + 1) {
		tt_escape(esc, sizeof(esc), lb + o, strlen(lb + o));
		if (!tc_xhas(la, na, lb + o))
			tc_diff(t, "xattr %s: only in B", esc);
	}
fail:
	free(la);
	free(lb);
	return r;
}

static int tc_symlink(struct tc *t, int da, int db, const char *name)
{
	char a[PATH_MAX + 1], b[PATH_MAX + 1], ea[TC_ESC], eb[TC_ESC];
	ssize_t na = readlinkat(da, name, a, sizeof(a));
	ssize_t nb = readlinkat(db, name, b, sizeof(b));

	if (na < 0 || nb < 0)
		return err_set(&t->err, -errno, "readlink: %s", strerror(errno));
	if (na != nb || memcmp(a, b, (size_t)na) != 0) {
		tt_escape(ea, sizeof(ea), a, (size_t)na);
		tt_escape(eb, sizeof(eb), b, (size_t)nb);
		tc_diff(t, "symlink target: A=%s B=%s", ea, eb);
	}
	return 0;
}

/* Prefer O_NOATIME so comparing does not disturb the atimes it compares next time. */
static int tc_open(int dfd, const char *name, int flags)
{
	int fd = openat(dfd, name, flags | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Next offset at or after off that may hold data (size when only a hole follows). */
static off_t tc_next_data(int fd, off_t off, off_t size)
{
	off_t d = lseek(fd, off, SEEK_DATA);

	return d < 0 || d > size ? size : d;
}

/* Ranges that are holes in both files read as zeros on both sides: skip them. */
static int tc_compare_fds(struct tc *t, int fa, int fb, off_t size)
{
	off_t off = 0;

	while (off < size) {
		off_t da = tc_next_data(fa, off, size), db = tc_next_data(fb, off, size);
		size_t n;
		ssize_t na, nb;

		off = da < db ? da : db;
		if (off >= size)
			break;
		n = size - off < TC_BLOCK ? (size_t)(size - off) : TC_BLOCK;
		na = pread_full(fa, t->ba, n, off);
		nb = pread_full(fb, t->bb, n, off);
		if (na < 0 || nb < 0)
			return (int)(na < 0 ? na : nb);
		if (na != nb || memcmp(t->ba, t->bb, (size_t)na) != 0) {
			size_t i = 0;

			while (i < (size_t)na && i < (size_t)nb && t->ba[i] == t->bb[i])
				i++;
			tc_diff(t, "content: first difference at byte %llu",
			        (unsigned long long)off + i);
			return 0;
		}
		if (na == 0)
			break;
		off += na;
	}
	return 0;
}

static int tc_content(struct tc *t, int da, int db, const char *name, off_t size)
{
	int fa = -1, fb = -1, r;

	r = fa = tc_open(da, name, O_RDONLY);
	if (r < 0)
		goto fail;
	r = fb = tc_open(db, name, O_RDONLY);
	if (r < 0)
		goto fail;
	r = tc_compare_fds(t, fa, fb, size);
fail:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	if (r < 0)
		return err_set(&t->err, r, "read: %s", strerror(-r));
	return 0;
}

/* A file with holes in A must not come back (much) fuller in B: a restore that writes
 * the zeros would turn a 1 GiB sparse image into 1 GiB on disk. */
static void tc_sparse(struct tc *t, const struct stat *a, const struct stat *b)
{
	uint64_t aa = (uint64_t)a->st_blocks * 512, ab = (uint64_t)b->st_blocks * 512;

	if (aa >= (uint64_t)a->st_size)
		return;
	t->sparse_files++;
	if (ab > 2 * aa + TC_BLOCK)
		tc_diff(t, "sparse: A allocates %llu of %lld bytes, B allocates %llu",
		        (unsigned long long)aa, (long long)a->st_size, (unsigned long long)ab);
}

static int tc_link_add(struct tc *t, const struct stat *a, const struct stat *b)
{
	struct tc_link *l;

	if (t->n_links == t->cap_links) {
		size_t cap = t->cap_links ? 2 * t->cap_links : 64;

		l = reallocarray(t->links, cap, sizeof(*l));
		if (!l)
			return err_set(&t->err, -ENOMEM, "out of memory");
		t->links = l;
		t->cap_links = cap;
	}
	l = &t->links[t->n_links];
	*l = (struct tc_link){ a->st_dev, b->st_dev, a->st_ino, b->st_ino, NULL };
	l->path = strdup((const char *)t->path.p);
	if (!l->path)
		return err_set(&t->err, -ENOMEM, "out of memory");
	t->n_links++;
	return 0;
}

int tc_entry(struct tc *t, int da, int db, const char *name, const struct stat *sa,
             const struct stat *sb, bool is_root)
{
	int r = 0;

	t->entries++;
	if ((sa->st_mode & S_IFMT) != (sb->st_mode & S_IFMT)) {
		tc_diff(t, "type: A=%s B=%s", tc_type(sa->st_mode), tc_type(sb->st_mode));
		return 0;
	}
	tc_stat(t, sa, sb, is_root);
	if (!t->o.no_xattr && (r = tc_xattrs(t, da, db, name)) < 0)
		return r;
	if (S_ISLNK(sa->st_mode) && (r = tc_symlink(t, da, db, name)) < 0)
		return r;
	if (S_ISREG(sa->st_mode) && sa->st_size == sb->st_size) {
		if ((r = tc_content(t, da, db, name, sa->st_size)) < 0)
			return r;
		tc_sparse(t, sa, sb);
	}
	if (!S_ISDIR(sa->st_mode) && (sa->st_nlink > 1 || sb->st_nlink > 1) &&
	    (r = tc_link_add(t, sa, sb)) < 0)
		return r;
	return S_ISDIR(sa->st_mode) ? 1 : 0;
}
