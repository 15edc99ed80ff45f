/* Owns the free-space check a restore makes before it writes anything: the bytes it will
 * need (data extents, holes left out, a hard-linked inode once, an allowance per entry)
 * against what the target's filesystem has free, so a too-small volume is named at once
 * instead of after gigabytes were written. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/deepcall.h"

/* Every entry restored costs an inode, a directory entry and, for a file, its last
 * partial block: 4 KiB covers that on ext4, xfs and tmpfs (4 KiB blocks and pages). */
#define SPACE_ENTRY_BYTES 4096u
/* (dev, inode) pairs remembered to count a hard-linked file once; past this many the
 * further links are counted each time (the estimate only grows). 24 B each: 6 MiB. */
#define SPACE_LINKS_MAX (1u << 18)
#define SPACE_ENTRIES_MAX (1u << 26)

struct space_link {
	uint64_t dev, inode;
	bool used;
};

struct space_walk {
	struct rs *s;
	int target_fd; /* the target when it exists: files the restore replaces; else -1 */
	uint64_t need, replaced, replaced_max;
	/* Where the walk stops: a need past twice the filesystem's size and 1 GiB can never
	 * fit, whatever the files replaced free (the figure is then "more than"); past
	 * SPACE_ENTRIES_MAX entries it is not measured at all. A forged snapshot of 2^40
	 * paths in 80 tree blobs was otherwise walked for ever before the restore began. */
	uint64_t limit, entries;
	bool over, unmeasured;
	struct space_link *links;
	size_t n_links, cap_links;
	uint64_t seed;
	struct rs_roots roots;
	/* Relative to the target, "/a/b", as long as the restore's own (s->path). */
	char path[sizeof(((struct rs *)0)->path)];
	size_t len;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return ckd_add(&r, a, b) ? UINT64_MAX : r;
}

static size_t link_slot(const struct space_walk *w, uint64_t dev, uint64_t inode)
{
	uint64_t key[2] = { dev, inode };
	size_t i = (size_t)XXH3_64bits_withSeed(key, sizeof(key), w->seed) & (w->cap_links - 1);

	while (w->links[i].used && (w->links[i].dev != dev || w->links[i].inode != inode))
		i = (i + 1) & (w->cap_links - 1);
	return i;
}

/* Double the table, kept at most half full. */
static int links_grow(struct space_walk *w)
{
	size_t cap = w->cap_links ? 2 * w->cap_links : 1024;
	struct space_link *old = w->links;
	size_t old_cap = w->cap_links;

	w->links = calloc(cap, sizeof(*w->links));
	if (!w->links) {
		w->links = old;
		return -ENOMEM;
	}
	w->cap_links = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			w->links[link_slot(w, old[i].dev, old[i].inode)] = old[i];
	free(old);
	return 0;
}

/* true when (dev, inode) was counted already. The seed is one the snapshot's writer cannot
 * know, so a forged tree cannot make every inode probe the same slots. */
static bool link_seen(struct space_walk *w, const struct node *n)
{
	size_t i;

	if (n->nlink < 2 || w->n_links >= SPACE_LINKS_MAX)
		return false;
	if (2 * (w->n_links + 1) > w->cap_links && links_grow(w) < 0)
		return false; /* out of memory: count it again, the estimate only grows */
	i = link_slot(w, n->dev, n->inode);
	if (w->links[i].used)
		return true;
	w->links[i] = (struct space_link){ n->dev, n->inode, true };
	w->n_links++;
	return false;
}

/* The bytes the restore writes for n, as restore_file does: nothing when its extents do
 * not add up to its size (it is not restored), holes only with no_sparse, and an extent
 * only as far as its blob in the index holds plaintext (a forged tree cannot claim data
 * the repository does not have). */
static uint64_t file_bytes(struct space_walk *w, const struct node *n)
{
	uint64_t sum = 0, data = 0;

	for (size_t i = 0; i < n->n_content; i++)
		if (ckd_add(&sum, sum, n->content[i].len))
			return 0;
	if (sum != n->size || n->size > INT64_MAX)
		return 0;
	for (size_t i = 0; i < n->n_content; i++) {
		const struct extent *x = &n->content[i];
		struct blob_loc loc;

		if (x->hole) {
			if (w->s->o->no_sparse)
				data += x->len; /* bounded by n->size above */
			continue;
		}
		if (repo_blob_lookup(w->s->repo, BLOB_DATA, x->id, &loc) < 0)
			continue;
		data += x->len < loc.raw_len ? x->len : loc.raw_len;
	}
	return data;
}

/* A file at the target that the restore replaces frees its blocks when the new one is
 * renamed over it. Only a single-link regular file: other links keep the blocks. */
