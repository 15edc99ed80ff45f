/* Owns the restore walk: folders are created on demand (so --include restores only what
 * matches, with its parents), files are preallocated as holes and filled by the workers,
 * special files and links are made in place, folder metadata is applied on the way out. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

/* One folder level of the walk; fd is -1 until something inside needs it. */
struct level {
	struct level *up;
	const char *name;
	const struct node *meta; /* NULL for the target itself */
	int fd;
};

static int level_fd(struct rs *s, struct level *l)
{
	int up;

	if (l->fd >= 0)
		return l->fd;
	up = level_fd(s, l->up);
	if (up < 0)
		return up;
	if (mkdirat(up, l->name, 0700) < 0 && errno != EEXIST)
		return -errno;
	l->fd = openat(up, l->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return l->fd < 0 ? -errno : l->fd;
}

static bool match_any(const char *const *globs, size_t n, const char *path, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], path, 0) == 0 || fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

static void progress(struct rs *s, bool force)
{
	struct restore_progress p = { 0 };
	struct timespec now;

	if (!s->o->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	p.elapsed = (double)(now.tv_sec - s->start.tv_sec) + (now.tv_nsec - s->start.tv_nsec) / 1e9;
	if (!force && (double)(now.tv_sec - s->last.tv_sec) * 1000 +
				      (now.tv_nsec - s->last.tv_nsec) / 1e6 <
			      (s->o->progress_ms ?: 1000))
		return;
	s->last = now;
	p.files_done = atomic_load(&s->files);
	p.dirs_done = s->res->dirs;
	p.bytes_done = atomic_load(&s->bytes);
	p.errors = atomic_load(&s->errors);
	s->o->progress(s->o->ud, &p);
}

/* Remove whatever is in the way (a restore over an earlier one). Folders are kept. */
static void clear_way(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
		unlinkat(dirfd, name, 0);
}

static int restore_file(struct rs *s, int dirfd, struct node *n)
{
	struct rfile *f;
	uint64_t off = 0;
	int fd, rc = 0;

	clear_way(dirfd, n->name);
	fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Holes come for free: the size is set first and only data extents are written. */
	if (ftruncate(fd, (off_t)n->size) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(s->path))) {
		free(f);
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	/* One reference for the walker, dropped below, so the file cannot finish early. */
	atomic_store(&f->pending, 1);
	for (size_t i = 0; i < n->n_content; i++) {
		struct rjob j = { .f = f, .off = off, .len = n->content[i].len };

		off += n->content[i].len;
		if (n->content[i].hole)
			continue;
		memcpy(j.id, n->content[i].id, ID_BYTES);
		atomic_fetch_add(&f->pending, 1);
		rc = rs_submit(s, &j);
		if (rc < 0)
			break;
	}
	f->meta = *n;
	f->meta.content = NULL;
	f->meta.n_content = 0;
	free(n->content);
	memset(n, 0, sizeof(*n)); /* ownership of the metadata moved to f */
	s->res->bytes += off;
	rs_file_done(s, f);
	return rc;
}

static int restore_special(struct rs *s, int dirfd, const struct node *n)
{
	int rc = 0;

	clear_way(dirfd, n->name);
	switch (n->type) {
	case NODE_SYMLINK:
		rc = symlinkat(n->target ? n->target : "", dirfd, n->name);
		break;
	case NODE_FIFO:
		rc = mkfifoat(dirfd, n->name, n->mode & 07777);
		break;
	case NODE_CHR:
	case NODE_BLK:
	case NODE_SOCK:
		rc = mknodat(dirfd, n->name, n->mode, (dev_t)n->rdev);
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		return -errno;
	rs_apply_at(s, dirfd, n->name, n, s->path);
	s->res->others++;
	return 0;
}

static int restore_dir(struct rs *s, struct level *here, const struct node *dir, bool selected);

static int restore_entry(struct rs *s, struct level *here, struct node *n, bool selected)
{
	const struct restore_opts *o = s->o;
	const char *first;
	int dirfd, rc = 0;

	if (match_any(o->excludes, o->n_excludes, s->path, n->name))
		return 0;
	if (!selected && o->n_includes)
		selected = match_any(o->includes, o->n_includes, s->path, n->name);
	else if (!o->n_includes)
		selected = true;
	if (n->type == NODE_DIR) {
		struct level sub = { .up = here, .name = n->name, .meta = n, .fd = -1 };

		rc = restore_dir(s, &sub, n, selected);
		if (rc >= 0 && selected && sub.fd < 0)
			rc = level_fd(s, &sub); /* an empty folder is restored too */
		if (sub.fd >= 0) {
			rs_apply_fd(s, sub.fd, n, s->path);
			close(sub.fd);
			s->res->dirs++;
		}
		return rc < 0 ? rc : 0;
	}
	if (!selected)
		return 0;
	dirfd = level_fd(s, here);
	if (dirfd < 0)
		return dirfd;
	first = n->type == NODE_FILE ? rs_link_seen(&s->links, n, s->path) : NULL;
	if (first) {
		clear_way(dirfd, n->name);
		if (linkat(s->target_fd, first + 1, dirfd, n->name, 0) < 0)
			return -errno;
		s->res->files++;
		return 0;
	}
	if (n->type == NODE_FILE) {
		s->res->files++;
		return restore_file(s, dirfd, n);
	}
	return restore_special(s, dirfd, n);
}

static int restore_dir(struct rs *s, struct level *here, const struct node *dir, bool selected)
{
	size_t saved = s->path_len;
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init(&it, s->repo, dir);
	while ((rc = tree_iter_next(&it, &n, s->e)) > 0) {
		if (saved + 2 + n.name_len >= sizeof(s->path)) {
			rs_warn(s, -ENAMETOOLONG, "%s/%s: path too long", s->path, n.name);
			node_release(&n);
			continue;
		}
		s->path[s->path_len++] = '/';
		memcpy(s->path + s->path_len, n.name, n.name_len + 1);
		s->path_len += n.name_len;
		rc = restore_entry(s, here, &n, selected);
		if (rc < 0 && rc != -ENOMEM && rc != -ECANCELED && !s->e->code) {
			rs_warn(s, rc, "%s: %s", s->path, strerror(-rc));
			rc = 0;
		}
		node_release(&n);
		s->path_len = saved;
		s->path[saved] = 0;
		progress(s, false);
		if (rc >= 0 && s->o->cancel && s->o->cancel(s->o->ud))
			rc = err_set(s->e, -ECANCELED, "restore cancelled");
		if (rc < 0)
			break;
	}
	tree_iter_release(&it);
	return rc;
}

static int start_node(struct rs *s, const struct snapshot *snap, struct node *ret)
{
	const char *sub = s->o->subdir && s->o->subdir[0] ? s->o->subdir : "/";

	return repo_tree_lookup(s->repo, snap, sub, ret, s->e);
}

int restore_run(struct repo *r, const struct restore_opts *o, struct restore_result *ret,
		struct err *e)
{
	struct restore_result res = { 0 };
	struct rs s = { .repo = r, .o = o, .e = e, .res = &res, .target_fd = -1 };
	struct snapshot snap = { 0 };
	struct node start = { 0 };
	struct level top = { .fd = -1 };
	int rc, threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	clock_gettime(CLOCK_MONOTONIC, &s.start);
	s.last = s.start;
	s.owners = o->owners < 0 ? geteuid() == 0 : o->owners > 0;
	rc = repo_snapshot_load(r, o->snapshot, &snap, e);
	if (rc >= 0)
		rc = repo_index_load(r, e);
	if (rc >= 0)
		rc = start_node(&s, &snap, &start);
	if (rc < 0)
		goto fail;
	rc = mkdir_p(o->target, 0700);
	if (rc < 0) {
		err_set(e, rc, "%s: cannot create target: %s", o->target, strerror(-rc));
		goto fail;
	}
	s.target_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.target_fd < 0) {
		rc = err_set(e, -errno, "%s: %s", o->target, strerror(errno));
		goto fail;
	}
	top.fd = s.target_fd;
	rc = rs_workers_start(&s, threads < 1 ? 1 : threads > 64 ? 64 : threads * 2);
	if (rc >= 0) {
		if (start.type == NODE_DIR)
			rc = restore_dir(&s, &top, &start, false);
		else
			rc = restore_entry(&s, &top, &start, false);
	}
	{
		int wr = rs_workers_stop(&s);

		if (rc >= 0)
			rc = wr;
	}
	/* The subdir's own folder metadata lands on the target folder. */
	if (rc >= 0 && start.type == NODE_DIR && o->subdir && strcmp(o->subdir, "/") != 0 &&
	    o->subdir[0])
		rs_apply_fd(&s, s.target_fd, &start, o->target);
	if (rc >= 0 && o->verify)
		rc = rs_verify(&s, &start, s.target_fd);
	if (rc < 0)
		goto fail;
	progress(&s, true);
	res.errors = atomic_load(&s.errors);
	*ret = res;
fail:
	if (rc < 0 && s.n_workers) {
		/* The first error is the one reported; stopping only joins the threads. */
		int ignored = rs_workers_stop(&s);

		(void)ignored;
	}
	if (s.target_fd >= 0)
		close(s.target_fd);
	rs_links_release(&s.links);
	node_release(&start);
	snapshot_release(&snap);
	/* A long-running agent must not keep a backup's peak: hand freed heap back. */
	malloc_trim(0);
	return rc;
}
