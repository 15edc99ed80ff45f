/* Owns the repository the restores keep open between jobs: the next PodVolumeRestore of
 * the same location skips the key derivation, the key and config reads and the reading of
 * every index file (issue 14's fixed cost per restore). One idle repository, checked out
 * by one job at a time, dropped (its key wiped by repo_free) when idle too long. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repo/backend.h"
#include "repo/repo.h"
#include "util/banned.h"
#include "util/log.h"

/* Idle seconds before the kept repository (its key and its index in memory) goes. */
#define REPOCACHE_IDLE_SEC 60
/* Index files remembered; a repository with more is not kept (each name costs 65 bytes). */
#define REPOCACHE_MAX_INDEX (1u << 20)

struct repocache {
	pthread_mutex_t lock;
	struct repo *repo; /* idle, or NULL */
	char *where;       /* URL and options it was opened with: never logged (options) */
	struct repocache_names names;
	double idle_since;
	unsigned idle_sec;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void repocache_names_release(struct repocache_names *n)
{
	free(n->v);
	n->v = NULL;
	n->n = n->cap = 0;
}

static int add_name(void *ud, const char *name, uint64_t size)
{
	struct repocache_names *n = ud;

	(void)size;
	if (strlen(name) != ID_HEX - 1)
		return 0; /* not an index file of ours: the loader skips it too */
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		char(*v)[ID_HEX];

		if (cap > REPOCACHE_MAX_INDEX)
			return -EFBIG;
		v = realloc(n->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		n->v = v;
		n->cap = cap;
	}
	memcpy(n->v[n->n++], name, ID_HEX);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return memcmp(a, b, ID_HEX);
}

int repocache_list_index(struct repo *r, struct repocache_names *ret, struct err *e)
{
	struct repocache_names n = { 0 };
	struct backend *be = repo_backend(r);
	int rc;

	rc = be->ops->list(be, OBJ_INDEX, add_name, &n, e);
	if (rc < 0) {
		if (rc == -EFBIG || rc == -ENOMEM)
			err_set(e, rc, "too many index files to keep the repository open");
		repocache_names_release(&n);
		return rc;
	}
	qsort(n.v, n.n, sizeof(*n.v), cmp_name);
	*ret = n;
	return 0;
}

/* True when every name of old is in now (both sorted). */
static bool subset(const struct repocache_names *old, const struct repocache_names *now)
{
	size_t i = 0, j = 0;

	for (; i < old->n; i++) {
		while (j < now->n && memcmp(now->v[j], old->v[i], ID_HEX) < 0)
			j++;
		if (j == now->n || memcmp(now->v[j], old->v[i], ID_HEX) != 0)
			return false;
	}
	return true;
}

int repocache_still_valid(struct repo *r, const struct repocache_names *loaded, struct err *e)
{
	struct repocache_names now = { 0 };
	struct backend *be = repo_backend(r);
	uint64_t size;
	int rc;

	/* A key removed (`cairn key remove`) revokes the password: a kept master key must not
	 * outlive it. */
	rc = be->ops->stat(be, OBJ_KEY, repo_keyfile_name(r), &size, e);
	if (rc == -ENOENT)
		return err_reset(e, -ESTALE, "its key file is gone");
	if (rc < 0)
		return rc;
	/* An index file gone means a prune or a repair rewrote the index: the entries kept
	 * from it may name packs that no longer exist. New files are only read. */
	rc = repocache_list_index(r, &now, e);
	if (rc < 0)
		return rc;
	if (!subset(loaded, &now))
		rc = err_set(e, -ESTALE, "index files were removed since it was read");
	repocache_names_release(&now);
	if (rc < 0)
		return rc;
	rc = (int)repo_index_reload(r, e);
	return rc < 0 ? rc : 0;
}

int repocache_new(struct repocache **ret)
{
	struct repocache *c = calloc(1, sizeof(*c));
	const char *s = NULL;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->idle_sec = REPOCACHE_IDLE_SEC;
#ifdef CAIRN_TEST_HOOKS
	/* Test builds: a test sees the kept repository go without waiting a minute. */
	s = getenv("CAIRN_TEST_REPO_IDLE_SEC");
	if (s && s[0])
		c->idle_sec = (unsigned)strtoul(s, NULL, 10);
#endif
	(void)s;
	*ret = c;
	return 0;
}

/* Under the lock. */
static void drop(struct repocache *c)
{
	repo_free(c->repo); /* wipes the master key (key_free) */
	c->repo = NULL;
	free(c->where);
	c->where = NULL;
	repocache_names_release(&c->names);
}

struct repo *repocache_take(struct repocache *c, const char *where, struct repocache_names *names)
{
	struct repo *r = NULL;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->lock);
	if (c->repo && strcmp(c->where, where) == 0 && mono() - c->idle_since < c->idle_sec) {
		r = c->repo;
		*names = c->names;
		c->repo = NULL;
		c->names = (struct repocache_names){ 0 };
	}
	drop(c); /* another location's, or expired: it will not be asked for again soon */
	pthread_mutex_unlock(&c->lock);
	return r;
}

void repocache_put(struct repocache *c, const char *where, struct repo *r,
                   struct repocache_names *names)
{
	char *w = where ? strdup(where) : NULL;

	if (!c || !w || c->idle_sec == 0) {
		free(w);
		repo_free(r);
		repocache_names_release(names);
		return;
	}
	pthread_mutex_lock(&c->lock);
	drop(c); /* one kept: the newest (concurrent jobs each opened their own) */
	c->repo = r;
	c->where = w;
	c->names = *names;
	*names = (struct repocache_names){ 0 };
	c->idle_since = mono();
	pthread_mutex_unlock(&c->lock);
}

bool repocache_expire(struct repocache *c)
{
	bool dropped = false;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	if (c->repo && mono() - c->idle_since >= c->idle_sec) {
		drop(c);
		dropped = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (dropped)
		log_debug("restores: the repository kept open went unused for %u s: closed",
		          c->idle_sec);
	return dropped;
}

void repocache_free(struct repocache *c)
{
	if (!c)
		return;
	drop(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
