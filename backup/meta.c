/* Owns metadata capture: stat fields, owner names, symlink targets, xattrs (POSIX ACLs
 * are the system.posix_acl_* xattrs), all read without following the entry itself. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/banned.h"

#define XATTR_LIST_MAX  (64u * 1024)
#define XATTR_VALUE_MAX (64u * 1024)

static enum node_type type_of(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return NODE_FILE;
	case S_IFDIR:
		return NODE_DIR;
	case S_IFLNK:
		return NODE_SYMLINK;
	case S_IFIFO:
		return NODE_FIFO;
	case S_IFCHR:
		return NODE_CHR;
	case S_IFBLK:
		return NODE_BLK;
	case S_IFSOCK:
		return NODE_SOCK;
	default:
		return _NODE_TYPE_INVALID;
	}
}

/* Name lookups hit NSS (files, maybe LDAP): cache the few owners a volume has. */
static char *owner_name(struct bk *b, uint32_t id, bool group)
{
	char buf[4096], *out = NULL;
	struct owner_name *slot;

	for (size_t i = 0; i < b->n_names; i++)
		if (b->names[i].id == id && b->names[i].group == group)
			return b->names[i].name[0] ? strdup(b->names[i].name) : NULL;
	slot = &b->names[b->n_names < NAME_CACHE_SIZE ? b->n_names++ : id % NAME_CACHE_SIZE];
	slot->id = id;
	slot->group = group;
	slot->name[0] = 0;
	if (group) {
		struct group g, *res = NULL;

		if (getgrgid_r(id, &g, buf, sizeof(buf), &res) == 0 && res)
			snprintf(slot->name, sizeof(slot->name), "%s", g.gr_name);
	} else {
		struct passwd p, *res = NULL;

		if (getpwuid_r(id, &p, buf, sizeof(buf), &res) == 0 && res)
			snprintf(slot->name, sizeof(slot->name), "%s", p.pw_name);
	}
	if (slot->name[0])
		out = strdup(slot->name);
	return out;
}

/* Where xattrs are read from: an open descriptor, or a path whose last component is not
 * followed (entries that are not opened: FIFOs, devices, sockets, symlinks). */
struct xsrc {
	int fd;
	const char *path;
};

static ssize_t x_list(const struct xsrc *x, char *list, size_t n)
{
	return x->fd >= 0 ? flistxattr(x->fd, list, n) : llistxattr(x->path, list, n);
}

static ssize_t x_get(const struct xsrc *x, const char *name, void *v, size_t n)
{
	return x->fd >= 0 ? fgetxattr(x->fd, name, v, n) : lgetxattr(x->path, name, v, n);
}

static int read_xattrs(struct bk *b, const struct xsrc *src, struct node *n)
{
	char list[XATTR_LIST_MAX];
	uint8_t val[XATTR_VALUE_MAX];
	ssize_t len, vl;
	size_t count = 0;

	len = x_list(src, list, sizeof(list));
	if (len < 0)
		return errno == ENOTSUP || errno == ENODATA ? 0 : -errno;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		count++;
	if (!count)
		return 0;
	n->xattrs = calloc(count, sizeof(*n->xattrs));
	if (!n->xattrs)
		return -ENOMEM;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1) {
		struct xattr *x = &n->xattrs[n->n_xattrs];

		vl = x_get(src, list + i, val, sizeof(val));
		if (vl < 0) {
			if (errno == ENODATA)
				continue; /* removed between list and get */
			bk_warn(b, -errno, "%s: xattr %s: %s", b->path, list + i, strerror(errno));
			continue;
		}
		x->name = strdup(list + i);
		x->value = malloc(vl ? (size_t)vl : 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			return -ENOMEM;
		}
		memcpy(x->value, val, (size_t)vl);
		x->len = (size_t)vl;
		n->n_xattrs++;
	}
	return 0;
}

/* Same inode, same ctime: nothing in the inode changed since the parent snapshot, and
 * xattrs and link targets live in the inode. Copy them instead of asking the kernel. */
