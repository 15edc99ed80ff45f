/* Owns the directory backend: objects are files, written via temp + fsync + rename
 * (or an O_TMPFILE linked into place), so a crash never leaves a partial object. */
#include "repo/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"
#include "util/hex.h"
#include "util/vec.h"

struct backend_local {
	struct backend be;
	int dirfd;
	char *path;
};

#define BL(be) ((struct backend_local *)(be))
/* A folder that does not exist holds no objects; every access is -ENOENT. */
#define NEED_DIR(be, e)                                                                  \
	do {                                                                             \
		if (BL(be)->dirfd < 0)                                                   \
			return err_set(e, -ENOENT, "%s: no such folder", (be)->where);   \
	} while (0)

static int obj_path(enum obj_type t, const char *name, char *out, size_t n)
{
	int k;

	if (t == OBJ_CONFIG)
		k = snprintf(out, n, "config");
	else if (!name || !name[0] || !hex_valid(name, 0) || strlen(name) < 2)
		return -EINVAL; /* names are hex: no '/', no "..", nothing to escape */
	else if (t == OBJ_DATA)
		k = snprintf(out, n, "data/%.2s/%s", name, name);
	else
		k = snprintf(out, n, "%s/%s", obj_type_dir(t), name);
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int fs_err(struct backend *be, struct err *e, int r, const char *what, const char *p)
{
	if (r == -EROFS || r == -EACCES || r == -EPERM)
		return err_set(e, -EROFS, "%s: %s %s: location is read-only (%s)", be->where, what,
			       p, strerror(-r));
	if (r == -ENOSPC || r == -EDQUOT)
		return err_set(e, -ENOSPC, "%s: %s %s: no space left on the repository's disk",
			       be->where, what, p);
	return err_set(e, r, "%s: %s %s: %s", be->where, what, p, strerror(-r));
}

static int local_create(struct backend *be, struct err *e)
{
	static const enum obj_type dirs[] = { OBJ_KEY, OBJ_DATA, OBJ_INDEX, OBJ_SNAPSHOT,
					      OBJ_LOCK };
	struct backend_local *bl = BL(be);
	char p[PATH_MAX];
	int r;

	if (bl->dirfd < 0) {
		r = mkdir_p(bl->path, 0700);
		if (r < 0)
			return fs_err(be, e, r, "create", bl->path);
		bl->dirfd = open(bl->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (bl->dirfd < 0)
			return fs_err(be, e, -errno, "open", bl->path);
	}
	if (faccessat(bl->dirfd, "config", F_OK, 0) == 0)
		return err_set(e, -EEXIST, "%s: a repository already exists here", be->where);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdirat(bl->dirfd, obj_type_dir(dirs[i]), 0700) < 0 && errno != EEXIST)
			return fs_err(be, e, -errno, "create", obj_type_dir(dirs[i]));
	for (int i = 0; i < 256; i++) {
		snprintf(p, sizeof(p), "data/%02x", i);
		if (mkdirat(bl->dirfd, p, 0700) < 0 && errno != EEXIST)
			return fs_err(be, e, -errno, "create", p);
	}
	r = fsync_dir_at(bl->dirfd, ".");
	return r < 0 ? fs_err(be, e, r, "sync", ".") : 0;
}

static int local_put(struct backend *be, enum obj_type t, const char *name, const void *p,
		     size_t n, struct err *e)
{
	char path[PATH_MAX];
	int r;

	NEED_DIR(be, e);
	r = obj_path(t, name, path, sizeof(path));
	if (r < 0)
		return err_set(e, r, "bad object name");
	r = write_atomic_at(BL(be)->dirfd, path, p, n, 0600);
	return r < 0 ? fs_err(be, e, r, "write", path) : 0;
}

/* Write a temp file, then link() it to the name: link fails with EEXIST when the name is
 * taken, so two creators cannot both succeed (rename would let the second replace). */
static int local_put_new(struct backend *be, enum obj_type t, const char *name, const void *p,
			 size_t n, struct err *e)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32], dir[PATH_MAX];
	const char *slash;
	uint8_t rnd[8];
	char hex[17];
	int fd, r;

	NEED_DIR(be, e);
	r = obj_path(t, name, path, sizeof(path));
	if (r < 0)
		return err_set(e, r, "bad object name");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return err_set(e, -EIO, "no randomness for a temp name");
	hex_encode(rnd, sizeof(rnd), hex);
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	snprintf(tmp, sizeof(tmp), "%s/.tmp-new-%s", dir, hex);
	fd = openat(BL(be)->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fs_err(be, e, -errno, "create", tmp);
	r = write_full(fd, p, n);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && linkat(BL(be)->dirfd, tmp, BL(be)->dirfd, path, 0) < 0)
		r = -errno;
	unlinkat(BL(be)->dirfd, tmp, 0);
	if (r == -EEXIST)
		return err_set(e, -EEXIST, "%s: %s exists already", be->where, path);
	if (r >= 0)
		r = fsync_dir_at(BL(be)->dirfd, dir);
	return r < 0 ? fs_err(be, e, r, "write", path) : 0;
}

