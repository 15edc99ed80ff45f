/* Owns the tree walk: sorted directory listings merged with the parent snapshot's tree
 * (the files cache), entries turned into nodes, nodes packed into tree segments. */
#include "backup/backup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/err.h"

#define DIR_NAMES_MAX (1ull << 31) /* bytes of names held for one directory */

void bk_warn(struct bk *b, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	err_vfit(msg, sizeof(msg), fmt, ap); /* a deep path must not push out the reason */
	va_end(ap);
	b->sum.errors++;
	b->prog.errors++;
	if (b->o->warn)
		b->o->warn(b->o->ud, b->path, code, msg);
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

void bk_progress(struct bk *b, bool force)
{
	if (!b->o->progress)
		return;
	if (!force && elapsed_since(&b->last_progress) * 1000 < (b->o->progress_ms ?: 1000))
		return;
	clock_gettime(CLOCK_MONOTONIC, &b->last_progress);
	b->prog.elapsed = elapsed_since(&b->start);
	b->prog.bytes_added = atomic_load(&b->bytes_added);
	b->prog.current = b->path;
	b->o->progress(b->o->ud, &b->prog);
}

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al < bl ? -1 : al > bl);
}

struct names {
	struct buf arena;
	size_t *off;
	size_t n, cap;
};

static int names_sort_cmp(const void *x, const void *y, void *base)
{
	const char *a = (const char *)base + *(const size_t *)x;
	const char *b = (const char *)base + *(const size_t *)y;

	return name_cmp(a, strlen(a), b, strlen(b));
}

static int list_names(int fd, struct names *ns)
{
	struct dirent *de;
	DIR *d;
	int dfd = dup(fd), rc = 0;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	buf_init(&ns->arena, DIR_NAMES_MAX);
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? 2 * ns->cap : 64;
			void *p = reallocarray(ns->off, cap, sizeof(*ns->off));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			ns->off = p;
			ns->cap = cap;
		}
		ns->off[ns->n++] = ns->arena.len;
		rc = buf_append(&ns->arena, de->d_name, strlen(de->d_name) + 1);
		if (rc < 0)
			break;
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	if (rc >= 0 && ns->n)
		qsort_r(ns->off, ns->n, sizeof(*ns->off), names_sort_cmp, ns->arena.p);
	return rc;
}

static bool excluded(struct bk *b, const char *name)
{
	for (size_t i = 0; i < b->o->n_excludes; i++) {
		const char *g = b->o->excludes[i];

		if (fnmatch(g, b->path, 0) == 0 || fnmatch(g, name, 0) == 0)
			return true;
	}
	return false;
}

static int flush_segment(struct bk *b, struct buf *seg, size_t *count, struct node *n)
{
	uint8_t id[ID_BYTES];
	void *p;
	int rc;

	if (!*count)
		return 0;
	rc = bk_save_blob(b, BLOB_TREE, seg->p, seg->len, id);
	if (rc < 0)
		return rc;
	p = reallocarray(n->content, n->n_content + 1, sizeof(*n->content));
	if (!p)
		return -ENOMEM;
	n->content = p;
	memset(&n->content[n->n_content], 0, sizeof(n->content[0]));
	memcpy(n->content[n->n_content].id, id, ID_BYTES);
	n->content[n->n_content].len = *count;
	n->n_content++;
	buf_reset(seg);
	*count = 0;
	return tree_encode_header(seg);
}

/* Advance the parent iterator to name; *pn holds the candidate (type NODE_* or released). */
static int parent_seek(struct bk *b, struct tree_iter *it, bool *have, bool *done, struct node *pn,
                       const char *name, size_t len)
{
	int rc;

	while (!*done) {
		if (!*have) {
			rc = tree_iter_next(it, pn, b->e);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				*done = true;
				break;
			}
			*have = true;
		}
		if (name_cmp(pn->name, pn->name_len, name, len) >= 0)
			break;
		node_release(pn);
		*have = false;
	}
	return *have && name_cmp(pn->name, pn->name_len, name, len) == 0;
}

