/* Owns finding progress totals without touching the engines: a thread that walks a
 * backup's paths ahead of the reader (counting, never reading file data), and a count of
 * what a restore will write from the snapshot's trees. */
#include "cli/progress.h"

#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/banned.h"

/* nftw's callback has no user pointer: the scanner thread's own state, one per thread. */
static _Thread_local struct cli_scan *scan_self;

/* The same rule as the backup walker's: a glob against the full path or the name. */
static bool excluded(const char *const *globs, size_t n, const char *path, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], path, 0) == 0 || fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct cli_scan *s = scan_self;

	if (atomic_load(&s->stop))
		return FTW_STOP;
	if (ftw->level > 0 && excluded(s->excludes, s->n_excludes, path, path + ftw->base))
		return flag == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		atomic_fetch_add(&s->files, 1);
		atomic_fetch_add(&s->bytes, (uint64_t)st->st_size);
	}
	return FTW_CONTINUE;
}

static void *scan_main(void *arg)
{
	struct cli_scan *s = arg;
	int flags = FTW_PHYS | FTW_ACTIONRETVAL | (s->one_file_system ? FTW_MOUNT : 0);

	scan_self = s;
	/* At most 16 folders open at once: deeper levels are reopened by nftw. Unreadable
	 * folders are skipped, as the backup skips them with a warning. */
	for (size_t i = 0; i < s->n_paths && !atomic_load(&s->stop); i++)
		nftw(s->paths[i], visit, 16, flags);
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