static int local_tmpfile(struct backend *be, int *ret_fd, struct err *e)
{
	int fd = openat(BL(be)->dirfd, "data", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	NEED_DIR(be, e);
	if (fd < 0)
		return fs_err(be, e, -errno, "create temp file in", "data");
	*ret_fd = fd;
	return 0;
}

static int copy_fd(struct backend *be, int fd, uint64_t n, const char *path, struct err *e)
{
	struct buf b = BUF_INIT;
	int r;

	buf_init(&b, n);
	r = buf_reserve(&b, n);
	if (r < 0)
		return err_set(e, r, "spool of %llu bytes", (unsigned long long)n);
	r = (int)pread_full(fd, b.p, n, 0);
	if (r >= 0)
		r = write_atomic_at(BL(be)->dirfd, path, b.p, n, 0600);
	buf_release(&b);
	return r < 0 ? fs_err(be, e, r, "write", path) : 0;
}

static int local_put_fd(struct backend *be, enum obj_type t, const char *name, int fd,
			uint64_t n, struct err *e)
{
	char path[PATH_MAX], proc[64], dir[PATH_MAX];
	struct stat st;
	int r;

	NEED_DIR(be, e);
	r = obj_path(t, name, path, sizeof(path));
	if (r < 0)
		return err_set(e, r, "bad object name");
	if (fstat(fd, &st) < 0)
		return fs_err(be, e, -errno, "stat spool for", path);
	/* An O_TMPFILE of exactly n bytes on our filesystem is linked in: no copy at all. */
	if ((uint64_t)st.st_size == n && st.st_nlink == 0) {
		if (fsync(fd) < 0)
			return fs_err(be, e, -errno, "sync", path);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, BL(be)->dirfd, path, AT_SYMLINK_FOLLOW) == 0 ||
		    errno == EEXIST) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
			r = fsync_dir_at(BL(be)->dirfd, dir);
			return r < 0 ? fs_err(be, e, r, "sync", dir) : 0;
		}
		if (errno != EXDEV && errno != ENOENT)
			return fs_err(be, e, -errno, "link", path);
	}
	return copy_fd(be, fd, n, path, e);
}

static int local_get(struct backend *be, enum obj_type t, const char *name, uint64_t off,
		     uint64_t n, struct buf *out, struct err *e)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t k;
	int fd, r;

	NEED_DIR(be, e);
	r = obj_path(t, name, path, sizeof(path));
	if (r < 0)
		return err_set(e, r, "bad object name");
	fd = openat(BL(be)->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fs_err(be, e, -errno, "open", path);
	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r < 0)
		goto fail;
	if (off > (uint64_t)st.st_size || (n && n > (uint64_t)st.st_size - off)) {
		r = err_set(e, -EBADMSG, "%s: object %s is truncated (%llu bytes)", be->where, path,
			    (unsigned long long)st.st_size);
		goto fail;
	}
	if (!n)
		n = (uint64_t)st.st_size - off;
	if (!n) {
		r = 0; /* an empty object: nothing to append */
		goto fail;
	}
	r = n > SIZE_MAX ? -EFBIG : buf_reserve(out, (size_t)n);
	if (r < 0) {
		r = err_set(e, r, "%s: object %s too large (%llu bytes)", be->where, path,
			    (unsigned long long)n);
		goto fail;
	}
	k = pread_full(fd, out->p + out->len, (size_t)n, (off_t)off);
	if (k < 0) {
		r = fs_err(be, e, (int)k, "read", path);
		goto fail;
	}
	if ((uint64_t)k != n) {
		r = err_set(e, -EBADMSG, "%s: object %s is truncated", be->where, path);
		goto fail;
	}
	out->len += (size_t)n;
	r = 0;
fail:
	close(fd);
	return r;
}

/* stat and mtime: one lookup of an object's inode; a missing object is a bare -ENOENT
 * (callers probe for it), anything else is an error with the path. */
