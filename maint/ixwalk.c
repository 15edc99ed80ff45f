/* Owns walking a fixed list of index files entry by entry for prune: the same packs as
 * repo_ixset_load (a pack listed by several files, or twice in one, is taken at its first
 * listing) without gathering any of them, so two walks over one list see the same entries
 * in the same order even after new index files were written beside them. */
#include "maint/maint.h"
#include "maint/maint-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/vec.h"

struct ixwalk {
	const struct maint_ixwalk_ops *ops;
	void *ud;
	struct repo_idset seen;
	const uint8_t *cur; /* pack pointer of the entries being read */
	bool in;            /* cur's entries go to ops (its first listing) */
};

static int ixwalk_end(struct ixwalk *w)
{
	if (!w->in)
		return 0;
	w->in = false;
	return w->ops->end(w->ud);
}

static int ixwalk_entry(void *ud, const uint8_t *pack, const struct repo_ix_blob *b)
{
	struct ixwalk *w = ud;
	int rc;

	if (pack != w->cur) {
		rc = ixwalk_end(w);
		if (rc < 0)
			return rc;
		w->cur = pack;
		rc = repo_idset_add(&w->seen, pack);
		if (rc <= 0)
			return rc; /* listed before: its entries are skipped */
		w->in = true;
		rc = w->ops->begin(w->ud, pack);
		if (rc < 0)
			return rc;
	}
	return w->in ? w->ops->blob(w->ud, b) : 0;
}

int maint_ixwalk(struct repo *r, char (*names)[ID_HEX], size_t n,
		 const struct maint_ixwalk_ops *ops, void *ud, struct err *e)
{
	struct ixwalk w = { .ops = ops, .ud = ud };
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < n; i++) {
		w.cur = NULL; /* a new file's buffer may reuse the last one's address */
		if (ops->file)
			rc = ops->file(ud, i);
		if (rc >= 0)
			rc = repo_index_walk(r, names[i], ixwalk_entry, &w, e);
		if (rc >= 0)
			rc = ixwalk_end(&w);
	}
	repo_idset_release(&w.seen);
	return rc;
}

static int collect_name(void *ud, const char *name, uint64_t size)
{
	struct maint_ixnames *s = ud;

	(void)size;
	if (strlen(name) != ID_HEX - 1)
		return 0;
	if (VEC_RESERVE1(s->v, s->cap, s->n, 64))
		return -ENOMEM;
	memcpy(s->v[s->n++], name, ID_HEX);
	return 0;
}

int maint_ixnames(struct repo *r, struct maint_ixnames *ret, struct err *e)
{
	memset(ret, 0, sizeof(*ret));
	return backend_list(repo_backend(r), OBJ_INDEX, collect_name, ret, e);
}

void maint_ixnames_release(struct maint_ixnames *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
