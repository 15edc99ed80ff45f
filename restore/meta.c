/* Owns metadata application, in the only order that sticks: owner (which clears setuid),
 * then mode, then xattrs (an ACL xattr also sets the group bits), then times. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/banned.h"

static void times_of(const struct node *n, struct timespec ts[2])
{
	ts[0].tv_sec = (time_t)n->atime_sec;
	ts[0].tv_nsec = n->atime_nsec;
	ts[1].tv_sec = (time_t)n->mtime_sec;
	ts[1].tv_nsec = n->mtime_nsec;
}

void rs_apply_fd(struct rs *s, int fd, const struct node *n, const char *path)
{
	struct timespec ts[2];

	if (s->owners && fchown(fd, n->uid, n->gid) < 0)
		rs_warn(s, -errno, "%s: cannot set owner: %s", path, strerror(errno));
	if (fchmod(fd, n->mode & 07777) < 0)
		rs_warn(s, -errno, "%s: cannot set mode: %s", path, strerror(errno));
	for (size_t i = 0; i < n->n_xattrs; i++)
		if (fsetxattr(fd, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) < 0)
			rs_warn(s, -errno, "%s: cannot set xattr %s: %s", path, n->xattrs[i].name,
				strerror(errno));
	times_of(n, ts);
	if (futimens(fd, ts) < 0)
		rs_warn(s, -errno, "%s: cannot set times: %s", path, strerror(errno));
}

void rs_apply_at(struct rs *s, int dirfd, const char *name, const struct node *n,
		 const char *path)
{
	char proc[64 + 4096];
	struct timespec ts[2];
	bool link = n->type == NODE_SYMLINK;

	if (s->owners && fchownat(dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
		rs_warn(s, -errno, "%s: cannot set owner: %s", path, strerror(errno));
	/* Symlink modes are fixed by the kernel; there is nothing to apply. */
	if (!link && fchmodat(dirfd, name, n->mode & 07777, 0) < 0)
		rs_warn(s, -errno, "%s: cannot set mode: %s", path, strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	for (size_t i = 0; i < n->n_xattrs; i++)
		if (lsetxattr(proc, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) < 0)
			rs_warn(s, -errno, "%s: cannot set xattr %s: %s", path, n->xattrs[i].name,
				strerror(errno));
	times_of(n, ts);
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		rs_warn(s, -errno, "%s: cannot set times: %s", path, strerror(errno));
}