static void count_replaced(struct space_walk *w)
{
	struct stat st;
	uint64_t b;

	if (w->target_fd < 0 || fstatat(w->target_fd, w->path + 1, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_blocks <= 0)
		return;
	b = (uint64_t)st.st_blocks * 512u;
	w->replaced = sat_add(w->replaced, b);
	if (b > w->replaced_max)
		w->replaced_max = b;
}

static bool match_any(const char *const *globs, size_t n, const char *path, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], path, 0) == 0 || fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

static int walk_dir(struct space_walk *w, const struct node *dir, bool selected);

/* Mirrors restore_entry's choice: excludes drop a subtree, an include selects one. */
static int walk_entry(struct space_walk *w, const struct node *n, bool selected)
{
	const struct restore_opts *o = w->s->o;

	if (match_any(o->excludes, o->n_excludes, w->path, n->name))
		return 0;
	if (!selected && o->n_includes)
		selected = match_any(o->includes, o->n_includes, w->path, n->name);
	else if (!o->n_includes)
		selected = true;
	if (n->type == NODE_DIR) {
		/* Counted even when only something inside is selected: it is made then. */
		w->need = sat_add(w->need, SPACE_ENTRY_BYTES);
		return walk_dir(w, n, selected);
	}
	if (!selected)
		return 0;
	w->need = sat_add(w->need, SPACE_ENTRY_BYTES);
	if (n->type == NODE_FILE && !link_seen(w, n)) {
		w->need = sat_add(w->need, file_bytes(w, n));
		count_replaced(w);
	}
	if (w->need > w->limit) {
		w->over = true;
		return -EFBIG; /* ends the walk: refused below */
	}
	if (++w->entries > SPACE_ENTRIES_MAX) {
		w->unmeasured = true;
		return -EFBIG; /* ends the walk: the restore goes on unchecked */
	}
	return 0;
}

/* Appends "/name" as restore's enter_name does; false for a name it refuses. */
static bool enter(struct space_walk *w, const struct node *n)
{
	if (!rs_name_ok(n))
		return false;
	if (w->len + 2 + n->name_len >= sizeof(w->path))
		return false; /* the restore refuses it too (path too long) */
	w->path[w->len++] = '/';
	memcpy(w->path + w->len, n->name, n->name_len);
	w->len += n->name_len;
	w->path[w->len] = 0;
	return true;
}

/* Whether restore_dir keeps n (entry_kept): in a folder, names in strictly rising order;
 * at the root, the first copy of a name. */
static int kept(struct space_walk *w, bool root, const char *prev, size_t prev_len,
                const struct node *n)
{
	if (!root)
		return !prev_len || rs_name_after(prev, prev_len, n);
	return rs_roots_add(&w->roots, n->name, n->name_len);
}

static int walk_dir(struct space_walk *w, const struct node *dir, bool selected)
{
	bool root = rs_is_root(dir);
	size_t saved = w->len, prev_len = 0, refused = 0;
	char prev[NAME_MAX + 1];
	struct rs_tree_iter it;
	struct node n;
	int rc;

	rs_tree_iter_init(&it, w->s, dir);
	while ((rc = rs_tree_iter_next(&it, &n)) > 0) {
		if (w->s->o->cancel && w->s->o->cancel(w->s->o->ud))
			rc = err_set(w->s->e, -ECANCELED, "restore cancelled");
		else if (enter(w, &n) && (rc = kept(w, root, prev, prev_len, &n)) > 0) {
			memcpy(prev, n.name, n.name_len);
			prev_len = n.name_len;
			rc = walk_entry(w, &n, selected);
		} else if (rc == 0 && ++refused == RS_REFUSED_MAX) {
			rc = -EALREADY; /* restore_dir leaves the rest of this folder too */
		}
		node_release(&n);
		w->len = saved;
		w->path[saved] = 0;
		if (rc == -EALREADY) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
	}
	rs_tree_iter_release(&it);
	return rc < 0 ? rc : 0;
}

struct space_call {
	struct space_walk *w;
	const struct node *start;
};

/* The walk recurses once per folder level, as the restore's: on a big stack. */
static int space_main(void *p)
{
	struct space_call *c = p;

	if (c->start->type == NODE_DIR)
		return walk_dir(c->w, c->start, false);
	if (!enter(c->w, c->start))
		return 0;
	return walk_entry(c->w, c->start, false);
}

/* The free bytes of the filesystem that will hold target: the target may not exist yet,
 * so its nearest existing parent is measured (name it in dir). */
