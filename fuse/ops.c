/* The libfuse low-level callbacks for names and metadata: lookup, forget, getattr,
 * readlink, readdir(plus), xattrs, statfs; every modifying call answers EROFS. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/banned.h"

/* Snapshots never change: the kernel may cache what is inside them for long. The virtual
 * tree changes on refresh, so its names and attributes are cached briefly. */
#define FROZEN_TIMEOUT  3600.0
#define VIRTUAL_TIMEOUT 1.0
/* Linux caps one xattr value and a name list at 64 KiB (XATTR_SIZE_MAX, XATTR_LIST_MAX). */
#define XATTR_SIZE_LIMIT (64u * 1024)

static struct snapfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static double attr_timeout(const struct snode *n)
{
	return n->kind == SN_REAL || n->kind == SN_ROOT ? FROZEN_TIMEOUT : VIRTUAL_TIMEOUT;
}

static void entry_fill(struct snapfs *fs, const struct snode *dir, const struct snode *n,
                       struct fuse_entry_param *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = n->ino;
	ep->generation = 1;
	fs_stat(fs, n, &ep->attr);
	ep->attr_timeout = attr_timeout(n);
	ep->entry_timeout = dir->kind == SN_VDIR ? VIRTUAL_TIMEOUT : FROZEN_TIMEOUT;
}

/* Listing or looking up in the root or a top directory reloads the snapshot list (rate-
 * limited), so new backups show up without remounting. */
