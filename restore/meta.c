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

mode_t rs_mode(struct rs *s, const struct node *n, const char *path)
{
	mode_t m = n->mode & 07777;

	if (s->o->keep_privileges || n->type == NODE_DIR || !(m & (S_ISUID | S_ISGID)))
		return m;
	if (path) {
		atomic_fetch_add(&s->dropped, 1);
		if (!atomic_exchange(&s->noted_setid, true))
			rs_note(s, path,
			        "%s: setuid/setgid bits not restored (a repository every node writes "
			        "could plant a setuid-root program); --keep-privileges restores them; "
			        "further ones are counted",
			        path);
	}
	return m & ~(mode_t)(S_ISUID | S_ISGID);
}

/* Whether xattr name may be set: user.* and POSIX ACLs always; the rest (security.*,
 * trusted.*, other system.*) grant capabilities or labels, and only with keep_privileges.
 * A label copied from another node may also deny the pod its own volume. */
static bool xattr_kept(struct rs *s, const char *name, const char *path)
{
	if (s->o->keep_privileges || strncmp(name, "user.", 5) == 0 ||
	    strcmp(name, "system.posix_acl_access") == 0 ||
	    strcmp(name, "system.posix_acl_default") == 0)
		return true;
	atomic_fetch_add(&s->dropped, 1);
	if (!atomic_exchange(&s->noted_xattr, true))
		rs_note(s, path,
		        "%s: xattr %s not restored: only user.* and ACLs are by default "
		        "(--keep-privileges restores the rest); further ones are counted",
		        path, name);
	return false;
}

static int lsetxattr_at(int dirfd, const char *name, const struct xattr *x)
{
	char p[64 + NAME_MAX + 1];

	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dirfd, name);
	return lsetxattr(p, x->name, x->value, x->len, 0);
}

void rs_apply_fd(struct rs *s, int fd, const struct node *n, const char *path)
{
	struct timespec ts[2];

	if (s->owners && fchown(fd, n->uid, n->gid) < 0)
		rs_warn(s, path, -errno, "%s: cannot set owner: %s", path, strerror(errno));
	if (fchmod(fd, rs_mode(s, n, path)) < 0)
		rs_warn(s, path, -errno, "%s: cannot set mode: %s", path, strerror(errno));
	for (size_t i = 0; i < n->n_xattrs; i++)
		if (xattr_kept(s, n->xattrs[i].name, path) &&
		    fsetxattr(fd, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) < 0)
			rs_warn(s, path, -errno, "%s: cannot set xattr %s: %s", path,
			        n->xattrs[i].name, strerror(errno));
	times_of(n, ts);
	if (futimens(fd, ts) < 0)
		rs_warn(s, path, -errno, "%s: cannot set times: %s", path, strerror(errno));
}

static mode_t kind_of(enum node_type t)
{
	switch (t) {
	case NODE_SYMLINK:
		return S_IFLNK;
	case NODE_FIFO:
		return S_IFIFO;
	case NODE_CHR:
		return S_IFCHR;
	case NODE_BLK:
		return S_IFBLK;
	case NODE_SOCK:
		return S_IFSOCK;
	default:
		return 0;
	}
}

/* Anyone who can write the target may swap the name for a symlink between its creation
 * and here, so nothing below resolves the name again: everything goes through one
 * O_PATH fd, and the /proc path of that fd (which chmod and setxattr follow to the
 * inode itself) is used only once fstat proved the inode is not a symlink. */
void rs_apply_at(struct rs *s, int dirfd, const char *name, const struct node *n, const char *path)
{
	char proc[64];
	struct timespec ts[2];
	struct stat st;
	bool link = n->type == NODE_SYMLINK;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		rs_warn(s, path, -errno, "%s: cannot set metadata: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != kind_of(n->type)) {
		rs_warn(s, path, -EEXIST, "%s: replaced while being restored; metadata not set",
		        path);
		goto done;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (s->owners && fchownat(fd, "", n->uid, n->gid, AT_EMPTY_PATH) < 0)
		rs_warn(s, path, -errno, "%s: cannot set owner: %s", path, strerror(errno));
	/* Symlink modes are fixed by the kernel; there is nothing to apply. */
	if (!link && chmod(proc, rs_mode(s, n, path)) < 0)
		rs_warn(s, path, -errno, "%s: cannot set mode: %s", path, strerror(errno));
	for (size_t i = 0; i < n->n_xattrs; i++) {
		const struct xattr *x = &n->xattrs[i];
		int r;

		if (!xattr_kept(s, x->name, path))
			continue;
		/* A symlink's own xattrs: lsetxattr on the name does not follow it. */
		r = link ? lsetxattr_at(dirfd, name, x) : setxattr(proc, x->name, x->value, x->len, 0);
		if (r < 0)
			rs_warn(s, path, -errno, "%s: cannot set xattr %s: %s", path, x->name,
			        strerror(errno));
	}
	times_of(n, ts);
	if ((link ? utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW)
	          : utimensat(AT_FDCWD, proc, ts, 0)) < 0)
		rs_warn(s, path, -errno, "%s: cannot set times: %s", path, strerror(errno));
done:
	close(fd);
}
