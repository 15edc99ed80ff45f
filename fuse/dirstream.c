/* A folder too large to hold in memory, read from its tree in order: readdir resumes at an
 * index, lookup walks to a name. It keeps dirlist.c's rule (below the root an entry counts
 * only when its name sorts after the last one kept), so both agree with a loaded listing. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"

void dirstream_init(struct dirstream *s, struct repo *r, const struct node *dir)
{
	memset(s, 0, sizeof(*s));
	s->repo = r;
	s->dir = dir;
}

void dirstream_release(struct dirstream *s)
{
	if (s->started)
		tree_iter_release(&s->it);
	if (s->has_cur)
		node_release(&s->cur);
	s->started = s->has_cur = s->has_last = false;
	s->pos = 0;
}

/* The next entry the folder shows into *ret: 1, or 0 at the end. */
static int next_kept(struct dirstream *s, struct node *ret, struct err *e)
{
	struct node x = { 0 };
	int k;

	if (!s->started) {
		tree_iter_init(&s->it, s->repo, s->dir);
		s->started = true;
	}
	for (;;) {
		k = tree_iter_next(&s->it, &x, e);
		if (k <= 0)
			return k;
		/* Left out as dirlist_load leaves them out (and reports them when it loads). */
		if (x.name_len > NAME_MAX ||
		    (s->has_last && repo_name_cmp(s->last, s->last_len, x.name, x.name_len) >= 0)) {
			node_release(&x);
			continue;
		}
		memcpy(s->last, x.name, x.name_len);
		s->last_len = x.name_len;
		s->has_last = true;
		*ret = x;
		return 1;
	}
}

int dirstream_at(struct dirstream *s, uint64_t pos, const struct node **ret, struct err *e)
{
	int k;

	/* seekdir back, or rewinddir: the tree can only be read forwards. */
	if (pos < s->pos)
		dirstream_release(s);
	while (!s->has_cur || s->pos < pos) {
		if (s->has_cur) {
			node_release(&s->cur);
			s->has_cur = false;
			s->pos++;
			continue;
		}
		k = next_kept(s, &s->cur, e);
		if (k <= 0)
			return k;
		s->has_cur = true;
	}
	*ret = &s->cur;
	return 1;
}

int dirstream_find(struct repo *r, const struct node *dir, const struct dirindex *x,
                   const char *name, size_t len, struct node *ret, struct err *e)
{
	struct dirstream s;
	struct node ent = { 0 };
	size_t seg;
	int k, c;

	dirstream_init(&s, r, dir);
	if (x) {
		/* Only the segment that can hold it, from the greatest name kept before it. */
		seg = dirindex_seg(x, name, len);
		if (seg >= x->n || seg >= dir->n_content)
			return 0;
		tree_iter_init_root(&s.it, r, dir->content + seg, 1);
		s.started = true;
		if (seg > 0 && x->off[seg] > x->off[seg - 1]) {
			s.last_len = x->off[seg] - x->off[seg - 1];
			memcpy(s.last, x->names + x->off[seg - 1], s.last_len);
			s.has_last = true;
		}
	}
	for (;;) {
		k = next_kept(&s, &ent, e);
		if (k <= 0)
			break;
		c = repo_name_cmp(ent.name, ent.name_len, name, len);
		if (c == 0) {
			*ret = ent;
			break;
		}
		node_release(&ent);
		/* Kept names only grow: the name cannot come later. */
		if (c > 0) {
			k = 0;
			break;
		}
	}
	dirstream_release(&s);
	return k;
}