static void maybe_refresh(struct snapfs *fs, fuse_ino_t ino)
{
	struct err e = ERR_INIT;
	struct snode *n;
	bool top;

	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	top = n && (n == fs->root || (n->kind == SN_VDIR && n->top));
	pthread_mutex_unlock(&fs->lock);
	if (top && fs_refresh(fs, false, &e) < 0)
		fs_report(fs, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct snapfs *fs = fs_of(req);
	struct fuse_entry_param ep;
	struct err e = ERR_INIT;
	struct dirlist *d = NULL;
	struct snode *p, *n = NULL;
	int r = -ENOENT;

	maybe_refresh(fs, parent);
	pthread_mutex_lock(&fs->lock);
	p = itable_get(&fs->it, parent);
	if (!p)
		goto out;
	r = -ENOTDIR;
	if (!fs_is_dir(p))
		goto out;
	if (p->kind == SN_VDIR) {
		n = fs_vfind(p, name);
	} else {
		const struct node *src;

		struct node big = { 0 };

		r = fs_dirlist(fs, p, &d, &e);
		if (r < 0)
			goto out;
		if (!d) {
			/* A folder too large to hold: walk its tree to the name. */
			r = fs_stream_find(fs, p, name, &big, &e);
			if (r < 0)
				goto out;
		}
		src = d ? dirlist_find(d, name, strlen(name)) : r ? &big : NULL;
		if (src) {
			n = fs_child(fs, p, src);
			r = n ? 0 : -ENOMEM;
		}
		node_release(&big);
	}
	r = n ? 0 : r == -ENOMEM ? r : -ENOENT;
	if (n) {
		n->nlookup++;
		entry_fill(fs, p, n, &ep);
	}
out:
	fs_dirlist_put(fs, d);
	pthread_mutex_unlock(&fs->lock);
	if (e.code)
		fs_report(fs, &e);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &ep);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct snapfs *fs = fs_of(req);
	struct snode *n;

	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	if (n)
		fs_forget(fs, n, nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct snapfs *fs = fs_of(req);

	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < count; i++) {
		struct snode *n = itable_get(&fs->it, f[i].ino);

		if (n)
			fs_forget(fs, n, f[i].nlookup);
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapfs *fs = fs_of(req);
	struct snode *n;
	struct stat st;
	double t = 0;

	(void)fi;
	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	if (n) {
		fs_stat(fs, n, &st);
		t = attr_timeout(n);
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, t);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct snapfs *fs = fs_of(req);
	char *target = NULL;
	struct snode *n;
	int r = ENOENT;

	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	if (n && n->kind == SN_VLINK) {
		target = strdup(n->target);
		r = target ? 0 : ENOMEM;
	} else if (n && n->kind == SN_REAL && n->node.type == NODE_SYMLINK) {
		const struct node *x = &n->node;

		/* A backup never stores a link without a target, nor one with a NUL in it
		 * (restore refuses both): served, it would be an empty link or another one. */
		if (!x->target || !x->target_len || memchr(x->target, 0, x->target_len)) {
			struct err e = ERR_INIT;

			err_set(&e, -EIO,
			        "'%.*s': a symlink without a valid target (forged or corrupt)",
			        (int)x->name_len, x->name ? x->name : "");
			fs_report_forged(fs, &e, x->name, x->name_len, NULL, 0);
			r = EIO;
		} else if (x->target_len >= PATH_MAX) {
			struct err e = ERR_INIT;

			/* No kernel symlink is that long (the format allows 64 KiB): the kernel
			 * refuses such a reply ("writing device: Invalid argument") on every call. */
			err_set(&e, -ENAMETOOLONG,
			        "'%.*s': a symlink target of %zu bytes, longer than any link can be "
			        "(forged or corrupt)",
			        (int)x->name_len, x->name ? x->name : "", x->target_len);
			fs_report_forged(fs, &e, x->name, x->name_len, NULL, 0);
			r = ENAMETOOLONG;
		} else {
			target = strndup(x->target, x->target_len);
			r = target ? 0 : ENOMEM;
		}
	} else if (n) {
		r = EINVAL;
	}
	pthread_mutex_unlock(&fs->lock);
	if (target)
		fuse_reply_readlink(req, target);
	else
		fuse_reply_err(req, r);
	free(target);
}

/* An open directory: a listing reference (snapshot directories) or a copy of the
 * children (virtual directories, whose lists a refresh may rebuild meanwhile). */
struct vent {
	uint64_t ino;
	char *name;
};
struct dirh {
	struct snode *dir; /* pinned */
	struct dirlist *dl;
	/* A folder too large to hold (fs_dirlist gave no listing): read from its tree, one
	 * readdir at a time (the kernel serializes them on one open directory). */
	struct dirstream *ds;
	struct vent *v;
	size_t n_v;
};

static void dirh_free(struct snapfs *fs, struct dirh *h)
{
	if (!h)
		return;
	if (h->dir)
		fs_unpin(fs, h->dir);
	fs_dirlist_put(fs, h->dl);
	if (h->ds)
		dirstream_release(h->ds);
	free(h->ds);
	for (size_t i = 0; i < h->n_v; i++)
		free(h->v[i].name);
	free(h->v);
	free(h);
}

static int vents_copy(struct dirh *h, const struct snode *dir)
{
	if (dir->n_kids == 0)
		return 0;
	h->v = calloc(dir->n_kids, sizeof(*h->v));
	if (!h->v)
		return -ENOMEM;
	for (; h->n_v < dir->n_kids; h->n_v++) {
		h->v[h->n_v].ino = dir->kids[h->n_v]->ino;
		h->v[h->n_v].name = strdup(dir->kids[h->n_v]->name);
		if (!h->v[h->n_v].name)
			return -ENOMEM;
	}
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapfs *fs = fs_of(req);
	struct err e = ERR_INIT;
	struct dirh *h = NULL;
	struct snode *n;
	int r = -ENOMEM;

	maybe_refresh(fs, ino);
	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	h = calloc(1, sizeof(*h));
	if (!n || !h) {
		r = n ? -ENOMEM : -ENOENT;
		goto out;
	}
	r = -ENOTDIR;
	if (!fs_is_dir(n))
		goto out;
	h->dir = n;
	n->pins++;
	if (n->kind == SN_VDIR)
		r = vents_copy(h, n);
	else
		r = fs_dirlist(fs, n, &h->dl, &e);
	if (r == 0 && n->kind != SN_VDIR && !h->dl) {
		h->ds = malloc(sizeof(*h->ds));
		if (h->ds)
			dirstream_init(h->ds, fs->repo, &n->node);
		else
			r = -ENOMEM;
	}
out:
	if (r < 0) {
		dirh_free(fs, h);
		h = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
	if (e.code)
		fs_report(fs, &e);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) < 0) {
		pthread_mutex_lock(&fs->lock);
		dirh_free(fs, h);
		pthread_mutex_unlock(&fs->lock);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapfs *fs = fs_of(req);

	(void)ino;
	pthread_mutex_lock(&fs->lock);
	dirh_free(fs, (struct dirh *)(uintptr_t)fi->fh);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, 0);
}

