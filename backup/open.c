/* Owns opening entries of an untrusted tree: pods write the volumes while the agent (root)
 * reads them, so the name that was stat'ed may point at something else by the time it is
 * opened. Entries are pinned with O_PATH (which opens no device and blocks on no FIFO),
 * checked against the stat, and only then opened for reading through that pin. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "util/banned.h"

void (*bk_test_before_open)(int dirfd, const char *name);

static bool same_inode(const struct stat *a, const struct stat *b)
{
	if (a->st_dev != b->st_dev || a->st_ino != b->st_ino ||
	    (a->st_mode & S_IFMT) != (b->st_mode & S_IFMT))
		return false;
	/* A freed inode number is reused at once (ext4), so a link replaced by another link
	 * can look the same. Links never change in place: any other length or ctime is
	 * another link. (Files do change in place; their reads check size and mtime.) */
	return !S_ISLNK(a->st_mode) ||
	       (a->st_size == b->st_size && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	        a->st_ctim.tv_nsec == b->st_ctim.tv_nsec);
}

/* 0 same, 1 another inode, or -errno. */
static int check_fd(int fd, const struct stat *st)
{
	struct stat now;

	if (fstat(fd, &now) < 0)
		return -errno;
	return same_inode(&now, st) ? 0 : 1;
}

/* Reopen the pinned inode for reading. O_NONBLOCK and O_NOCTTY guard the fallback below,
 * which opens by name again; O_NOATIME keeps the source's atimes (and our next run's ctime
 * check) intact but is refused for files we do not own unless privileged. *ret_by_name says
 * the fallback was used (the caller must check the inode again); *ret_fl holds the file
 * status flags set, so clearing O_NONBLOCK needs no F_GETFL. */
static int reopen(int pin, int dirfd, const char *name, bool dir, bool *ret_by_name, int *ret_fl)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (dir ? O_DIRECTORY : 0);
	char proc[64];
	int fd;

	*ret_by_name = false;
	*ret_fl = O_NONBLOCK | O_NOATIME;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pin);
	fd = open(proc, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM) {
		fd = open(proc, flags);
		*ret_fl = O_NONBLOCK;
	}
	if (fd < 0 && errno == ENOENT) {
		/* No /proc: by name, never following a link; the caller checks the inode. */
		*ret_by_name = true;
		*ret_fl = O_NONBLOCK | O_NOATIME;
		fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NOATIME);
		if (fd < 0 && errno == EPERM) {
			fd = openat(dirfd, name, flags | O_NOFOLLOW);
			*ret_fl = O_NONBLOCK;
		}
	}
	return fd < 0 ? -errno : fd;
}

int bk_open_entry(int dirfd, const char *name, const struct stat *st, int *ret_fd)
{
	bool dir = S_ISDIR(st->st_mode), by_name;
	int pin = -1, fd = -1, fl, rc;

	if (!S_ISREG(st->st_mode) && !dir && !S_ISLNK(st->st_mode)) {
		*ret_fd = -1; /* FIFOs, devices and sockets are recorded, never opened */
		return 0;
	}
	if (bk_test_before_open)
		bk_test_before_open(dirfd, name);
	pin = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pin < 0)
		return -errno;
	rc = check_fd(pin, st);
	if (rc != 0 || S_ISLNK(st->st_mode))
		goto out; /* a symlink is read through its pin (readlinkat with "") */
	fd = reopen(pin, dirfd, name, dir, &by_name, &fl);
	if (fd < 0) {
		/* The name became a symlink, a non-directory, or a FIFO without a writer. */
		rc = fd == -ELOOP || fd == -ENOTDIR || fd == -ENXIO ? 1 : fd;
		fd = -1;
		goto out;
	}
	/* Through /proc the magic link is the pinned (checked) inode itself: no second stat
	 * (two syscalls of the dozen a small file costs). By name it may be another one. */
	rc = by_name ? check_fd(fd, st) : 0;
	/* Regular files read like any other once they are known to be regular. */
	if (rc == 0 && !dir && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		rc = -errno;
	close(pin);
	pin = fd;
	fd = -1;
out:
	if (rc == 0) {
		*ret_fd = pin;
		return 0;
	}
	close(pin);
	return rc;
}
