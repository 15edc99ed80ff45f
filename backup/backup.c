/* Owns one backup run: lock, index (with orphan adoption so an interrupted run's uploads
 * are reused), parent selection, the root tree over all paths, snapshot write. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/deepcall.h"
#include "util/hex.h"
#include "util/banned.h"

static bool has_tag(const struct snapshot *s, const char *t)
{
	for (size_t i = 0; i < s->n_tags; i++)
		if (!strcmp(s->tags[i], t))
			return true;
	return false;
}

static bool same_paths(const struct snapshot *s, char **paths, size_t n)
{
	if (s->n_paths != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->paths[i], paths[i]) != 0)
			return false;
	return true;
}

/* Explicit id, else newest with all parent_tags (volume identity), else newest with the
 * same host and paths. 1 found, 0 none. */
int bk_find_parent(struct bk *b, const char *host, char **paths, size_t n_paths,
                   struct snapshot *ret)
{
	const struct backup_opts *o = b->o;
	struct snapshot *all = NULL;
	size_t n = 0;
	int rc;

	if (o->no_parent)
		return 0;
	if (o->parent) {
		rc = repo_snapshot_load(b->repo, o->parent, ret, b->e);
		return rc < 0 ? rc : 1;
	}
	rc = repo_snapshot_list(b->repo, &all, &n, b->e);
	if (rc < 0)
		return rc;
	for (size_t i = n; i-- > 0;) {
		bool match = true;

		if (o->n_parent_tags) {
			for (size_t t = 0; t < o->n_parent_tags && match; t++)
				match = has_tag(&all[i], o->parent_tags[t]);
		} else {
			match =
			    !strcmp(all[i].hostname, host) && same_paths(&all[i], paths, n_paths);
		}
		if (match) {
			*ret = all[i];
			memset(&all[i], 0, sizeof(all[i]));
			snapshot_list_free(all, n);
			return 1;
		}
	}
	snapshot_list_free(all, n);
	return 0;
}

/* Find the parent snapshot's root entry named like ours. */
int bk_parent_root_node(struct bk *b, const struct snapshot *p, const char *name, struct node *ret)
{
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init_root(&it, b->repo, p->tree, p->n_tree);
	while ((rc = tree_iter_next(&it, &n, b->e)) > 0) {
		if (n.name_len == strlen(name) && !memcmp(n.name, name, n.name_len)) {
			*ret = n;
			break;
		}
		node_release(&n);
	}
	tree_iter_release(&it);
	return rc;
}

/* The mount id of a root path, to tell bind mounts inside it; 0 when unknown. */
static uint64_t root_mount_id(int dfd, const char *name)
{
	struct statx sx;

	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &sx) < 0 ||
	    !(sx.stx_mask & STATX_MNT_ID))
		return 0;
	return sx.stx_mnt_id;
}

static int backup_roots(struct bk *b, char **paths, size_t n_paths, const struct snapshot *parent,
                        struct snapshot *snap)
{
	struct buf seg = BUF_INIT;
	struct node root = { 0 };
	char(*names)[BK_NAME_MAX + 1] = NULL;
	size_t count = 0;
	int rc = 0;