static bool inode_unchanged(const struct node *p, const struct node *n)
{
	return p && p->type == n->type && p->inode == n->inode && p->dev == n->dev &&
	       p->ctime_sec == n->ctime_sec && p->ctime_nsec == n->ctime_nsec;
}

static int copy_inode_data(const struct node *p, struct node *n)
{
	struct node tmp = { 0 };
	int rc;

	/* node_copy needs a name; borrow the parent's, then keep only target and xattrs. */
	rc = node_copy(p, &tmp);
	if (rc < 0)
		return rc;
	n->target = tmp.target;
	n->target_len = tmp.target_len;
	n->xattrs = tmp.xattrs;
	n->n_xattrs = tmp.n_xattrs;
	tmp.target = NULL;
	tmp.xattrs = NULL;
	tmp.n_xattrs = 0;
	node_release(&tmp);
	return 0;
}

int bk_node_stat(struct bk *b, const char *name, size_t name_len, const struct stat *st,
                 struct node *n)
{
	n->type = type_of(st->st_mode);
	if ((int)n->type < 0)
		return -EINVAL;
	n->name = malloc(name_len + 1);
	if (!n->name)
		return -ENOMEM;
	memcpy(n->name, name, name_len);
	n->name[name_len] = 0;
	n->name_len = name_len;
	n->mode = st->st_mode;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->user = owner_name(b, st->st_uid, false);
	n->group = owner_name(b, st->st_gid, true);
	n->mtime_sec = st->st_mtim.tv_sec;
	n->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	n->atime_sec = st->st_atim.tv_sec;
	n->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
	n->ctime_sec = st->st_ctim.tv_sec;
	n->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	n->size = n->type == NODE_FILE || n->type == NODE_SYMLINK ? (uint64_t)st->st_size : 0;
	n->inode = st->st_ino;
	n->dev = st->st_dev;
	n->nlink = st->st_nlink;
	n->rdev = n->type == NODE_CHR || n->type == NODE_BLK ? st->st_rdev : 0;
	return 0;
}

static int read_target(int dirfd, const char *name, int fd, struct node *n)
{
	char target[65536];
	/* Through the pinned O_PATH descriptor: the link that was checked, not whatever the
	 * name leads to now. */
	ssize_t tl = fd >= 0 ? readlinkat(fd, "", target, sizeof(target))
	                     : readlinkat(dirfd, name, target, sizeof(target));

	if (tl < 0)
		return -errno;
	/* The same check as bk_open_entry's when the name was read without a pin. */
	if ((uint64_t)tl != n->size)
		return -ESTALE;
	n->target = malloc((size_t)tl + 1);
	if (!n->target)
		return -ENOMEM;
	memcpy(n->target, target, (size_t)tl);
	n->target[tl] = 0;
	n->target_len = (size_t)tl;
	return 0;
}

int bk_node_extra(struct bk *b, int dirfd, const char *name, int fd, const struct node *parent,
                  struct node *n)
{
	char proc[64 + 4096];
	struct xsrc src = { .fd = -1, .path = proc };
	int rc;

	if (inode_unchanged(parent, n))
		return copy_inode_data(parent, n);
	if (n->type == NODE_SYMLINK) {
		rc = read_target(dirfd, name, fd, n);
		if (rc < 0)
			return rc;
	}
	/* An O_PATH descriptor (symlinks) has no xattr calls: those go by name. There,
	 * /proc/self/fd/N/name reaches the entry without PATH_MAX limits or races on the path
	 * above it; the l* calls do not follow the entry when it is a symlink and open
	 * nothing. */
	if (fd >= 0 && (n->type == NODE_FILE || n->type == NODE_DIR))
		src.fd = fd;
	else
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	rc = read_xattrs(b, &src, n);
	if (rc < 0 && rc != -ENOMEM) {
		bk_warn(b, rc, "%s: cannot list xattrs: %s", b->path, strerror(-rc));
		rc = 0;
	}
	return rc;
}