static int free_bytes(const char *target, char *dir, size_t max, uint64_t *ret,
                      uint64_t *ret_size)
{
	struct statvfs v;
	uint64_t b;
	char *slash;
	int k = snprintf(dir, max, "%s", target);

	if (k < 0 || (size_t)k >= max)
		return -ENAMETOOLONG;
	for (;;) {
		if (statvfs(dir, &v) == 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		while (k > 1 && dir[k - 1] == '/')
			dir[--k] = 0;
		slash = strrchr(dir, '/');
		if (!slash)
			k = snprintf(dir, max, ".");
		else if (slash == dir)
			k = snprintf(dir, max, "/");
		else {
			*slash = 0;
			k = (int)(slash - dir);
		}
		if (strcmp(dir, ".") == 0 && statvfs(dir, &v) < 0)
			return -errno;
	}
	/* Some filesystems (FUSE ones, network ones) keep no block count and say 0 free:
	 * nothing can be measured there. */
	if (!v.f_blocks || !v.f_frsize)
		return -EOPNOTSUPP;
	*ret = ckd_mul(&b, (uint64_t)v.f_bavail, (uint64_t)v.f_frsize) ? UINT64_MAX : b;
	*ret_size = ckd_mul(&b, (uint64_t)v.f_blocks, (uint64_t)v.f_frsize) ? UINT64_MAX : b;
	return 0;
}

static void human(uint64_t v, char *out, size_t max)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	size_t u = 0;

	while (d >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		d /= 1024;
		u++;
	}
	snprintf(out, max, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
}

/* The need from the snapshot's summary: an upper bound for any part of an honest snapshot
 * (apparent sizes, every hard link counted), so when it fits no tree is walked. A forged
 * summary can only make this skip the check; it never refuses (the walk decides that). */
static bool summary_fits(const struct snapshot *snap, uint64_t free, uint64_t *ret)
{
	const struct snapshot_summary *m = &snap->summary;
	uint64_t entries = 0, need = 0;

	if (!m->total_files)
		return false; /* no summary (an old or rewritten snapshot): walk */
	if (ckd_add(&entries, m->total_files, m->dirs_new) ||
	    ckd_add(&entries, entries, m->dirs_changed) ||
	    ckd_add(&entries, entries, m->dirs_unmodified) ||
	    ckd_mul(&need, entries, (uint64_t)SPACE_ENTRY_BYTES) ||
	    ckd_add(&need, need, m->total_bytes) || need > free)
		return false;
	*ret = need;
	return true;
}

/* The repository is hostile input. A forged summary can only skip the check (it is used
 * to accept, never to refuse); the walk counts what restore_run would write: entries it
 * refuses (bad names, repeats, extents that do not add up to the size) count nothing, an
 * extent no more than its blob holds, and every sum saturates instead of wrapping. So a
 * forged tree makes the need exceed the bytes written by at most 4 KiB per entry restored
 * plus the data of files whose blobs are in the index but fail to decrypt. */
int rs_space_check(struct rs *s, const struct snapshot *snap, const struct node *start,
                   struct restore_space *ret)
{
	struct restore_space sp = { .checked = true };
	struct space_walk *w = NULL;
	char dir[PATH_MAX], need_s[32], free_s[32];
	uint64_t fs_bytes = 0;
	int rc;

	rc = free_bytes(s->o->target, dir, sizeof(dir), &sp.free, &fs_bytes);
	if (rc < 0)
		return 0; /* not measurable: the restore goes on (mkdir_p names a bad target) */
	if (summary_fits(snap, sp.free, &sp.needed)) {
		sp.from_summary = true;
		goto done;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(s->e, -ENOMEM, "out of memory");
	w->s = s;
	w->limit = sat_add(sat_add(fs_bytes, fs_bytes), 1ull << 30);
	w->target_fd = open(s->o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (getrandom(&w->seed, sizeof(w->seed), 0) != (ssize_t)sizeof(w->seed))
		w->seed = (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15ull;
	{
		struct space_call c = { w, start };

		rc = deepcall(space_main, &c, 0);
	}
	if (w->over || w->unmeasured)
		rc = 0; /* the walk stopped at its bound: refused or not measured below */
	if (rc == -ENOMEM && !s->e->code)
		err_set(s->e, rc, "out of memory");
	if (rc < 0 && rc != -ECANCELED && rc != -ENOMEM) {
		/* A tree that cannot be read: the restore names it, canonically. */
		err_clear(s->e);
		rc = 0;
		sp.checked = false;
		goto done;
	}
	if (rc < 0)
		goto fail;
	/* A file in flight coexists with its old copy: the largest is not counted as freed. */
	sp.replaced = w->replaced - w->replaced_max;
	sp.needed = w->need > sp.replaced ? w->need - sp.replaced : 0;
	if (w->over)
		sp.needed = w->need; /* at least this: more than the whole filesystem */
	if (w->unmeasured)
		sp.checked = false;
done:
	*ret = sp;
	if (sp.checked && sp.needed > sp.free) {
		human(sp.needed, need_s, sizeof(need_s));
		human(sp.free, free_s, sizeof(free_s));
		rc = err_set(s->e, -ENOSPC,
		             "restore needs %s%s but %s has %s free; --no-space-check to try anyway",
		             w && w->over ? "more than " : "", need_s, dir, free_s);
	}
fail:
	if (w) {
		if (w->target_fd >= 0)
			close(w->target_fd);
		rs_roots_release(&w->roots);
		free(w->links);
		free(w);
	}
	return rc;
}