	buf_init(&seg, 1u << 30);
	rc = bk_root_names(paths, n_paths, &names, b->e);
	if (rc >= 0)
		rc = tree_encode_header(&seg);
	for (size_t i = 0; rc >= 0 && i < n_paths; i++) {
		const char *name = names[i];
		char dir[PATH_MAX];
		struct node pn = { 0 }, child = { 0 };
		const char *base;
		struct stat st;
		int dfd;
		bool have_parent = false;

		snprintf(dir, sizeof(dir), "%s", paths[i]);
		if (parent) {
			rc = bk_parent_root_node(b, parent, name, &pn);
			if (rc < 0)
				break;
			have_parent = rc > 0;
		}
		dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		snprintf(dir, sizeof(dir), "%s", paths[i]);
		base = basename(dir);
		if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = err_set(b->e, -ENOENT, "%s: no such file or directory", paths[i]);
			if (dfd >= 0)
				close(dfd);
			node_release(&pn);
			break;
		}
		b->root_dev = st.st_dev;
		b->root_mnt_id = root_mount_id(dfd, base);
		/* The walker's path starts at the parent folder so messages show full paths. */
		snprintf(b->path, sizeof(b->path), "%s", paths[i]);
		b->path_len = strlen(b->path) - strlen(base);
		b->path[b->path_len] = 0;
		if (!strcmp(paths[i], "/")) {
			rc = bk_entry(b, dfd, ".", 1, have_parent ? &pn : NULL, &child);
		} else {
			rc = bk_entry(b, dfd, base, strlen(base), have_parent ? &pn : NULL, &child);
		}
		close(dfd);
		node_release(&pn);
		if (rc == 0) {
			if (child.type != NODE_DIR || child.n_content)
				b->nonempty = true;
			free(child.name);
			child.name = strdup(name);
			child.name_len = strlen(name);
			rc = child.name ? tree_encode_node(&seg, &child) : -ENOMEM;
			count++;
		} else if (rc == 1) {
			rc = 0;
		}
		node_release(&child);
	}
	if (rc >= 0 && count) {
		uint8_t id[ID_BYTES];

		rc = bk_save_blob(b, BLOB_TREE, seg.p, seg.len, id);
		if (rc >= 0) {
			snap->tree = calloc(1, sizeof(*snap->tree));
			if (!snap->tree)
				rc = -ENOMEM;
			else {
				memcpy(snap->tree[0].id, id, ID_BYTES);
				snap->tree[0].len = count;
				snap->n_tree = 1;
			}
		}
	}
	buf_release(&seg);
	free(names);
	node_release(&root);
	return rc;
}

static int abs_paths(const struct backup_opts *o, char ***ret, struct err *e)
{
	char **v = calloc(o->n_paths + 1, sizeof(*v));

	if (!v)
		return err_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < o->n_paths; i++) {
		v[i] = realpath(o->paths[i], NULL);
		if (!v[i]) {
			int rc = -errno;

			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return err_set(e, rc == -ENOENT ? -ENOENT : rc, "%s: %s", o->paths[i],
			               strerror(-rc));
		}
	}
	*ret = v;
	return 0;
}

int bk_snapshot_fill(struct snapshot *s, const struct backup_opts *o, const char *host,
                     char **paths)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	s->time_sec = now.tv_sec;
	s->time_nsec = (uint32_t)now.tv_nsec;
	s->hostname = strdup(host);
	s->username =
	    strdup(getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res ? pw.pw_name : "");
	s->program_version = strdup("cairn " CAIRN_VERSION);
	s->paths = paths;
	s->n_paths = o->n_paths;
	s->tags = calloc(o->n_tags + 1, sizeof(*s->tags));
	if (!s->hostname || !s->username || !s->program_version || !s->tags)
		return -ENOMEM;
	for (; s->n_tags < o->n_tags; s->n_tags++) {
		s->tags[s->n_tags] = strdup(o->tags[s->n_tags]);
		if (!s->tags[s->n_tags])
			return -ENOMEM;
	}
	return 0;
}

/* backup_roots on a big stack (util/deepcall.h): the walk recurses once per level. */
struct roots_call {
	struct bk *b;
	char **paths;
	size_t n_paths;
	const struct snapshot *parent;
	struct snapshot *snap;
};

static int roots_main(void *p)
{
	struct roots_call *c = p;

	return backup_roots(c->b, c->paths, c->n_paths, c->parent, c->snap);
}

void bk_lost_packs(struct bk *b)
{
	uint8_t first[ID_BYTES];
	char hex[ID_HEX], msg[256];
	size_t blobs, n = repo_lost_packs(b->repo, &blobs, first);

	if (!n)
		return;
	b->lost = true;
	if (!b->o->warn)
		return;
	/* A warning, not a failed file: this backup stores what it needs again and its
	 * snapshot is whole; the damage is the repository's, for check and repair. */
	hex_encode(first, ID_BYTES, hex);
	snprintf(msg, sizeof(msg),
	         "repository: pack %.16s%s is missing or shorter than the index says: %zu "
	         "blob(s) will be stored again; run 'cairn check' and 'cairn repair index'",
	         hex, n > 1 ? " (and others)" : "", blobs);
	b->o->warn(b->o->ud, "", -EBADMSG, msg);
}

