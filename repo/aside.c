/* Owns what `repair index` sets aside: entries of index/ that carry an index file's name
 * but are no file. Every reader's listing stops at one (a reader must not go on without an
 * index file it cannot read); repair moves it out of the way, never deleting what it does
 * not understand, and remembers where it went for its report. */
#include "repo/admin.h"
#include "repo/repo-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/vec.h"

struct aside_ctx {
	struct repo *r;
	backend_list_fn fn;
	void *ud;
};

static int note_aside(void *ud, const char *name, const char *where)
{
	struct aside_ctx *c = ud;
	struct repo *r = c->r;
	struct repo_aside *a;

	/* A store can hold any number of them: the report names the first few. */
	r->n_aside_total++;
	if (r->n_aside >= REPO_ASIDE_KEPT)
		return 0;
	if (VEC_RESERVE1(r->aside, r->cap_aside, r->n_aside, 4))
		return -ENOMEM;
	a = &r->aside[r->n_aside++];
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->where, sizeof(a->where), "%s", where);
	return 0;
}

static int pass(void *ud, const char *name, uint64_t size)
{
	struct aside_ctx *c = ud;

	return c->fn(c->ud, name, size);
}

int repo_index_list_aside(struct repo *r, bool dry_run, backend_list_fn fn, void *ud, struct err *e)
{
	struct aside_ctx c = { r, fn, ud };
	int rc;

	if (!r->be->ops->list_aside)
		return r->be->ops->list(r->be, OBJ_INDEX, fn, ud, e);
	rc = r->be->ops->list_aside(r->be, OBJ_INDEX, dry_run, pass, note_aside, &c, e);
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	return rc;
}

size_t repo_index_aside(const struct repo *r, const struct repo_aside **ret)
{
	*ret = r->aside;
	return r->n_aside_total;
}

void repo_aside_release(struct repo *r)
{
	free(r->aside);
	r->aside = NULL;
	r->n_aside = r->cap_aside = r->n_aside_total = 0;
}