int bk_walk_dir(struct bk *b, int fd, const struct node *parent, struct node *n)
{
	struct names ns = { 0 };
	struct buf seg = BUF_INIT;
	struct tree_iter it;
	struct node pn = { 0 };
	bool have = false, done = !parent || parent->type != NODE_DIR;
	size_t count = 0;
	int rc;

	tree_iter_init(&it, b->repo, parent ? parent : n);
	buf_init(&seg, 2 * TREE_SEGMENT_TARGET + (64u << 20));
	rc = list_names(fd, &ns);
	if (rc < 0) {
		bk_warn(b, rc, "%s: cannot list directory: %s", b->path, strerror(-rc));
		rc = 0;
		goto fail;
	}
	rc = tree_encode_header(&seg);
	for (size_t i = 0; rc >= 0 && i < ns.n; i++) {
		const char *name = (const char *)ns.arena.p + ns.off[i];
		size_t len = strlen(name);
		struct node child = { 0 };
		int m = parent_seek(b, &it, &have, &done, &pn, name, len);

		if (m < 0) {
			rc = m;
			break;
		}
		rc = bk_entry(b, fd, name, len, m ? &pn : NULL, &child);
		if (rc == 0) {
			rc = tree_encode_node(&seg, &child);
			count++;
		} else if (rc == 1) {
			rc = 0;
		}
		node_release(&child);
		if (rc >= 0 && seg.len >= TREE_SEGMENT_TARGET)
			rc = flush_segment(b, &seg, &count, n);
		if (rc >= 0 && bk_should_stop(b))
			rc = -ECANCELED;
	}
	if (rc >= 0)
		rc = flush_segment(b, &seg, &count, n);
fail:
	if (have)
		node_release(&pn);
	tree_iter_release(&it);
	buf_release(&seg);
	buf_release(&ns.arena);
	free(ns.off);
	return rc;
}

static bool same_file(const struct node *p, const struct node *n)
{
	return p && p->type == NODE_FILE && p->size == n->size && p->inode == n->inode &&
	       p->mtime_sec == n->mtime_sec && p->mtime_nsec == n->mtime_nsec &&
	       p->ctime_sec == n->ctime_sec && p->ctime_nsec == n->ctime_nsec &&
	       !(p->flags & (NODE_CHANGED_DURING_READ | NODE_UNREADABLE));
}

/* With packs lost from the repository (repo_lost_packs), an unchanged file is reused only
 * while every blob it names is still indexed; otherwise it is read again, so the new
 * snapshot never refers to data the repository no longer holds. */
static bool content_indexed(struct bk *b, const struct node *p)
{
	if (!b->lost)
		return true;
	for (size_t i = 0; i < p->n_content; i++)
		if (!p->content[i].hole && !repo_blob_known(b->repo, BLOB_DATA, p->content[i].id))
			return false;
	return true;
}

static bool same_content(const struct node *p, const struct node *n)
{
	if (!p || p->n_content != n->n_content)
		return false;
	for (size_t i = 0; i < n->n_content; i++)
		if (memcmp(p->content[i].id, n->content[i].id, ID_BYTES) != 0)
			return false;
	return true;
}

static bool fatal(struct bk *b, int rc)
{
	return rc == -ENOMEM || rc == -ECANCELED || b->e->code || (b->q && wq_error(b->q));
}

static int entry_file(struct bk *b, int fd, const struct stat *st, const struct node *parent,
                      struct node *out)
{
	int rc;

	b->sum.total_files++;
	b->sum.total_bytes = ckd_sat_add_i64max(b->sum.total_bytes, (uint64_t)st->st_size);
	b->sum.bytes_processed = ckd_sat_add_i64max(b->sum.bytes_processed, (uint64_t)st->st_size);
	if (fd < 0) {
		/* Files cache hit: reuse the recorded content without reading a byte. */
		out->content = malloc(parent->n_content * sizeof(*out->content) + 1);
		if (!out->content)
			return -ENOMEM;
		memcpy(out->content, parent->content, parent->n_content * sizeof(*out->content));
		out->n_content = parent->n_content;
		out->flags |= parent->flags & NODE_SPARSE;
		b->sum.files_unmodified++;
		b->prog.bytes_done = ckd_sat_add_i64max(b->prog.bytes_done, (uint64_t)st->st_size);
		b->prog.files_done++;
		return 0;
	}
	rc = bk_file_content(b, fd, st, out);
	if (rc < 0) {
		if (fatal(b, rc))
			return rc;
		bk_warn(b, rc, "%s: cannot read: %s", b->path, strerror(-rc));
		b->sum.total_files--;
		return 1;
	}
	if (parent && parent->type == NODE_FILE)
		b->sum.files_changed++;
	else
		b->sum.files_new++;
	b->prog.files_done++;
	return 0;
}

