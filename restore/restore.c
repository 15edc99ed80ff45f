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
#include "util/ckd.h"
#include "util/deepcall.h"
#include "util/fsutil.h"

/* One folder level of the walk; d is NULL until something inside needs the folder. */
struct level {
	struct level *up;
	const char *name;
	const struct node *meta; /* NULL for the target itself */
	struct rdir *d;
};

/* "/a/b" of a level: folders are made lazily, when the walker may be deeper already. */
static size_t level_path(const struct level *l, char *out, size_t max)
{
	size_t n;
	int k;

	if (!l->up) {
		out[0] = 0;
		return 0;
	}
	n = level_path(l->up, out, max);
	k = snprintf(out + n, max - n, "/%s", l->name);
	return k < 0 || (size_t)k >= max - n ? n : n + (size_t)k;
}

static int level_fd(struct rs *s, struct level *l)
{
	char *path;
	int up, fd;

	if (l->d)
		return l->d->fd;
	up = level_fd(s, l->up);
	if (up < 0)
		return up;
	if (mkdirat(up, l->name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = rs_open_beneath(up, l->name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	/* On the heap: level_fd recurses once per folder level. */
	path = malloc(sizeof(s->path));
	if (path)
		level_path(l, path, sizeof(s->path));
	l->d = path ? rs_dir_new(s, fd, l->meta, path) : NULL;
	free(path);
	if (!l->d) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
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
	if (!force &&
	    (double)(now.tv_sec - s->last.tv_sec) * 1000 + (now.tv_nsec - s->last.tv_nsec) / 1e6 <
	        (s->o->progress_ms ?: 1000))
		return;
	s->last = now;
	p.files_done = atomic_load(&s->files);
	p.dirs_done = atomic_load(&s->dirs);
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

/* A new file under a temporary name, O_EXCL: never through a name someone put there. */
static int create_temp(struct rs *s, struct level *here, const struct node *n,
                       char tmp[NAME_MAX + 1])
{
	int dirfd = here->d->fd;

	for (int attempt = 0; attempt < 100; attempt++) {
		int fd;

		rs_temp_name(s, n, attempt, tmp);
		fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* no_sparse: a hole of the snapshot is written as zeros, so the file owns its blocks
 * (storage that must be preallocated, quotas counted on allocation). */
static int write_zeros(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t zero[64 * 1024];

	while (len) {
		size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		ssize_t w = pwrite(fd, zero, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int restore_file(struct rs *s, struct level *here, struct node *n)
{
	struct rfile *f = NULL;
	struct stat st;
	uint64_t off = 0;
	bool wrapped = false;
	int fd, rc = 0;

	/* A backup records the size its extents add up to; a forged node whose extents do
	 * not (or overflow) would have holes written as zeros without bound (--no-sparse)
	 * or data land past the size it claims. */
	for (size_t i = 0; i < n->n_content && !wrapped; i++)
		wrapped = ckd_add(&off, off, n->content[i].len);
	if (wrapped || off != n->size || n->size > INT64_MAX) {
		rs_warn(s, s->path, -EBADMSG,
		        "%s: not restored: its extents do not add up to its size (forged or "
		        "corrupt)",
		        s->path);
		return 0;
	}
	off = 0;
	/* The rename at the end replaces a file, not a folder: say so before fetching. */
	rs_room(s);
	if (fstatat(here->d->fd, n->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (s->o->skip_identical && rs_same_file(s, here->d->fd, n) == 1) {
		s->res->bytes = ckd_sat_add_i64max(s->res->bytes, n->size);
		s->res->skipped++;
		atomic_fetch_add(&s->files, 1);
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(s->path))) {
		free(f);
		return -ENOMEM;
	}
	fd = create_temp(s, here, n, f->tmp);
	/* Holes come for free: the size is set first and only data extents are written. */
	if (fd >= 0 && ftruncate(fd, (off_t)n->size) < 0) {
		rc = -errno;
		close(fd);
		unlinkat(here->d->fd, f->tmp, 0);
		fd = rc;
	}
	if (fd < 0) {
		free(f->path);
		free(f);
		return fd;
	}
	f->fd = fd;
	f->dir = here->d;
	atomic_fetch_add(&here->d->refs, 1);
	f->meta = *n;
	f->meta.content = NULL;
	f->meta.n_content = 0;
	pthread_mutex_lock(&s->lock);
	s->live++;
	pthread_mutex_unlock(&s->lock);
	/* One reference for the walker, dropped below, so the file cannot finish early. */
	atomic_store(&f->pending, 1);
	for (size_t i = 0; i < n->n_content; i++) {
		uint64_t at = off;

		off += n->content[i].len;
		if (n->content[i].hole && s->o->no_sparse) {
			rc = write_zeros(f->fd, at, n->content[i].len);
			if (rc < 0) {
				rs_file_bad(s, f, rc, "%s", strerror(-rc));
				break;
			}
		}
		if (n->content[i].hole)
			continue;
		if (rs_stopping(s)) {
			rs_file_bad(s, f, -ECANCELED,
			            "the restore stopped before its content was written");
			break;
		}
		rc = rs_need(s, f, at, &n->content[i]);
		if (rc < 0) {
			rs_file_bad(s, f, rc, "%s", s->e->msg);
			break;
		}
	}
	free(n->content);
	memset(n, 0, sizeof(*n)); /* ownership of the metadata moved to f */
	s->res->bytes = ckd_sat_add_i64max(s->res->bytes, off);
	rs_file_done(s, f);
	return rc;
}

static int restore_special(struct rs *s, int dirfd, const struct node *n)
{
	mode_t perm = rs_mode(s, n, NULL);
	int rc = 0;

	if (s->o->skip_identical && n->type == NODE_SYMLINK && rs_same_symlink(dirfd, n) == 1) {
		s->res->others++;
		s->res->skipped++;
		return 0;
	}
	/* A backup never stores a link without a target (the kernel has none) unless it
	 * flagged the link unreadable (restore_entry names those), nor one with a NUL in it:
	 * symlinkat would fail with a bare ENOENT, or make another link. */
	if (n->type == NODE_SYMLINK &&
	    (!n->target || !n->target_len || memchr(n->target, 0, n->target_len))) {
		rs_warn(s, s->path, -EBADMSG,
		        "%s: not restored: the snapshot holds a symlink without a valid target "
		        "(forged or corrupt)",
		        s->path);
		return 0;
	}
	if (!s->o->keep_privileges && (n->type == NODE_CHR || n->type == NODE_BLK)) {
		rs_warn(s, s->path, -EPERM,
		        "%s: not restored: a device node (%u:%u); --keep-privileges makes them",
		        s->path, major((dev_t)n->rdev), minor((dev_t)n->rdev));
		return 0;
	}
	clear_way(dirfd, n->name);
	/* mknodat/mkfifoat/symlinkat fail on an existing name: nothing is followed. */
	switch (n->type) {
	case NODE_SYMLINK:
		rc = symlinkat(n->target, dirfd, n->name);
		break;
	case NODE_FIFO:
		rc = mkfifoat(dirfd, n->name, perm);
		break;
	case NODE_CHR:
		rc = mknodat(dirfd, n->name, S_IFCHR | perm, (dev_t)n->rdev);
		break;
	case NODE_BLK:
		rc = mknodat(dirfd, n->name, S_IFBLK | perm, (dev_t)n->rdev);
		break;
	case NODE_SOCK:
		rc = mknodat(dirfd, n->name, S_IFSOCK | perm, 0);
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

/* A second name of a file restored earlier; that one may still be in flight under its
 * temporary name, so wait for it once before giving up. */
static int restore_link(struct rs *s, int dirfd, const char *first, const struct node *n)
{
	int rc;

	if (s->o->skip_identical) {
		/* The first name may still be in flight: it is compared once it landed. */
		rs_flush(s);
		rs_drain(s);
		if (rs_link_same(s, first, dirfd, n->name) == 1) {
			s->res->files++;
			s->res->skipped++;
			return 0;
		}
	}
	clear_way(dirfd, n->name);
	rc = rs_link_make(s, first, dirfd, n->name);
	if (rc == -ENOENT) {
		rs_flush(s);
		rs_drain(s);
		rc = rs_link_make(s, first, dirfd, n->name);
	}
	if (rc == -ENOENT)
		rs_warn(s, s->path, rc, "%s: not restored: its other name %s was not restored",
		        s->path, first);
	else if (rc >= 0)
		s->res->files++;
	return rc == -ENOENT ? 0 : rc;
}

static int restore_dir(struct rs *s, struct level *here, const struct node *dir, bool selected);

static int restore_entry(struct rs *s, struct level *here, struct node *n, bool selected)
{
	const struct restore_opts *o = s->o;
	const char *first;
	bool differs = false;
	int dirfd, rc = 0;

	if (match_any(o->excludes, o->n_excludes, s->path, n->name))
		return 0;
	if (!selected && o->n_includes)
		selected = match_any(o->includes, o->n_includes, s->path, n->name);
	else if (!o->n_includes)
		selected = true;
	/* The backup named the entry but could not read it whole (replaced while it was read,
	 * or its data lost and the snapshot repaired): what the snapshot holds is restored, a
	 * repaired file's lost ranges as zeros, and the entry is named so that it never looks
	 * whole (counted in errors: exit 3). */
	if (selected && (n->flags & NODE_UNREADABLE)) {
		/* A link replaced between the walk's stat and its read has no target to make. */
		if (n->type == NODE_SYMLINK && (!n->target || !n->target_len)) {
			rs_warn(s, s->path, -ENODATA,
			        "%s: not restored: the backup could not read this symlink (replaced "
			        "while read)",
			        s->path);
			return 0;
		}
		rs_warn(s, s->path, -ENODATA,
		        "%s: restored incomplete: the backup could not read it whole (replaced "
		        "while read, or its data lost and the snapshot repaired)",
		        s->path);
	}
	if (n->type == NODE_DIR) {
		struct level sub = { .up = here, .name = n->name, .meta = n };

		rc = restore_dir(s, &sub, n, selected);
		if (rc >= 0 && selected && !sub.d)
			rc = level_fd(s, &sub); /* an empty folder is restored too */
		/* Its metadata lands when its last file is finished. */
		rs_dir_put(s, sub.d);
		return rc < 0 ? rc : 0;
	}
	if (!selected)
		return 0;
	dirfd = level_fd(s, here);
	if (dirfd < 0)
		return dirfd;
	first = n->type == NODE_FILE ? rs_link_seen(&s->links, n, s->path, &differs) : NULL;
	if (first)
		return restore_link(s, dirfd, first, n);
	/* Restored with its own content, not linked to a name holding other bytes (a file
	 * written between the backup's reads of its two names, or a forged snapshot). */
	if (differs)
		rs_note(s, s->path,
		        "%s: restored as a separate file, not a hardlink: another name of its "
		        "inode holds other content",
		        s->path);
	if (n->type == NODE_FILE)
		return restore_file(s, here, n);
	return restore_special(s, dirfd, n);
}

/* Appends "/name" to the walker's path, or refuses a name no restore may use: a forged
 * "..", ".", "" or "a/b" would reach outside the target. */
static int enter_name(struct rs *s, const struct node *n)
{
	char shown[4 * NAME_MAX + 8];
	size_t saved = s->path_len;

	if (!rs_name_ok(n)) {
		rs_name_show(n->name ? n->name : "", n->name ? n->name_len : 0, shown,
		             sizeof(shown));
		snprintf(s->path + saved, sizeof(s->path) - saved, "/\"%s\"", shown);
		rs_warn(s, s->path, -EBADMSG,
		        "%s: not restored: the snapshot holds an invalid name (forged or corrupt)",
		        s->path);
		s->path[saved] = 0;
		return -EBADMSG;
	}
	if (saved + 2 + n->name_len >= sizeof(s->path)) {
		rs_warn(s, s->path, -ENAMETOOLONG, "%s/%s: path too long", s->path, n->name);
		return -ENAMETOOLONG;
	}
	s->path[s->path_len++] = '/';
	memcpy(s->path + s->path_len, n->name, n->name_len + 1);
	s->path_len += n->name_len;
	return 0;
}

/* 1 when n (entered in s->path) is the entry of its name to restore: in a folder, one
 * that sorts after the last kept (prev); at the root, the first copy of its name, as the
 * mount shows (fuse/dirlist.c). 0 after naming a copy left out; a negative errno (with
 * s->e set) when the root holds more names than any backup could. */
static int entry_kept(struct rs *s, bool root, const char *prev, size_t prev_len,
                      const struct node *n)
{
	int rc;

	if (!root) {
		if (!prev_len || rs_name_after(prev, prev_len, n))
			return 1;
		rs_warn(s, s->path, -EBADMSG,
		        "%s: not restored: the snapshot holds this name twice or out of order "
		        "(forged or corrupt)",
		        s->path);
		return 0;
	}
	rc = rs_roots_add(&s->roots, n->name, n->name_len);
	if (rc == -EFBIG)
		return err_set(s->e, rc,
		               "the snapshot root holds more than %u entries (forged or corrupt)",
		               RS_ROOT_MAX_NAMES);
	if (rc < 0)
		return err_set(s->e, rc, "out of memory");
	if (rc == 0)
		rs_warn(s, s->path, -EBADMSG,
		        "%s: not restored: the snapshot root holds this name twice, the first copy "
		        "is restored (forged or corrupt, or a backup of paths such as a/data, "
		        "b/data and c/data-2 whose names clashed)",
		        s->path);
	return rc;
}

static int restore_dir(struct rs *s, struct level *here, const struct node *dir, bool selected)
{
	bool root = rs_is_root(dir);
	size_t saved = s->path_len, prev_len = 0, refused = 0;
	char prev[NAME_MAX + 1];
	struct rs_tree_iter it;
	struct node n;
	int rc;

	rs_tree_iter_init(&it, s, dir);
	while ((rc = rs_tree_iter_next(&it, &n)) > 0) {
		if (enter_name(s, &n) < 0) {
			node_release(&n);
			continue;
		}
		rc = entry_kept(s, root, prev, prev_len, &n);
		if (rc <= 0) {
			node_release(&n);
			s->path_len = saved;
			s->path[saved] = 0;
			if (rc < 0)
				break;
			if (++refused == RS_REFUSED_MAX) {
				rs_warn(s, s->path,
				        -EBADMSG, "%s: the rest of this folder is not restored: %d of its "
				        "names were held twice or out of order (forged or corrupt)",
				        s->path[0] ? s->path : "/", RS_REFUSED_MAX);
				break;
			}
			if (rs_stopping(s)) {
				rc = -ECANCELED;
				break;
			}
			continue;
		}
		memcpy(prev, n.name, n.name_len);
		prev_len = n.name_len;
		rc = restore_entry(s, here, &n, selected);
		if (rc < 0 && rc != -ENOMEM && rc != -ECANCELED && !s->e->code) {
			rs_warn(s, s->path, rc, "%s: %s", s->path, strerror(-rc));
			rc = 0;
		}
		node_release(&n);
		s->path_len = saved;
		s->path[saved] = 0;
		progress(s, false);
		if (rc >= 0 && rs_stopping(s))
			rc = -ECANCELED; /* the first error (or the cancel) is latched in s->fail */
		if (rc < 0)
			break;
	}
	rs_tree_iter_release(&it);
	return rc;
}

static int start_node(struct rs *s, const struct snapshot *snap, struct node *ret)
{
	const char *sub = s->o->subdir && s->o->subdir[0] ? s->o->subdir : "/";

	return repo_tree_lookup(s->repo, snap, sub, ret, s->e);
}

/* The walk recurses once per folder level: it runs on a big stack (util/deepcall.h). */
struct walk_call {
	struct rs *s;
	struct level *top;
	struct node *start;
};

static int walk_main(void *p)
{
	struct walk_call *c = p;
	const struct restore_opts *o = c->s->o;

	if (c->start->type == NODE_DIR)
		return restore_dir(c->s, c->top, c->start, false);
	if (enter_name(c->s, c->start) < 0)
		return err_set(c->s->e, -EBADMSG, "%s: the snapshot holds an invalid name",
		               o->subdir);
	return restore_entry(c->s, c->top, c->start, false);
}

/* --verify recurses once per folder level too: on the caller's stack a forged tree nested
 * a few thousand deep overflowed it (exit 139 under a 1 MiB stack at 3 000 levels). */
struct verify_call {
	struct rs *s;
	const struct node *start;
	int fd;
};

static int verify_main(void *p)
{
	struct verify_call *c = p;

	return rs_verify(c->s, c->start, c->fd);
}

/* The files the restore stopped in the middle of go into its error, by name as far as
 * they fit (none is left under its name); the walk stops too, so files never reached are
 * not among them. */
static void stopped_before(struct rs *s, struct err *e, int rc)
{
	char old[sizeof(e->msg)], more[48] = "";

	if (s->stopped_more)
		snprintf(more, sizeof(more), " and %llu more", (unsigned long long)s->stopped_more);
	memcpy(old, e->msg, sizeof(old));
	err_reset(e, rc, "%s; the restore stopped, not restored either: %s%s", old, s->stopped,
	          more);
}

int restore_run(struct repo *r, const struct restore_opts *o, struct restore_result *ret,
                struct err *e)
{
	struct restore_result res = { 0 };
	struct rs s = { .repo = r,
		        .o = o,
		        .e = e,
		        .res = &res,
		        .target_fd = -1,
		        .warn_lock = PTHREAD_MUTEX_INITIALIZER };
	struct snapshot snap = { 0 };
	struct node start = { 0 };
	struct level top = { 0 };
	int rc, threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	clock_gettime(CLOCK_MONOTONIC, &s.start);
	s.last = s.start;
	rs_temp_init(&s);
	s.owners = o->owners < 0 ? geteuid() == 0 : o->owners > 0;
	rc = repo_snapshot_load(r, o->snapshot, &snap, e);
	if (rc >= 0)
		rc = repo_index_load(r, e);
	if (rc >= 0)
		rc = start_node(&s, &snap, &start);
	if (rc < 0)
		goto fail;
	s.trees = rs_trees_new(); /* without it, trees are read blob by blob */
	if (!o->no_space_check) {
		struct restore_space sp = { 0 };

		rc = rs_space_check(&s, &snap, &start, &sp);
		if (o->space)
			*o->space = sp;
		if (rc < 0)
			goto fail;
	}
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
	rc = dup(s.target_fd);
	top.d = rc >= 0 ? rs_dir_new(&s, rc, NULL, "") : NULL;
	if (!top.d) {
		if (rc >= 0)
			close(rc);
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = rs_fetch_start(&s, threads < 1 ? 1 : threads * 2);
	if (rc >= 0) {
		struct walk_call wc = { &s, &top, &start };

		rc = deepcall(walk_main, &wc, 0);
	}
	rs_dir_put(&s, top.d);
	{
		/* The first fatal error of the workers (or the cancel) wins over the walker's
		 * -ECANCELED that only meant "stop". */
		int wr = rs_fetch_stop(&s);

		if (rc >= 0 || (wr < 0 && rc == -ECANCELED))
			rc = wr;
	}
	if (rc >= 0 && o->clear_partials && start.type == NODE_DIR)
		rs_clear_partials(&s, &snap);
	/* The subdir's own folder metadata lands on the target folder. */
	if (rc >= 0 && start.type == NODE_DIR && o->subdir && strcmp(o->subdir, "/") != 0 &&
	    o->subdir[0])
		rs_apply_fd(&s, s.target_fd, &start, o->target);
	if (rc >= 0 && o->verify) {
		struct verify_call vc = { &s, &start, s.target_fd };

		rc = deepcall(verify_main, &vc, 0);
		if (rc < 0 && !e->code)
			err_set(e, rc, "verify: %s", strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	progress(&s, true);
	res.files += atomic_load(&s.files);
	res.dirs = atomic_load(&s.dirs);
	res.errors = atomic_load(&s.errors);
	res.privileges_dropped = atomic_load(&s.dropped);
	res.runs = atomic_load(&s.runs);
	res.bytes = res.bytes > s.bytes_lost ? res.bytes - s.bytes_lost : 0;
	*ret = res;
fail:
	if (rc < 0 && s.q) {
		/* The first error is the one reported; stopping only joins the threads. */
		int ignored = rs_fetch_stop(&s);

		(void)ignored;
	}
	if (rc < 0 && s.stopped_len)
		stopped_before(&s, e, rc);
	if (s.target_fd >= 0)
		close(s.target_fd);
	rs_reap(&s); /* the folders put last, after the workers stopped */
	rs_links_release(&s.links);
	rs_roots_release(&s.roots);
	rs_trees_free(s.trees);
	node_release(&start);
	snapshot_release(&snap);
	/* A long-running agent must not keep a backup's peak: hand freed heap back. */
	malloc_trim(0);
	return rc;
}