/* Entry i of an open directory (0 and 1 are "." and ".."): its name into name and, for
 * readdirplus or when it already exists, its node. false past the end. */
static bool dir_entry(struct snapfs *fs, struct dirh *h, size_t i, bool plus, char *name,
                      size_t name_size, struct snode **ret, struct stat *st)
{
	const struct node *src;
	size_t k = i - 2;

	*ret = NULL;
	memset(st, 0, sizeof(*st));
	if (i < 2) {
		snprintf(name, name_size, "%s", i == 0 ? "." : "..");
		st->st_ino = i == 0 ? h->dir->ino : FUSE_ROOT_ID;
		st->st_mode = S_IFDIR;
		return true;
	}
	if (h->v) {
		if (k >= h->n_v)
			return false;
		snprintf(name, name_size, "%s", h->v[k].name);
		*ret = itable_get(&fs->it, h->v[k].ino);
		if (*ret)
			fs_stat(fs, *ret, st);
		return true;
	}
	if (!h->dl || k >= h->dl->n)
		return false;
	src = &h->dl->ent[k];
	/* Names come from the tree; dirlist.c left out any longer than NAME_MAX, so nothing
	 * is cut here (the cut is only a bound on the buffer). */
	snprintf(name, name_size, "%.*s", (int)src->name_len, src->name);
	if (plus) {
		*ret = fs_child(fs, h->dir, src);
		if (*ret)
			fs_stat(fs, *ret, st);
	} else {
		st->st_ino = 0xffffffffu; /* libfuse's FUSE_UNKNOWN_INO: "ask lookup" */
		st->st_mode = (mode_t)src->mode & S_IFMT;
	}
	return true;
}

/* readdir(plus) of a folder read from its tree (dirh.ds): no lock but the repository's
 * is held while it is read, and no node is made for its entries, so that listing a folder
 * of millions of entries does not leave one node each behind (readdirplus then gives no
 * attributes: the kernel asks lookup for those it needs). */