static int entry_dir(struct bk *b, int fd, const struct node *parent, struct node *out)
{
	int rc;

	if (fd < 0)
		return 0; /* a mount point: recorded, not entered */
	rc = bk_walk_dir(b, fd, parent && parent->type == NODE_DIR ? parent : NULL, out);
	if (rc < 0)
		return rc;
	if (!parent || parent->type != NODE_DIR)
		b->sum.dirs_new++;
	else if (same_content(parent, out))
		b->sum.dirs_unmodified++;
	else
		b->sum.dirs_changed++;
	b->prog.dirs_done++;
	return 0;
}

/* The name led to another inode when opened than when stat'ed: keep the stat'ed
 * metadata, store nothing of what is there now, and let the next run read it again. */
static int entry_swapped(struct bk *b, struct node *out)
{
	bk_warn(b, -ESTALE, "%s: replaced while being read; recorded without content", b->path);
	out->flags |= NODE_CHANGED_DURING_READ | NODE_UNREADABLE;
	if (out->type == NODE_FILE)
		out->size = 0;
	return 0;
}

/* A directory on another filesystem than its root path (restic's --one-file-system), or
 * a bind mount of the same filesystem (another mount id; kernels before 5.8 have none, and
 * then only the device tells). */
static bool mount_point(struct bk *b, int dirfd, const char *name, const struct stat *st)
{
	struct statx sx;

	if (b->o->cross_mounts || !S_ISDIR(st->st_mode))
		return false;
	if (st->st_dev == b->root_dev &&
	    (!b->root_mnt_id ||
	     statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &sx) < 0 ||
	     !(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id == b->root_mnt_id))
		return false;
	/* A notice, not an error: staying on one filesystem is what was asked for. */
	if (b->o->warn) {
		char msg[sizeof(b->path) + 80];

		snprintf(msg, sizeof(msg), "%s: mount point, recorded as an empty directory",
		         b->path);
		b->o->warn(b->o->ud, b->path, 0, msg);
	}
	return true;
}

/* Open what the entry needs (bk_open_entry), then its xattrs, content or subtree. */
static int entry_open_read(struct bk *b, int dirfd, const char *name, const struct stat *st,
                           const struct node *parent, struct node *out)
{
	bool hit = out->type == NODE_FILE && same_file(parent, out) && content_indexed(b, parent);
	int fd = -1, rc = 0;

	/* Unchanged files and mount points are not opened: nothing is read from them. */
	if (!hit && !mount_point(b, dirfd, name, st))
		rc = bk_open_entry(dirfd, name, st, &fd);
	if (rc == 1)
		return entry_swapped(b, out);
	if (rc < 0) {
		bk_warn(b, rc, "%s: cannot open: %s", b->path, strerror(-rc));
		return 1;
	}
	rc = bk_node_extra(b, dirfd, name, fd, parent, out);
	if (rc < 0) {
		if (!fatal(b, rc)) {
			bk_warn(b, rc, "%s: %s", b->path, strerror(-rc));
			rc = 1;
		}
	} else if (out->type == NODE_FILE) {
		rc = entry_file(b, fd, st, parent, out);
	} else if (out->type == NODE_DIR) {
		rc = entry_dir(b, fd, parent, out);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int bk_entry(struct bk *b, int dirfd, const char *name, size_t name_len, const struct node *parent,
             struct node *out)
{
	size_t saved = b->path_len;
	struct stat st;
	int rc;

	if (saved + 1 + name_len >= sizeof(b->path))
		return bk_warn(b, -ENAMETOOLONG, "%s/%s: path too long", b->path, name), 1;
	if (saved && b->path[saved - 1] != '/')
		b->path[b->path_len++] = '/';
	memcpy(b->path + b->path_len, name, name_len + 1);
	b->path_len += name_len;
	rc = 1;
	if (excluded(b, name))
		goto out;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		bk_warn(b, -errno, "%s: cannot stat: %s", b->path, strerror(errno));
		goto out;
	}
	rc = bk_node_stat(b, name, name_len, &st, out);
	if (rc == -EINVAL) {
		bk_warn(b, rc, "%s: unknown file type, skipped", b->path);
		rc = 1;
		goto out;
	}
	if (rc >= 0)
		rc = entry_open_read(b, dirfd, name, &st, parent, out);
	bk_progress(b, false);
out:
	b->path_len = saved;
	b->path[saved] = 0;
	return rc;
}