static int obj_stat(struct backend *be, enum obj_type t, const char *name, struct stat *st,
		    struct err *e)
{
	char path[PATH_MAX];
	int r = obj_path(t, name, path, sizeof(path));

	NEED_DIR(be, e);
	if (r < 0)
		return err_set(e, r, "bad object name");
	if (fstatat(BL(be)->dirfd, path, st, 0) < 0)
		return errno == ENOENT ? -ENOENT : fs_err(be, e, -errno, "stat", path);
	return 0;
}

static int local_stat(struct backend *be, enum obj_type t, const char *name, uint64_t *ret_size,
		      struct err *e)
{
	struct stat st;
	int r = obj_stat(be, t, name, &st, e);

	if (r == 0)
		*ret_size = (uint64_t)st.st_size;
	return r;
}

static int local_mtime(struct backend *be, enum obj_type t, const char *name, int64_t *ret_sec,
		       struct err *e)
{
	struct stat st;
	int r = obj_stat(be, t, name, &st, e);

	if (r == 0)
		*ret_sec = (int64_t)st.st_mtim.tv_sec;
	return r;
}

static int local_del(struct backend *be, enum obj_type t, const char *name, struct err *e)
{
	char path[PATH_MAX];
	int r = obj_path(t, name, path, sizeof(path));

	NEED_DIR(be, e);
	if (r < 0)
		return err_set(e, r, "bad object name");
	if (unlinkat(BL(be)->dirfd, path, 0) < 0 && errno != ENOENT)
		return fs_err(be, e, -errno, "delete", path);
	return 0;
}

/* The entries list_dir found in place of objects, for list_aside to move once the folder is
 * read (renaming while readdir walks the folder could show an entry twice). */
struct odd_names {
	char (*v)[NAME_MAX + 1];
	size_t n, cap;
};

