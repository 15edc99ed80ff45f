/* Owns finding progress totals without touching the engines: a thread that walks a
 * backup's paths ahead of the reader (counting, never reading file data), and a count of
 * what a restore will write from the snapshot's trees. */
#include "cli/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

/* Deeper folders are not counted (the total is then low and the line reaches 100%
 * early; the final line is exact): it bounds the open folders, each a file descriptor
 * and glibc's 32 KiB of DIR buffer, to 4 MiB. */
#define SCAN_DEPTH 128

struct walk {
	struct cli_scan *s;
	dev_t root_dev;
	char path[16384];
	size_t len;
};

/* The same rule as the backup walker's: a glob against the full path or the name. */
static bool excluded(const char *const *globs, size_t n, const char *path, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], path, 0) == 0 || fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

/* Listing a folder would update its atime, which the backup itself avoids (it would make
 * the next backup see every folder modified): O_NOATIME when allowed, as the walker. */
static int open_dir(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static void walk_dir(struct walk *w, int fd, unsigned depth)
{
	struct cli_scan *s = w->s;
	size_t saved = w->len;
	struct dirent *de;
	DIR *d = fdopendir(fd);

	if (!d) {
		close(fd);
		return;
	}
	while (!atomic_load(&s->stop) && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    saved + 2 + n >= sizeof(w->path))
			continue;
		w->len = saved;
		if (!saved || w->path[saved - 1] != '/')
			w->path[w->len++] = '/';
		memcpy(w->path + w->len, de->d_name, n + 1);
		w->len += n;
		if (excluded(s->excludes, s->n_excludes, w->path, de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			atomic_fetch_add(&s->files, 1);
			atomic_fetch_add(&s->bytes, (uint64_t)st.st_size);
		} else if (S_ISDIR(st.st_mode) && depth < SCAN_DEPTH &&
		           (!s->one_file_system || st.st_dev == w->root_dev)) {
			sub = open_dir(dirfd(d), de->d_name);
			if (sub >= 0)
				walk_dir(w, sub, depth + 1);
		}
	}
	w->len = saved;
	w->path[saved] = 0;
	closedir(d);
}

static void *scan_main(void *arg)
{
	struct cli_scan *s = arg;
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;

	for (size_t i = 0; w && i < s->n_paths && !atomic_load(&s->stop); i++) {
		int fd;

		if (lstat(s->paths[i], &st) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			atomic_fetch_add(&s->files, 1);
			atomic_fetch_add(&s->bytes, (uint64_t)st.st_size);
			continue;
		}
		fd = S_ISDIR(st.st_mode) ? open_dir(AT_FDCWD, s->paths[i]) : -1;
		if (fd < 0)
			continue;
		w->s = s;
		w->root_dev = st.st_dev;
		snprintf(w->path, sizeof(w->path), "%s", s->paths[i]);
		w->len = strlen(w->path);
		walk_dir(w, fd, 1);
	}
	free(w);
	atomic_store(&s->done, true);
	return NULL;
}

int cli_scan_start(struct cli_scan *s)
{
	int rc;

	atomic_init(&s->files, 0);
	atomic_init(&s->bytes, 0);
	atomic_init(&s->done, false);
	atomic_init(&s->stop, false);
	rc = pthread_create(&s->thread, NULL, scan_main, s);
	if (rc)
		return -rc;
	s->started = true;
	return 0;
}

void cli_scan_stop(struct cli_scan *s)
{
	if (!s->started)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	s->started = false;
}

struct rcount {
	struct repo *r;
	const struct restore_opts *o;
	char path[16384];
	size_t len;
	uint64_t files, bytes;
	struct err *e;
};

/* Mirrors restore_entry's choice: excludes drop a subtree, an include selects one. */
static int count_dir(struct rcount *c, const struct node *dir, bool selected)
{
	size_t saved = c->len;
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init(&it, c->r, dir);
	while ((rc = tree_iter_next(&it, &n, c->e)) > 0) {
		bool sel = selected;

		if (saved + 2 + n.name_len < sizeof(c->path)) {
			c->path[c->len++] = '/';
			memcpy(c->path + c->len, n.name, n.name_len);
			c->len += n.name_len;
			c->path[c->len] = 0;
		}
		if (excluded(c->o->excludes, c->o->n_excludes, c->path, n.name))
			goto next;
		if (!sel && c->o->n_includes)
			sel = excluded(c->o->includes, c->o->n_includes, c->path, n.name);
		else if (!c->o->n_includes)
			sel = true;
		if (n.type == NODE_DIR) {
			rc = count_dir(c, &n, sel);
		} else if (sel && n.type == NODE_FILE) {
			c->files++;
			c->bytes += n.size;
		}
	next:
		node_release(&n);
		c->len = saved;
		c->path[saved] = 0;
		if (rc < 0)
			break;
	}
	tree_iter_release(&it);
	return rc;
}

int cli_restore_total(struct repo *r, const struct restore_opts *o, uint64_t *ret_files,
                      uint64_t *ret_bytes, struct err *e)
{
	struct rcount *c = calloc(1, sizeof(*c));
	struct snapshot snap = { 0 };
	struct node start = { 0 };
	const char *sub = o->subdir && o->subdir[0] ? o->subdir : "/";
	int rc;

	if (!c)
		return err_set(e, -ENOMEM, "out of memory");
	c->r = r;
	c->o = o;
	c->e = e;
	rc = repo_snapshot_load(r, o->snapshot, &snap, e);
	if (rc >= 0)
		rc = repo_index_load(r, e);
	if (rc >= 0)
		rc = repo_tree_lookup(r, &snap, sub, &start, e);
	if (rc >= 0 && start.type == NODE_DIR) {
		rc = count_dir(c, &start, false);
	} else if (rc >= 0 && start.type == NODE_FILE) {
		c->files = 1;
		c->bytes = start.size;
	}
	if (rc >= 0) {
		*ret_files = c->files;
		*ret_bytes = c->bytes;
	}
	node_release(&start);
	snapshot_release(&snap);
	free(c);
	return rc < 0 ? rc : 0;
}