static void stream_readdir(fuse_req_t req, struct dirh *h, char *buf, size_t size, off_t off,
                           bool plus)
{
	struct snapfs *fs = fs_of(req);
	struct err e = ERR_INIT;
	size_t pos = 0;
	int k = 0;

	pthread_rwlock_rdlock(&fs->repo_lock);
	for (uint64_t i = (uint64_t)off;; i++) {
		struct fuse_entry_param ep;
		const struct node *src = NULL;
		char name[NAME_MAX + 1];
		size_t need;

		memset(&ep, 0, sizeof(ep));
		if (i < 2) {
			snprintf(name, sizeof(name), "%s", i == 0 ? "." : "..");
			ep.attr.st_ino = i == 0 ? h->dir->ino : FUSE_ROOT_ID;
			ep.attr.st_mode = S_IFDIR;
		} else {
			k = dirstream_at(h->ds, i - 2, &src, &e);
			if (k <= 0)
				break;
			snprintf(name, sizeof(name), "%.*s", (int)src->name_len, src->name);
			ep.attr.st_ino = 0xffffffffu; /* FUSE_UNKNOWN_INO: "ask lookup" */
			ep.attr.st_mode = (mode_t)src->mode & S_IFMT;
		}
		/* ep.ino 0: the kernel takes no reference and makes no entry (as for dots). */
		if (plus)
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &ep,
			                              (off_t)i + 1);
		else
			need = fuse_add_direntry(req, buf + pos, size - pos, name, &ep.attr,
			                         (off_t)i + 1);
		if (need > size - pos)
			break;
		pos += need;
	}
	pthread_rwlock_unlock(&fs->repo_lock);
	if (e.code)
		fs_report(fs, &e);
	/* A tree that cannot be read fails the call, unless entries before it are given. */
	if (k < 0 && pos == 0)
		fuse_reply_err(req, -k);
	else
		fuse_reply_buf(req, buf, pos);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct snapfs *fs = fs_of(req);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1);
	char name[1024];
	size_t pos = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (h->ds) {
		stream_readdir(req, h, buf, size, off, plus);
		free(buf);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	for (size_t i = (size_t)off;; i++) {
		struct fuse_entry_param ep;
		struct snode *n;
		struct stat st;
		size_t need;

		if (!dir_entry(fs, h, i, plus, name, sizeof(name), &n, &st))
			break;
		if (i >= 2 && plus && !n)
			continue; /* gone since opendir (virtual) or out of memory */
		if (plus) {
			memset(&ep, 0, sizeof(ep));
			ep.attr = st;
			if (n) {
				entry_fill(fs, h->dir, n, &ep);
				if (i < 2)
					ep.ino = 0; /* the kernel takes no reference on dots */
			}
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &ep,
			                              (off_t)i + 1);
		} else {
			need =
			    fuse_add_direntry(req, buf + pos, size - pos, name, &st, (off_t)i + 1);
		}
		if (need > size - pos) {
			if (n)
				fs_forget(fs, n, 0); /* frees it if we just made it */
			break;
		}
		if (plus && n && i >= 2)
			n->nlookup++;
		pos += need;
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

/* Copy an xattr value (or the NUL-separated name list when name is NULL) out under the
 * lock, so the reply is sent without holding it. */
static int xattr_copy(struct snapfs *fs, fuse_ino_t ino, const char *name, struct buf *out)
{
	const struct node *x;
	struct snode *n;
	int r = -ENOENT;

	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	if (!n)
		goto out;
	r = name ? -ENODATA : 0;
	if (n->kind != SN_REAL)
		goto out;
	x = &n->node;
	for (size_t i = 0; i < x->n_xattrs; i++) {
		if (!name) {
			r = buf_append(out, x->xattrs[i].name, strlen(x->xattrs[i].name) + 1);
			if (r < 0)
				break;
		} else if (strcmp(name, x->xattrs[i].name) == 0) {
			r = buf_append(out, x->xattrs[i].value, x->xattrs[i].len);
			break;
		}
	}
out:
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static void reply_xattr(fuse_req_t req, int r, const struct buf *b, size_t size)
{
	if (r < 0)
		fuse_reply_err(req, r == -EFBIG ? E2BIG : -r);
	else if (size == 0)
		fuse_reply_xattr(req, b->len);
	else if (size < b->len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)b->p, b->len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct buf b = BUF_INIT;
	int r;

	buf_init(&b, XATTR_SIZE_LIMIT);
	r = xattr_copy(fs_of(req), ino, name, &b);
	reply_xattr(req, r, &b, size);
	buf_release(&b);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct buf b = BUF_INIT;
	int r;

	buf_init(&b, XATTR_SIZE_LIMIT);
	r = xattr_copy(fs_of(req), ino, NULL, &b);
	reply_xattr(req, r, &b, size);
	buf_release(&b);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	(void)ino;
	fuse_reply_err(req, (mask & W_OK) ? EROFS : 0);
}

/* Writes: the mount is also "ro", so the kernel refuses most of these itself; these
 * answer for the rest (and for kernels that still forward them). */
static void rofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	rofs(req);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	rofs(req);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	rofs(req);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	rofs(req);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	rofs(req);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	rofs(req);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	rofs(req);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	(void)ino, (void)buf, (void)size, (void)off, (void)fi;
	rofs(req);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	rofs(req);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	rofs(req);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	rofs(req);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi)
{
	(void)ino, (void)mode, (void)offset, (void)length, (void)fi;
	rofs(req);
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	/* readdirplus for every listing: `find` and `ls -l` then need no lookup per entry. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	/* Larger requests mean fewer round trips per blob; the kernel caps both. */
	conn->max_readahead = 1024 * 1024;
	conn->max_write = 1024 * 1024;
}

const struct fuse_lowlevel_ops snapfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = read_open,
	.read = read_read,
	.release = read_release,
	.lseek = read_lseek,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.statfs = op_statfs,
	.access = op_access,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.write = op_write,
	.create = op_create,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.fallocate = op_fallocate,
};
