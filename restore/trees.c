/* Owns the walker's tree reads: a folder's segments are opened from windows of their tree
 * pack, fetched with one ranged read each and kept in a small cache, so a tree of
 * thousands of folders costs a few reads instead of one GET per folder. Walker thread
 * only. Anything unusual (a pack whose size cannot be learnt, a blob outside it) falls
 * back to the one-blob read, whose errors are the canonical ones. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* Tree blobs of one backup sit together (folders are written as their walk ends), so a
 * few aligned windows hold a whole snapshot's trees; a window is read at once and kept. */
#define WIN_SIZE  (4u * 1024 * 1024)
#define WIN_SLOTS 4
#define SIZES     64

struct rtrees {
	struct win {
		uint8_t pack[ID_BYTES];
		uint64_t start, used;
		struct buf b;
		bool full;
	} w[WIN_SLOTS];
	struct {
		uint8_t pack[ID_BYTES];
		uint64_t size;
	} sizes[SIZES];
	size_t n_sizes, next_size;
	uint64_t tick;
};

struct rtrees *rs_trees_new(void)
{
	struct rtrees *t = calloc(1, sizeof(*t));

	for (size_t i = 0; t && i < WIN_SLOTS; i++)
		buf_init(&t->w[i].b, 2 * WIN_SIZE + REPO_BLOB_MAX);
	return t;
}

void rs_trees_free(struct rtrees *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < WIN_SLOTS; i++)
		buf_release(&t->w[i].b);
	free(t);
}

/* The pack's length (one HEAD per tree pack), so a window never reads past its end. */
static int pack_size(struct rs *s, const uint8_t pack[ID_BYTES], uint64_t *ret)
{
	struct rtrees *t = s->trees;
	struct err e = ERR_INIT;
	char name[ID_HEX];
	size_t k;
	int rc;

	for (size_t i = 0; i < t->n_sizes; i++)
		if (!memcmp(t->sizes[i].pack, pack, ID_BYTES)) {
			*ret = t->sizes[i].size;
			return 0;
		}
	hex_encode(pack, ID_BYTES, name);
	rc = backend_stat(repo_backend(s->repo), OBJ_DATA, name, ret, &e);
	if (rc < 0)
		return rc;
	k = t->n_sizes < SIZES ? t->n_sizes++ : t->next_size++ % SIZES;
	memcpy(t->sizes[k].pack, pack, ID_BYTES);
	t->sizes[k].size = *ret;
	return 0;
}

/* A cached window holding [off, off+n) of pack, read now when none does; NULL to fall
 * back to the one-blob read. */
static struct win *window(struct rs *s, const struct blob_loc *loc)
{
	struct rtrees *t = s->trees;
	uint64_t off = loc->offset, end = off + loc->stored_len, size, wend;
	struct win *w = &t->w[0];
	struct err e = ERR_INIT;

	for (size_t i = 0; i < WIN_SLOTS; i++) {
		struct win *c = &t->w[i];

		if (c->full && !memcmp(c->pack, loc->pack, ID_BYTES) && c->start <= off &&
		    end <= c->start + c->b.len) {
			c->used = ++t->tick;
			return c;
		}
		if (c->used < w->used)
			w = c; /* the least recently used, or an empty one */
	}
	if (pack_size(s, loc->pack, &size) < 0 || end > size)
		return NULL;
	w->full = false;
	w->start = off - off % WIN_SIZE;
	wend = end + (WIN_SIZE - end % WIN_SIZE) % WIN_SIZE;
	if (wend > size)
		wend = size;
	buf_reset(&w->b);
	if (repo_pack_read(s->repo, loc->pack, w->start, wend - w->start, &w->b, &e) < 0 ||
	    w->b.len != wend - w->start)
		return NULL;
	memcpy(w->pack, loc->pack, ID_BYTES);
	w->full = true;
	w->used = ++t->tick;
	return w;
}

static int tree_blob(struct rs *s, const uint8_t id[ID_BYTES], struct buf *out)
{
	struct blob_loc loc;
	struct win *w = NULL;

	if (s->trees && repo_blob_lookup(s->repo, BLOB_TREE, id, &loc) == 0)
		w = window(s, &loc);
	if (!w)
		return repo_blob_get(s->repo, BLOB_TREE, id, out, s->e);
	return repo_blob_open(s->repo, id, &loc, w->b.p + (loc.offset - w->start), loc.stored_len,
	                      out, s->e);
}

void rs_tree_iter_init(struct rs_tree_iter *it, struct rs *s, const struct node *dir)
{
	memset(it, 0, sizeof(*it));
	it->s = s;
	it->segs = dir->content;
	it->n_segs = dir->n_content;
	buf_init(&it->blob, REPO_BLOB_MAX);
}

int rs_tree_iter_next(struct rs_tree_iter *it, struct node *ret)
{
	char id[ID_HEX];
	int rc;

	for (;;) {
		if (it->open) {
			rc = tree_rd_next(&it->rd, ret);
			if (rc != 0)
				goto check;
			it->open = false;
			it->seg++;
		}
		if (it->seg >= it->n_segs)
			return 0;
		buf_reset(&it->blob);
		rc = tree_blob(it->s, it->segs[it->seg].id, &it->blob);
		if (rc < 0)
			return rc;
		rc = tree_rd_init(&it->rd, it->blob.p, it->blob.len);
		if (rc < 0)
			goto check;
		it->open = true;
	}
check:
	if (rc == -EBADMSG) {
		hex_encode(it->segs[it->seg].id, ID_BYTES, id);
		err_set(it->s->e, rc, "tree %s is malformed%s", id,
			it->rd.bad_name ? ": an entry name is empty, '.', '..' or holds '/' or NUL"
					: "");
	}
	return rc;
}

void rs_tree_iter_release(struct rs_tree_iter *it)
{
	buf_release(&it->blob);
}