static int list_dir(struct backend *be, const char *dir, bool strict, backend_list_fn fn,
		    void *ud, struct odd_names *odd, struct err *e)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, r = 0;

	fd = openat(BL(be)->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : fs_err(be, e, -errno, "list", dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return fs_err(be, e, -errno, "list", dir);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !hex_valid(de->d_name, 0))
			continue; /* temp files and strangers are not objects */
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue; /* deleted since readdir */
		if (!S_ISREG(st.st_mode) && !strict)
			continue;
		if (!S_ISREG(st.st_mode) && odd) {
			if (VEC_RESERVE1(odd->v, odd->cap, odd->n, 4)) {
				r = err_set(e, -ENOMEM, "out of memory");
				break;
			}
			memcpy(odd->v[odd->n++], de->d_name, strlen(de->d_name) + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			/* Skipping it would hide a lost snapshot, index or pack from check, and
			 * let prune delete the data it named: the store is damaged, say so. A
			 * key or lock that is not a file is skipped: other keys still open. */
			r = err_set(e, -EBADMSG, "%s: %s/%s is not a regular file", be->where, dir,
				    de->d_name);
			break;
		}
		r = fn(ud, de->d_name, (uint64_t)st.st_size);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int local_list(struct backend *be, enum obj_type t, backend_list_fn fn, void *ud,
		      struct err *e)
{
	char dir[16];
	int r;

	NEED_DIR(be, e);
	if (t != OBJ_DATA)
		return list_dir(be, obj_type_dir(t), t != OBJ_KEY && t != OBJ_LOCK, fn, ud, NULL,
				e);
	for (int i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "data/%02x", i);
		r = list_dir(be, dir, true, fn, ud, NULL, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* mkdir that finds the folder there already content. */
static int mkdir_at(struct backend *be, const char *path, struct err *e)
{
	if (mkdirat(BL(be)->dirfd, path, 0700) < 0 && errno != EEXIST)
		return fs_err(be, e, -errno, "create", path);
	return 0;
}

/* dir/name to aside/dir/name, or aside/dir/name.N when taken: renameat2's NOREPLACE, so
 * nothing set aside before is ever replaced. */
static int move_aside(struct backend *be, const char *dir, const char *name, char *where,
		      size_t n, struct err *e)
{
	char from[PATH_MAX], aside[PATH_MAX];
	int k, r;

	k = snprintf(aside, sizeof(aside), "aside/%s", dir);
	if (k < 0 || (size_t)k >= sizeof(aside) ||
	    (k = snprintf(from, sizeof(from), "%s/%s", dir, name)) < 0 ||
	    (size_t)k >= sizeof(from))
		return err_set(e, -ENAMETOOLONG, "%s: %s/%s: name too long", be->where, dir, name);
	r = mkdir_at(be, "aside", e);
	if (r >= 0)
		r = mkdir_at(be, aside, e);
	for (int i = 0; r >= 0 && i < 100; i++) {
		k = i ? snprintf(where, n, "%s/%s.%d", aside, name, i)
		      : snprintf(where, n, "%s/%s", aside, name);
		if (k < 0 || (size_t)k >= n)
			return err_set(e, -ENAMETOOLONG, "%s: %s: name too long", be->where, from);
		if (renameat2(BL(be)->dirfd, from, BL(be)->dirfd, where, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return fs_err(be, e, -errno, "move aside", from);
	}
	return r < 0 ? r : err_set(e, -EEXIST, "%s: %s: aside/ is full", be->where, from);
}

static int local_list_aside(struct backend *be, enum obj_type t, bool dry_run, backend_list_fn fn,
			    backend_aside_fn aside, void *ud, struct err *e)
{
	struct odd_names odd = { 0 };
	char where[PATH_MAX];
	int r;

	NEED_DIR(be, e);
	/* Data and keys already go past strangers, or list them per shard: only the
	 * unsharded folders that refuse them need this. */
	if (t == OBJ_DATA || t == OBJ_KEY || t == OBJ_LOCK)
		return local_list(be, t, fn, ud, e);
	r = list_dir(be, obj_type_dir(t), true, fn, ud, &odd, e);
	for (size_t i = 0; r >= 0 && i < odd.n; i++) {
		where[0] = 0;
		if (!dry_run)
			r = move_aside(be, obj_type_dir(t), odd.v[i], where, sizeof(where), e);
		if (r >= 0)
			r = aside(ud, odd.v[i], where);
	}
	free(odd.v);
	return r;
}

/* The ".tmp-" files of write_atomic_at and local_put_new in one folder. */
static ssize_t sweep_dir(struct backend *be, const char *dir, int64_t before)
{
	struct dirent *de;
	struct stat st;
	ssize_t n = 0;
	DIR *d;
	int fd;

	fd = openat(BL(be)->dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= before)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static ssize_t local_sweep_tmp(struct backend *be, int64_t before)
{
	static const enum obj_type types[] = { OBJ_KEY, OBJ_INDEX, OBJ_SNAPSHOT, OBJ_LOCK };
	char dir[16];
	ssize_t n = 0;

	if (BL(be)->dirfd < 0)
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		n += sweep_dir(be, obj_type_dir(types[i]), before);
	for (int i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "data/%02x", i);
		n += sweep_dir(be, dir, before);
	}
	return n;
}

/* One by one: unlinks are cheap and a directory has no batch call. */
static int local_del_many(struct backend *be, enum obj_type t, const char *const *names, size_t n,
			  struct err *e)
{
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++)
		r = local_del(be, t, names[i], e);
	return r;
}

static void local_free(struct backend *be)
{
	struct backend_local *bl = BL(be);

	if (bl->dirfd >= 0)
		close(bl->dirfd);
	free(bl->path);
	free(bl);
}

static const struct backend_ops local_ops = {
	.scheme = "local",
	.create = local_create,
	.put = local_put,
	.put_fd = local_put_fd,
	.tmpfile = local_tmpfile,
	.get = local_get,
	.stat = local_stat,
	.del = local_del,
	.del_many = local_del_many,
	.list = local_list,
	.list_aside = local_list_aside,
	.free = local_free,
	.mtime = local_mtime,
	.put_new = local_put_new,
	.sweep_tmp = local_sweep_tmp,
};

int backend_local_open(const char *path, const struct backend_options *o, struct backend **ret,
		       struct err *e)
{
	struct backend_local *bl;
	int r;

	bl = calloc(1, sizeof(*bl));
	if (!bl)
		return -ENOMEM;
	bl->be.ops = &local_ops;
	bl->dirfd = -1;
	snprintf(bl->be.where, sizeof(bl->be.where), "%s", path);
	bl->path = strdup(path);
	if (!bl->path) {
		r = -ENOMEM;
		goto fail;
	}
	/* Only init may create the folder (in local_create); a missing one stays -1 so a
	 * mistyped path writes nothing and reads as "not a repository". */
	bl->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bl->dirfd < 0 && errno != ENOENT) {
		r = fs_err(&bl->be, e, -errno, "open", "repository folder");
		goto fail;
	}
	*ret = &bl->be;
	return 0;
fail:
	local_free(&bl->be);
	return r;
}