int backup_run(struct repo *r, const struct backup_opts *o, struct backup_result *ret,
               struct err *e)
{
	struct bk b = { .repo = r, .o = o, .e = e };
	struct snapshot snap = { 0 }, parent = { 0 };
	struct repo_lock *lock = NULL;
	char host[256] = "", **paths = NULL;
	bool have_parent = false;
	int rc, threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	if (!o->n_paths)
		return err_set(e, -EINVAL, "nothing to back up: no paths given");
	pthread_mutex_init(&b.spare_lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b.start);
	b.last_progress = b.start;
	snprintf(host, sizeof(host), "%s", o->hostname ? o->hostname : "");
	if (!host[0])
		gethostname(host, sizeof(host) - 1);
	rc = abs_paths(o, &paths, e);
	if (rc < 0)
		goto fail;
	rc = repo_lock(r, REPO_LOCK_SHARED, &lock, e);
	if (rc < 0)
		goto fail;
	rc = (int)repo_index_adopt_orphans(r, e);
	if (rc < 0)
		goto fail;
	bk_lost_packs(&b);
	rc = bk_find_parent(&b, host, paths, o->n_paths, &parent);
	if (rc < 0)
		goto fail;
	have_parent = rc > 0;
	b.rcap = repo_chunker(r)->p.max + 1u * 1024 * 1024;
	b.rbuf = malloc(b.rcap);
	if (!b.rbuf) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
	rc = hashpool_start(&b.hp, repo_key(r), threads - 1, e);
	if (rc < 0)
		goto fail;
	rc = bk_workers_start(&b, threads);
	if (rc >= 0) {
		struct roots_call rcall = { &b, paths, o->n_paths, have_parent ? &parent : NULL,
					    &snap };

		rc = deepcall(roots_main, &rcall, 0);
	}
	{
		int wr = bk_workers_stop(&b);

		if (rc >= 0 || rc == -ECANCELED)
			rc = wr < 0 ? wr : rc;
	}
	if (rc == -ECANCELED && !e->code)
		err_set(e, rc, "backup cancelled");
	/* Even a failed or cancelled run indexes what it uploaded: the next run reuses it. */
	{
		struct err fe = ERR_INIT;
		int fr = repo_flush(r, rc < 0 ? &fe : e);

		if (rc >= 0)
			rc = fr;
	}
	if (rc < 0)
		goto fail;
	b.sum.bytes_added = atomic_load(&b.bytes_added);
	bk_progress(&b, true);
	memset(ret, 0, sizeof(*ret));
	ret->empty = !b.nonempty;
	if (snap.n_tree && !(ret->empty && o->skip_empty)) {
		rc = bk_snapshot_fill(&snap, o, host, paths);
		paths = NULL;
		if (rc < 0) {
			err_set(e, rc, "out of memory");
			goto fail;
		}
		if (have_parent) {
			snap.has_parent = true;
			memcpy(snap.parent, parent.id, ID_BYTES);
		}
		/* Not b.prog.elapsed: that is only kept when someone asked for progress, and a
		 * quiet backup would record a duration of 0. */
		{
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			b.sum.duration = (double)(now.tv_sec - b.start.tv_sec) +
					 (now.tv_nsec - b.start.tv_nsec) / 1e9;
		}
		snap.summary = b.sum;
		rc = repo_snapshot_save(r, &snap, e);
		if (rc < 0)
			goto fail;
		memcpy(ret->snapshot_id, snap.id, ID_BYTES);
	}
	ret->has_parent = have_parent;
	if (have_parent)
		memcpy(ret->parent_id, parent.id, ID_BYTES);
	ret->summary = b.sum;
fail:
	if (paths) {
		for (size_t i = 0; i < o->n_paths; i++)
			free(paths[i]);
		free(paths);
	}
	hashpool_stop(&b.hp);
	free(b.rbuf);
	snapshot_release(&snap);
	snapshot_release(&parent);
	repo_unlock(lock);
	pthread_mutex_destroy(&b.spare_lock);
	/* A long-running agent must not keep a backup's peak: hand freed heap back. */
	malloc_trim(0);
	return rc;
}
