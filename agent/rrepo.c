/* Owns a restore's repository: opened for the PodVolumeRestore's location, or the one the
 * last restore of that location kept open (repocache.c) once checked; locked as a reader
 * unless the location is ReadOnly; afterwards kept open again or freed. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repo/repo.h"
#include "util/banned.h"
#include "util/buf.h"
#include "util/log.h"

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* True when the location says ReadOnly: such a repository is never written, not even a
 * lock (a migration target shares the source cluster's bucket). */
static bool bsl_read_only(const json_t *bsl)
{
	const char *mode =
	    json_string_value(json_object_get(json_object_get(bsl, "spec"), "accessMode"));

	return mode && strcmp(mode, "ReadOnly") == 0;
}

/* What a kept repository must match: the URL and every backend option, in one string.
 * Options may name credentials: the string is compared, never logged. */
static int where_of(const char *url, const struct backend_options *bo, char **ret)
{
	struct buf b = BUF_INIT;
	int r;

	buf_init(&b, 64 * 1024);
	r = buf_printf(&b, "%s", url);
	for (size_t i = 0; r >= 0 && bo && i < bo->n; i++)
		r = buf_printf(&b, "\n%s", bo->kv[i]);
	if (r >= 0)
		r = buf_put_u8(&b, 0);
	if (r < 0) {
		buf_release(&b);
		return -ENOMEM;
	}
	*ret = (char *)buf_take(&b, NULL);
	return 0;
}

/* The repository of the restore: the one the last restore of the same location kept open
 * (*ret_kept: its index names moved into *names, to be checked under the lock), or opened
 * now. *ret_where: what the repository is kept under afterwards (malloc'ed). fresh: never
 * the kept one. */
static int open_repo(const struct agent_ctx *a, struct kube *k, const struct pvr *p, bool fresh,
                     struct rrepo *rr, struct repo **ret, bool *ret_ro, char **ret_where,
                     struct repocache_names *names, bool *ret_kept, struct err *e)
{
	const char *kv[32];
	char *opts[8] = { 0 }, *url = NULL, *where = NULL, path[1024];
	struct backend_options bo = { kv, 0 };
	struct repo_open_params op = { NULL, &bo, a->cfg->password, a->cfg->password_len };
	size_t n_opts = 0, i;
	json_t *bsl = NULL;
	int r;

	*ret_ro = false;
	*ret_kept = false;
	if (!a->cfg->repo_url && (!p->bsl || !p->bsl[0]))
		return err_set(e, -EINVAL,
		               "no repository: the restore names no storage location "
		               "and the agent has no --repo");
	if (p->bsl && p->bsl[0]) {
		snprintf(path, sizeof(path), CAIRN_API "/namespaces/%s/backupstoragelocations/%s",
		         p->ns, p->bsl);
		r = kube_get(k, path, &bsl, e);
		/* With a fixed --repo the location only says whether it may be written; one
		 * that is gone says nothing, and the restore locks as any reader does. */
		if (r == -ENOENT && a->cfg->repo_url) {
			err_clear(e);
		} else if (r < 0) {
			err_wrap(e, r, "backup storage location %s", p->bsl);
			goto fail;
		}
	}
	if (a->cfg->repo_url) {
		op.url = a->cfg->repo_url;
		op.options = a->cfg->bopts;
		*ret_ro = bsl_read_only(bsl);
	} else {
		r = bsl_repo_url_read(bsl, p->source_ns, &url, opts, ELEMENTSOF(opts), &n_opts,
		                      ret_ro, e);
		if (r < 0)
			goto fail;
		for (i = 0; a->cfg->bopts && i < a->cfg->bopts->n && bo.n < ELEMENTSOF(kv); i++)
			kv[bo.n++] = a->cfg->bopts->kv[i];
		for (i = 0; i < n_opts && bo.n < ELEMENTSOF(kv); i++)
			kv[bo.n++] = opts[i];
		op.url = url;
	}
	r = where_of(op.url, op.options, &where);
	if (r < 0)
		goto fail;
	rr->t_location = now_mono();
	/* A ReadOnly location takes no lock, so nothing keeps a prune away while it is read:
	 * its repository is opened every time and never kept. */
	*ret = fresh || *ret_ro ? NULL : repocache_take(a->rcache, where, names);
	if (*ret) {
		*ret_kept = true;
		r = 0;
	} else {
		r = repo_open(&op, ret, e);
	}
	if (r == 0) {
		*ret_where = where;
		where = NULL;
	}
fail:
	for (i = 0; i < n_opts; i++)
		free(opts[i]);
	free(url);
	free(where);
	json_decref(bsl);
	return r;
}

int rrepo_open(const struct agent_ctx *a, struct kube *k, const struct pvr *p, const char *what,
               struct rrepo *rr, struct err *e)
{
	struct repocache_names names = { 0 };
	struct repo *repo = NULL;
	bool kept = false;
	int r;

	r = open_repo(a, k, p, false, rr, &repo, &rr->ro, &rr->where, &names, &kept, e);
	for (int round = 0; r >= 0 && round < 2; round++) {
		rr->t_open = now_mono();
		/* A ReadOnly location is never written to, not even a lock. */
		if (!rr->ro && (r = repo_lock_reader(repo, &rr->lock, e)) < 0)
			break;
		rr->t_lock = now_mono();
		if (!kept)
			break;
		r = repocache_still_valid(repo, &names, e);
		rr->t_check = now_mono();
		repocache_names_release(&names);
		if (r == 0)
			break;
		log_debug("%s: the repository kept open is not used: %s", what, e->msg);
		rr->t_check = 0; /* its time goes to the repository opened again */
		err_clear(e);
		repo_unlock(rr->lock);
		rr->lock = NULL;
		repo_free(repo);
		repo = NULL;
		free(rr->where);
		rr->where = NULL;
		r = open_repo(a, k, p, true, rr, &repo, &rr->ro, &rr->where, &names, &kept, e);
	}
	repocache_names_release(&names);
	if (r < 0) {
		repo_unlock(rr->lock);
		rr->lock = NULL;
		repo_free(repo);
		free(rr->where);
		rr->where = NULL;
		return r;
	}
	rr->kept = kept;
	rr->repo = repo;
	metrics_restore_repo(a->metrics, kept);
	return 0;
}

void rrepo_close(const struct agent_ctx *a, const char *what, struct rrepo *rr, bool keep)
{
	struct repocache_names names = { 0 };
	struct err e = ERR_INIT;

	/* Kept only under a lock (a ReadOnly location has none), with the names of the
	 * index files listed while it is still held: every file it read is among them. */
	keep = keep && rr->repo && rr->lock && rr->where;
	if (keep && repocache_list_index(rr->repo, &names, &e) < 0) {
		log_debug("%s: the repository is not kept open: %s", what, e.msg);
		keep = false;
	}
	repo_unlock(rr->lock);
	if (keep)
		repocache_put(a->rcache, rr->where, rr->repo, &names);
	else
		repo_free(rr->repo);
	repocache_names_release(&names);
	free(rr->where);
	rr->repo = NULL;
	rr->lock = NULL;
	rr->where = NULL;
}
