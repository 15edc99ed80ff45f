/* Owns the repository check: structure (index vs packs, snapshots vs index) and, with
 * read_data, content (every pack hashed, every blob opened and re-hashed). */
#include "maint/maint.h"
#include "maint/maint-internal.h"
#include "maint/segbounds.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/vec.h"

static bool is_zero(const uint8_t *p)
{
	static const uint8_t z[ID_BYTES];

	return !memcmp(p, z, ID_BYTES);
}

int repo_idset_add(struct repo_idset *s, const uint8_t id[ID_BYTES])
{
	size_t i;
	uint64_t h;

	if ((s->n + 1) * 2 > s->cap) {
		struct repo_idset n = { .cap = s->cap ? 2 * s->cap : 1024 };

		n.v = calloc(n.cap, ID_BYTES);
		if (!n.v)
			return -ENOMEM;
		/* Re-insert into the larger table: it has room, so this cannot fail. */
		for (size_t j = 0; j < s->cap; j++)
			if (!is_zero(s->v[j]) && repo_idset_add(&n, s->v[j]) < 0)
				return -ENOMEM;
		free(s->v);
		*s = n;
	}
	memcpy(&h, id, sizeof(h));
	for (i = h & (s->cap - 1); !is_zero(s->v[i]); i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->v[i], id, ID_BYTES))
			return 0;
	memcpy(s->v[i], id, ID_BYTES);
	s->n++;
	return 1;
}

bool repo_idset_has(const struct repo_idset *s, const uint8_t id[ID_BYTES])
{
	uint64_t h;

	if (!s->cap)
		return false;
	memcpy(&h, id, sizeof(h));
	for (size_t i = h & (s->cap - 1); !is_zero(s->v[i]); i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->v[i], id, ID_BYTES))
			return true;
	return false;
}

size_t repo_idset_bytes(const struct repo_idset *s)
{
	return s->cap * ID_BYTES;
}

void repo_idset_release(struct repo_idset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

struct ck {
	struct repo *r;
	const struct repo_check_opts *o;
	repo_check_fn fn;
	void *ud;
	struct repo_check_result *res;
	struct err *e;
	const struct repo_check_ext *x;
	struct repo_check_ext_result *xres;
	struct repo_idset index_packs, listed_packs, bad;
	struct repo_blobset trees, data;
	struct segbounds bounds; /* boundary names of checked segments of multi-segment folders */
	struct bad_blob {
		uint8_t blob[ID_BYTES], pack[ID_BYTES];
	} *bads;
	size_t n_bads;
	char path[8192];
	/* read-data runs one pack per thread: reporting and the work list are shared */
	pthread_mutex_t lock;
	struct pack_size {
		uint8_t id[ID_BYTES];
		uint64_t size;
	} *sizes, *todo; /* every listed pack (sorted by id for the lookup); the ones to read */
	size_t n_sizes, cap_sizes, n_todo, next;
	struct repo_maint_meter meter; /* under lock */
	uint64_t hdr_held;             /* sealed header bytes the workers hold (under lock) */
	pthread_cond_t hdr_freed;
};

/* The workers' pack headers together stay under this, unless one alone is bigger (it then
 * runs by itself): a pack of tiny blobs has a 13 MB header, and two or more of them open at
 * once would add that much each to a million-blob check. Small headers run side by side. */
#define HDR_BUDGET (8u << 20)

static void problem(struct ck *c, const char *fmt, ...) _printf_(2, 3);
static void problem(struct ck *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->res->problems++;
	c->fn(c->ud, msg);
}

static int note_pack(void *ud, const uint8_t id[ID_BYTES], const struct blob_loc *loc)
{
	struct ck *c = ud;
	int rc = repo_idset_add(&c->index_packs, loc->pack);

	return rc < 0 ? rc : 0;
}

static int note_listed(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct ck *c = ud;
	int rc = repo_idset_add(&c->listed_packs, pack);

	c->res->packs++;
	if (rc > 0 && VEC_RESERVE1(c->sizes, c->cap_sizes, c->n_sizes, 256))
		return -ENOMEM;
	if (rc > 0) {
		memcpy(c->sizes[c->n_sizes].id, pack, ID_BYTES);
		c->sizes[c->n_sizes++].size = size;
	}
	return rc < 0 ? rc : 0;
}

/* A file's data blobs: indexed, in a pack that exists. */
static int check_node(struct ck *c, const struct node *n, const char *snap)
{
	char id[ID_HEX], pack[ID_HEX];
	struct blob_loc loc;

	if (n->type != NODE_FILE)
		return 0;
	for (size_t i = 0; i < n->n_content; i++) {
		if (n->content[i].hole)
			continue;
		c->res->data_blobs_referenced++;
		if (repo_blobset_add(&c->data, BLOB_DATA, n->content[i].id) < 0)
			return -ENOMEM;
		if (repo_blob_lookup(c->r, BLOB_DATA, n->content[i].id, &loc) < 0) {
			hex_encode(n->content[i].id, ID_BYTES, id);
			problem(c, "snapshot %.8s: %s: data blob %s is missing from the index", snap,
				c->path, id);
		} else if (!repo_idset_has(&c->listed_packs, loc.pack)) {
			/* Name the file: that is what an operator needs to know about a lost pack. */
			hex_encode(n->content[i].id, ID_BYTES, id);
			hex_encode(loc.pack, ID_BYTES, pack);
			problem(c, "snapshot %.8s: %s: data blob %s is in pack %s, which is missing",
				snap, c->path, id, pack);
		}
	}
	return 0;
}

/* What check_rules made of an entry's name, for the segment's boundary names. */
enum name_rule {
	NAME_IN_ORDER, /* kept: it is the folder's last name now */
	NAME_INVALID,  /* no restore creates it: it takes no part in the order */
	NAME_REFUSED,  /* twice or out of order */
};

static void order_problem(struct ck *c, const char *snap, const char *path)
{
	problem(c, "snapshot %.8s: %s: this name comes twice or out of order (forged or "
	        "corrupt)", snap, path);
}

/* What restore refuses as forged or corrupt, reported here so that a routine check finds a
 * planted snapshot before a restore meets it: a name no restore may create, one that does
 * not sort after the folder's last (twice or out of order, across segments too: see
 * seg_skipped), a file whose extents do not add up to its size, a symlink without a valid
 * target or with one longer than any link. */
static enum name_rule check_rules(struct ck *c, struct walk_frame *f, const struct node *n,
                                  bool root, const char *snap)
{
	enum name_rule nr = NAME_IN_ORDER;
	uint64_t sum = 0;
	bool wrapped = false;

	if (!repo_name_ok(n->name, n->name_len)) {
		problem(c, "snapshot %.8s: %s: an invalid name (forged or corrupt)", snap, c->path);
		return NAME_INVALID;
	}
	/* The snapshot root keeps the order of the backed-up paths (restore/name.c). */
	if (!root && f->prev_len &&
	    repo_name_cmp(f->prev, f->prev_len, n->name, n->name_len) >= 0) {
		order_problem(c, snap, c->path);
		nr = NAME_REFUSED;
	} else if (!root) {
		memcpy(f->prev, n->name, n->name_len);
		f->prev_len = n->name_len;
	}
	if (n->type == NODE_FILE) {
		for (size_t i = 0; i < n->n_content && !wrapped; i++)
			wrapped = ckd_add(&sum, sum, n->content[i].len);
		if (wrapped || sum != n->size || n->size > INT64_MAX)
			problem(c, "snapshot %.8s: %s: its extents do not add up to its size (forged "
			        "or corrupt)", snap, c->path);
	}
	/* A link replaced while the backup read it is recorded flagged and without a target
	 * (backup/walk.c entry_swapped); restore names it as not restored. */
	if (n->type == NODE_SYMLINK &&
	    (!n->target || !n->target_len ? !(n->flags & NODE_UNREADABLE)
	                                  : memchr(n->target, 0, n->target_len) != NULL))
		problem(c, "snapshot %.8s: %s: a symlink without a valid target (forged or "
		        "corrupt)", snap, c->path);
	/* No kernel link is PATH_MAX bytes long (the format allows 64 KiB): restore fails
	 * it with ENAMETOOLONG and the mount refuses it. */
	else if (n->type == NODE_SYMLINK && n->target_len >= PATH_MAX)
		problem(c, "snapshot %.8s: %s: a symlink target of %zu bytes, longer than any link "
		        "can be (forged or corrupt)", snap, c->path, n->target_len);
	return nr;
}

/* A segment of f skipped as checked already: its names were compared with each other
 * then, and here its boundary names are compared with the names around it in this folder,
 * as restore would (a name a forged segment repeats from the one before, or that sorts
 * before it). A folder of one segment has no boundary to compare. */
static int seg_skipped(struct ck *c, struct walk_frame *f, const struct extent *seg, bool root,
                       const char *snap)
{
	const struct segbound *b;
	int rc;

	if (root || (!f->prev_len && f->next >= f->n))
		return 0; /* nothing before it to compare with, nothing after it */
	b = segbounds_get(&c->bounds, seg->id);
	if (!b) {
		rc = segbounds_read(&c->bounds, c->r, seg, &b);
		if (rc < 0)
			return err_set(c->e, rc, "out of memory");
	}
	if (b->unknown) {
		f->prev_len = 0; /* its names are not known: order unknown */
		return 0;
	}
	if (!b->first_len)
		return 0;
	if (f->prev_len && repo_name_cmp(f->prev, f->prev_len, b->names, b->first_len) >= 0) {
		char path[sizeof(c->path)];

		snprintf(path, sizeof(path), "%s/%.*s", c->path, (int)b->first_len, b->names);
		order_problem(c, snap, path);
	}
	/* Restore keeps the names that sort after the last kept one: its last, unless all of
	 * its names were refused. */
	if (!f->prev_len ||
	    repo_name_cmp(f->prev, f->prev_len, b->names + b->first_len, b->last_len) < 0) {
		memcpy(f->prev, b->names + b->first_len, b->last_len);
		f->prev_len = b->last_len;
	}
	return 0;
}

/* Open f's next segment, or skip it as checked already. 1: open, 0: none opened. */
static int seg_next(struct ck *c, struct walk_frame *f, struct segmark *m, bool root,
                    const char *snap)
{
	const struct extent *seg = &f->segs[f->next++];
	char id[ID_HEX];
	int rc;

	rc = repo_blobset_add(&c->trees, BLOB_TREE, seg->id);
	if (rc < 0)
		return err_set(c->e, rc, "out of memory");
	if (rc == 0) /* seen in this or an earlier snapshot: checked already */
		return seg_skipped(c, f, seg, root, snap);
	c->res->trees++;
	if (!repo_blob_known(c->r, BLOB_TREE, seg->id)) {
		hex_encode(seg->id, ID_BYTES, id);
		problem(c, "snapshot %.8s: %s: tree %s is missing from the index", snap,
		        c->path[0] ? c->path : "/", id);
		return 0;
	}
	tree_iter_init_root(&f->it, c->r, seg, 1);
	f->open = true;
	/* A folder of one segment has no boundary to compare, so nothing to remember. */
	segmark_reset(m, !root && f->n > 1);
	return 1;
}

/* Depth first over the folder made of segs, with an explicit stack on the heap: a pod can
 * nest folders thousands deep, and a frame per level on the C stack would crash. */
static int check_dir(struct ck *c, const struct extent *segs, size_t n, const char *snap)
{
	struct walk_frame *st = NULL;
	struct segmark *marks = NULL;
	size_t depth = 0, cap = 0, cap_marks = 0;
	int rc;

	rc = walk_push(&st, &depth, &cap, segs, n, strlen(c->path));
	if (rc >= 0)
		rc = segmarks_reserve(&marks, &cap_marks, depth);
	while (rc >= 0 && depth) {
		struct walk_frame *f = &st[depth - 1];
		struct segmark *m = &marks[depth - 1];
		struct err e = ERR_INIT;
		enum name_rule nr;
		struct node node;

		c->path[f->saved] = 0;
		if (!f->open) {
			if (f->next >= f->n) {
				segmark_reset(m, false);
				free(f->segs);
				depth--;
			} else {
				rc = seg_next(c, f, m, depth == 1, snap);
			}
			continue;
		}
		rc = tree_iter_next(&f->it, &node, &e);
		if (rc <= 0) {
			tree_iter_release(&f->it);
			f->open = false;
			if (rc < 0 && rc != -ENOMEM) {
				problem(c, "snapshot %.8s: %s: %s", snap, c->path[0] ? c->path : "/",
					e.msg);
				m->clean = false; /* not read to its end */
				rc = 0;
			}
			/* Its first and last names, for where it comes again and is skipped. */
			if (rc == 0)
				rc = segmark_done(&c->bounds, m, f->segs[f->next - 1].id, f->prev,
				                  f->prev_len);
			if (rc < 0)
				err_set(c->e, rc, "out of memory");
			continue;
		}
		snprintf(c->path + f->saved, sizeof(c->path) - f->saved, "/%.*s",
			 (int)node.name_len, node.name);
		nr = check_rules(c, f, &node, depth == 1, snap);
		rc = nr == NAME_INVALID ? 0
		                        : segmark_name(m, node.name, node.name_len, nr == NAME_REFUSED);
		if (rc >= 0 && node.type == NODE_DIR)
			rc = walk_push(&st, &depth, &cap, node.content, node.n_content,
					strlen(c->path));
		else if (rc >= 0)
			rc = check_node(c, &node, snap);
		if (rc >= 0)
			rc = segmarks_reserve(&marks, &cap_marks, depth);
		node_release(&node);
	}
	segmarks_free(marks, cap_marks);
	walk_stack_free(st, depth);
	return rc < 0 ? rc : 0;
}

/* msg without a leading "pack <p>" (and its ": "): the repository's messages name the pack
 * already, and check puts the pack first on every line itself, so it is named once. */
static const char *after_pack(const char *msg, const char *p)
{
	size_t n = strlen(p);

	if (strncmp(msg, "pack ", 5) || strncmp(msg + 5, p, n))
		return msg;
	msg += 5 + n;
	return *msg == ':' ? msg + 1 + (msg[1] == ' ') : msg;
}

/* One line about pack p: "pack <p>: msg", or "pack <p> is truncated" for a message that
 * starts with the pack's name and goes on with no colon. */
static void pack_line(struct ck *c, const char *p, const char *blob, const char *msg)
{
	const char *rest = after_pack(msg, p);

	if (rest != msg && !blob && *rest == ' ')
		problem(c, "pack %s%s", p, rest);
	else
		problem(c, "pack %s%s%s: %s", p, blob ? ": blob " : "", blob ? blob : "", rest);
}

static void pack_problem(void *ud, const uint8_t pack[ID_BYTES], const uint8_t *blob,
			 const char *msg)
{
	struct ck *c = ud;
	char p[ID_HEX], b[ID_HEX] = "";

	hex_encode(pack, ID_BYTES, p);
	if (blob)
		hex_encode(blob, ID_BYTES, b);
	pthread_mutex_lock(&c->lock);
	pack_line(c, p, blob ? b : NULL, msg);
	/* Remember the blob so the files that use it can be named afterwards. */
	if (blob && repo_idset_add(&c->bad, blob) > 0) {
		void *v = reallocarray(c->bads, c->n_bads + 1, sizeof(*c->bads));

		if (v) {
			c->bads = v;
			memcpy(c->bads[c->n_bads].blob, blob, ID_BYTES);
			memcpy(c->bads[c->n_bads].pack, pack, ID_BYTES);
			c->n_bads++;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* read-data worker: take the next pack, verify it, until none is left. Reading, hashing,
 * decrypting and decompressing a pack is independent of every other pack. */
static void *read_worker(void *arg)
{
	struct ck *c = arg;

	for (;;) {
		struct err e = ERR_INIT;
		uint32_t hlen = 0;
		size_t i;

		pthread_mutex_lock(&c->lock);
		i = c->next++;
		pthread_mutex_unlock(&c->lock);
		if (i >= c->n_todo)
			return NULL;
		/* A length that does not read counts nothing: verify reports the pack. */
		if (repo_pack_hdr_len(c->r, c->todo[i].id, c->todo[i].size, &hlen, &e) < 0)
			hlen = 0;
		err_clear(&e);
		pthread_mutex_lock(&c->lock);
		while (c->hdr_held && c->hdr_held + hlen > HDR_BUDGET)
			pthread_cond_wait(&c->hdr_freed, &c->lock);
		c->hdr_held += hlen;
		pthread_mutex_unlock(&c->lock);
		/* Problems arrive through pack_problem; the count is already in res. */
		(void)!repo_pack_verify(c->r, c->todo[i].id, pack_problem, c, &e);
		pthread_mutex_lock(&c->lock);
		c->hdr_held -= hlen;
		pthread_cond_broadcast(&c->hdr_freed);
		repo_maint_meter_add(&c->meter, 1, c->todo[i].size);
		pthread_mutex_unlock(&c->lock);
	}
}

/* Which packs a partial read covers: N/T by position, or a percentage by pack id (so a
 * daily 5% check covers different packs as the repository changes, deterministically). */
static bool selected(const struct repo_check_opts *o, const struct repo_check_ext *x,
		     const uint8_t id[ID_BYTES], size_t k)
{
	if (x->subset_pct > 0) {
		uint32_t v = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 |
			     id[3];

		return (double)v < x->subset_pct / 100.0 * 4294967296.0;
	}
	return !o->subset_total || k % o->subset_total == o->subset_index - 1;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, ID_BYTES);
}

/* The packs a read covers, with their sizes for the progress. */
static int read_list(struct ck *c, const struct repo_check_opts *o, const struct repo_check_ext *x)
{
	size_t k = 0;

	c->todo = calloc(c->n_sizes ? c->n_sizes : 1, sizeof(*c->todo));
	if (!c->todo)
		return err_set(c->e, -ENOMEM, "out of memory");
	if (c->n_sizes)
		qsort(c->sizes, c->n_sizes, sizeof(*c->sizes), cmp_id);
	/* In the id set's order, as before sizes were kept: N/T names the same packs. */
	for (size_t i = 0; i < c->listed_packs.cap; i++) {
		const struct pack_size *ps;

		if (is_zero(c->listed_packs.v[i]))
			continue;
		if (!selected(o, x, c->listed_packs.v[i], k++))
			continue;
		ps = bsearch(c->listed_packs.v[i], c->sizes, c->n_sizes, sizeof(*ps), cmp_id);
		memcpy(c->todo[c->n_todo].id, c->listed_packs.v[i], ID_BYTES);
		c->todo[c->n_todo].size = ps ? ps->size : 0;
		c->meter.p.packs_total++;
		c->meter.p.bytes_total += c->todo[c->n_todo].size;
		c->n_todo++;
	}
	c->meter.fn = o->progress;
	c->meter.ud = o->progress_ud;
	c->meter.ms = o->progress_ms;
	c->meter.p.phase = "read";
	repo_maint_meter_add(&c->meter, 0, 0); /* the totals, before the first pack */
	return 0;
}

static int read_packs(struct ck *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus, started = 0;
	pthread_t t[16];

	for (; started < n; started++)
		if (pthread_create(&t[started], NULL, read_worker, c) != 0)
			break;
	if (!started)
		read_worker(c);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	return 0;
}

static void warning(struct ck *c, const char *fmt, ...) _printf_(2, 3);
static void warning(struct ck *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	c->xres->warnings++;
	if (!c->x->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->x->warn(c->ud, msg);
}

static const struct bad_blob *bad_find(const struct ck *c, const uint8_t id[ID_BYTES])
{
	if (!repo_idset_has(&c->bad, id))
		return NULL;
	for (size_t i = 0; i < c->n_bads; i++)
		if (!memcmp(c->bads[i].blob, id, ID_BYTES))
			return &c->bads[i];
	return NULL;
}

struct blame {
	struct ck *c;
	const char *snap;
};

static void blame_one(struct ck *c, const struct bad_blob *b, const char *snap, const char *path)
{
	char p[ID_HEX], id[ID_HEX];

	hex_encode(b->pack, ID_BYTES, p);
	hex_encode(b->blob, ID_BYTES, id);
	c->xres->damaged_refs++;
	problem(c, "pack %s: damaged blob %s is used by snapshot %.8s: %s", p, id, snap, path);
}

static int blame_node(void *ud, const char *path, const struct node *n)
{
	struct blame *bl = ud;

	if (n->type != NODE_FILE && n->type != NODE_DIR)
		return 0;
	for (size_t i = 0; i < n->n_content; i++) {
		const struct bad_blob *b;

		if (n->content[i].hole || !(b = bad_find(bl->c, n->content[i].id)))
			continue;
		blame_one(bl->c, b, bl->snap, path);
		break; /* one line per file is enough to find it */
	}
	return 0;
}

/* Name every file (path in each snapshot) that uses a damaged blob. Walks whole trees:
 * the same file in two snapshots is two things to restore from elsewhere. */
static int blame(struct ck *c, const struct snapshot *snaps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char id[ID_HEX];
		struct blame bl = { c, id };
		struct err e = ERR_INIT;

		hex_encode(snaps[i].id, ID_BYTES, id);
		for (size_t k = 0; k < snaps[i].n_tree; k++) {
			const struct bad_blob *b = bad_find(c, snaps[i].tree[k].id);

			if (b)
				blame_one(c, b, id, "/");
		}
		/* Damaged trees stop the walk below them; they were reported already. */
		if (repo_walk(c->r, snaps[i].tree, snaps[i].n_tree, NULL, blame_node, &bl, &e) ==
		    -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

static void compare_blob(struct ck *c, const char *p, const struct repo_ix_blob *x,
			 const struct repo_ix_blob *h)
{
	char b[ID_HEX];

	if (h->offset == x->offset && h->stored_len == x->stored_len && h->type == x->type &&
	    h->raw_len == x->raw_len)
		return;
	hex_encode(x->id, ID_BYTES, b);
	problem(c, "pack %s: blob %s: index (offset %u, %u bytes) disagrees with the pack header "
		   "(offset %u, %u bytes)", p, b, x->offset, x->stored_len, h->offset,
		h->stored_len);
}

static int cmp_blob_id(const void *a, const void *b)
{
	const struct repo_ix_blob *x = a, *y = b;
	int d = memcmp(x->id, y->id, ID_BYTES);

	/* Equal ids keep header order: the first one is the one compared. */
	return d ? d : (x->offset > y->offset) - (x->offset < y->offset);
}

/* Index and header out of step (a damaged pack or index): the header sorted by id, each
 * remaining index entry x[0..n) looked up in it. Only damaged packs pay for it. */
static int compare_rest(struct ck *c, const char *p, const struct repo_ix_blob *x, size_t n_x,
			struct repo_pack_hdr *h)
{
	size_t n = repo_pack_hdr_count(h), k = 0;
	struct repo_ix_blob *v = calloc(n ? n : 1, sizeof(*v));
	char b[ID_HEX];

	if (!v)
		return -ENOMEM;
	repo_pack_hdr_rewind(h);
	while (k < n && repo_pack_hdr_next(h, &v[k]) > 0)
		k++;
	qsort(v, k, sizeof(*v), cmp_blob_id);
	for (size_t j = 0; j < n_x; j++) {
		const struct repo_ix_blob *f;
		size_t lo = 0, hi = k;

		while (lo < hi) { /* the first entry not below x's id */
			size_t mid = lo + (hi - lo) / 2;

			if (memcmp(v[mid].id, x[j].id, ID_BYTES) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		f = lo < k && !memcmp(v[lo].id, x[j].id, ID_BYTES) ? &v[lo] : NULL;
		if (f) {
			compare_blob(c, p, &x[j], f);
			continue;
		}
		hex_encode(x[j].id, ID_BYTES, b);
		problem(c, "pack %s: the index lists blob %s but the pack header does not", p, b);
	}
	free(v);
	return 0;
}

/* The header pass runs in two walks so that no index file is held beside a pack header
 * (at a million tiny blobs each is about 12 MB, and a check holds the index besides):
 * first the index files, entry by entry, for duplicates and unreferenced blobs and a
 * digest of each pack's entries as the header should list them; then each pack's header,
 * digested the same way. Only a pack whose digest or count differs is compared entry by
 * entry (its index file walked again beside its header) and named. */
struct hdr_pack {
	uint8_t id[ID_BYTES];
	uint8_t digest[32];
	uint64_t n;  /* its entries in the index */
	size_t file; /* the index file that lists it first */
};

struct headers {
	struct ck *c;
	struct repo_blobset seen; /* a blob is (type, id) */
	struct maint_ixnames names;
	size_t file;
	struct hdr_pack *packs;
	size_t n_packs, cap_packs;
	crypto_generichash_state hs;
	char p[ID_HEX];
	/* The entry-by-entry comparison of one pack (target) against its open header. */
	const uint8_t *target;
	bool in_target;
	struct repo_pack_hdr *hp;
	size_t n_index;
	bool diverged;
	struct repo_ix_blob *rest;
	size_t n_rest, cap_rest;
};

/* What the header must agree on, for the digest: id, type, offset, lengths. */
static void digest_add(crypto_generichash_state *hs, const struct repo_ix_blob *x)
{
	uint8_t v[ID_BYTES + 13];

	memcpy(v, x->id, ID_BYTES);
	v[ID_BYTES] = x->type;
	for (int i = 0; i < 4; i++) {
		v[ID_BYTES + 1 + i] = (uint8_t)(x->offset >> (8 * i));
		v[ID_BYTES + 5 + i] = (uint8_t)(x->stored_len >> (8 * i));
		v[ID_BYTES + 9 + i] = (uint8_t)(x->raw_len >> (8 * i));
	}
	crypto_generichash_update(hs, v, sizeof(v));
}

static int index_file(void *ud, size_t i)
{
	struct headers *h = ud;

	h->file = i;
	return 0;
}

static int index_begin(void *ud, const uint8_t pack[ID_BYTES])
{
	struct headers *h = ud;
	struct hdr_pack *hp;

	if (VEC_RESERVE1(h->packs, h->cap_packs, h->n_packs, 64))
		return err_set(h->c->e, -ENOMEM, "out of memory");
	hp = &h->packs[h->n_packs++];
	memset(hp, 0, sizeof(*hp));
	memcpy(hp->id, pack, ID_BYTES);
	hp->file = h->file;
	hex_encode(pack, ID_BYTES, h->p);
	crypto_generichash_init(&h->hs, NULL, 0, sizeof(hp->digest));
	return 0;
}

/* Duplicates and unreferenced blobs; the entry goes into its pack's digest. */
static int index_blob(void *ud, const struct repo_ix_blob *x)
{
	struct headers *h = ud;
	struct ck *c = h->c;
	struct repo_blobkey k;
	char b[ID_HEX];
	int rc;

	/* One index lookup serves the three sets (all over the same loaded index). */
	repo_blobset_key(&h->seen, x->type, x->id, &k);
	rc = repo_blobset_add_key(&h->seen, &k);
	if (rc < 0)
		return err_set(c->e, rc, "out of memory");
	if (rc == 0) {
		c->xres->blobs_duplicate++;
		hex_encode(x->id, ID_BYTES, b);
		warning(c, "blob %s is stored more than once (also in pack %s)", b, h->p);
	}
	if (!repo_blobset_has_key(x->type == BLOB_TREE ? &c->trees : &c->data, &k)) {
		c->xres->blobs_unreferenced++;
		if (c->xres->blobs_unreferenced <= 20) {
			hex_encode(x->id, ID_BYTES, b);
			warning(c, "pack %s: blob %s is not used by any snapshot (prune removes it)",
				h->p, b);
		}
	}
	h->packs[h->n_packs - 1].n++;
	digest_add(&h->hs, x);
	return 0;
}

static int index_end(void *ud)
{
	struct headers *h = ud;

	crypto_generichash_final(&h->hs, h->packs[h->n_packs - 1].digest,
				 sizeof(h->packs[h->n_packs - 1].digest));
	return 0;
}

/* The slow path: the target pack's index entries against its header, one by one while
 * the two agree (index files list a pack's blobs in header order), then the rest looked
 * up in the header sorted. */
static int cmp_begin(void *ud, const uint8_t pack[ID_BYTES])
{
	struct headers *h = ud;

	h->in_target = !memcmp(pack, h->target, ID_BYTES);
	return 0;
}

static int cmp_blob(void *ud, const struct repo_ix_blob *x)
{
	struct headers *h = ud;
	struct ck *c = h->c;
	struct repo_ix_blob hb;

	if (!h->in_target)
		return 0;
	h->n_index++;
	if (!h->diverged && repo_pack_hdr_next(h->hp, &hb) > 0 &&
	    !memcmp(hb.id, x->id, ID_BYTES)) {
		compare_blob(c, h->p, x, &hb);
		return 0;
	}
	h->diverged = true;
	if (VEC_RESERVE1(h->rest, h->cap_rest, h->n_rest, 64))
		return err_set(c->e, -ENOMEM, "out of memory");
	h->rest[h->n_rest++] = *x;
	return 0;
}

static int cmp_end(void *ud)
{
	struct headers *h = ud;

	h->in_target = false;
	return 0;
}

static int compare_pack(struct headers *h, const struct hdr_pack *hp)
{
	static const struct maint_ixwalk_ops ops = { NULL, cmp_begin, cmp_blob, cmp_end };
	struct ck *c = h->c;
	int rc;

	h->target = hp->id;
	h->n_index = h->n_rest = 0;
	h->diverged = false;
	repo_pack_hdr_rewind(h->hp);
	rc = maint_ixwalk(c->r, &h->names.v[hp->file], 1, &ops, h, c->e);
	if (rc >= 0 && h->n_rest)
		rc = compare_rest(c, h->p, h->rest, h->n_rest, h->hp) < 0
			     ? err_set(c->e, -ENOMEM, "out of memory")
			     : 0;
	if (rc >= 0 && repo_pack_hdr_count(h->hp) != h->n_index)
		problem(c, "pack %s: header lists %zu blobs, the index %zu", h->p,
			repo_pack_hdr_count(h->hp), h->n_index);
	return rc;
}

/* One pack's header against the digest of its index entries. */
static int header_pack(struct headers *h, const struct hdr_pack *hp)
{
	struct ck *c = h->c;
	struct err e = ERR_INIT;
	crypto_generichash_state hs;
	struct repo_ix_blob b;
	uint8_t digest[32];
	uint64_t size, n = 0;
	int rc;

	if (!repo_idset_has(&c->listed_packs, hp->id))
		return 0;
	hex_encode(hp->id, ID_BYTES, h->p);
	rc = backend_stat(repo_backend(c->r), OBJ_DATA, h->p, &size, &e);
	if (rc >= 0)
		rc = repo_pack_hdr_open(c->r, hp->id, size, &h->hp, &e);
	c->xres->headers_read++;
	if (rc == -ENOMEM)
		return err_set(c->e, rc, "out of memory");
	if (rc < 0) {
		pack_line(c, h->p, NULL, e.msg);
		return 0;
	}
	crypto_generichash_init(&hs, NULL, 0, sizeof(digest));
	while ((rc = repo_pack_hdr_next(h->hp, &b)) > 0) {
		digest_add(&hs, &b);
		n++;
	}
	crypto_generichash_final(&hs, digest, sizeof(digest));
	rc = 0;
	if (n != hp->n || repo_pack_hdr_count(h->hp) != hp->n ||
	    memcmp(digest, hp->digest, sizeof(digest)))
		rc = compare_pack(h, hp);
	repo_pack_hdr_free(h->hp);
	h->hp = NULL;
	return rc;
}

/* Pack headers against the index files, blob by blob; duplicates and unreferenced blobs.
 * The index files are read an entry at a time: the loaded index is the only copy in
 * memory, beside one index file or one pack header. */
static int check_headers(struct ck *c)
{
	static const struct maint_ixwalk_ops ops = { index_file, index_begin, index_blob,
						     index_end };
	struct headers h = { .c = c };
	int rc = repo_blobset_init(&h.seen, c->r);

	if (rc < 0)
		return err_set(c->e, rc, "out of memory");
	rc = maint_ixnames(c->r, &h.names, c->e);
	if (rc >= 0)
		rc = maint_ixwalk(c->r, h.names.v, h.names.n, &ops, &h, c->e);
	/* The id set is a bit per indexed blob; the header walk needs none of it. */
	repo_blobset_release(&h.seen);
	for (size_t i = 0; rc >= 0 && c->x->headers && i < h.n_packs; i++)
		rc = header_pack(&h, &h.packs[i]);
	repo_pack_hdr_free(h.hp);
	free(h.rest);
	free(h.packs);
	maint_ixnames_release(&h.names);
	return rc < 0 ? rc : 0;
}

struct snap_names {
	char (*v)[ID_HEX];
	size_t n, cap;
};

static int collect_snap(void *ud, const char *name, uint64_t size)
{
	struct snap_names *s = ud;

	if (strlen(name) != ID_HEX - 1)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *p = reallocarray(s->v, cap, ID_HEX);

		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	memcpy(s->v[s->n++], name, ID_HEX);
	return 0;
}

/* Every snapshot that reads (its name matching its bytes, its JSON sound); each one that
 * does not is a problem, and the check goes on with the rest. */
static int load_snapshots(struct ck *c, struct snapshot **ret, size_t *ret_n)
{
	struct snap_names ns = { 0 };
	struct snapshot *v = NULL;
	size_t n = 0;
	int rc;

	rc = backend_list(repo_backend(c->r), OBJ_SNAPSHOT, collect_snap, &ns, c->e);
	if (rc >= 0 && !(v = calloc(ns.n ? ns.n : 1, sizeof(*v))))
		rc = err_set(c->e, -ENOMEM, "out of memory");
	for (size_t i = 0; rc >= 0 && i < ns.n; i++) {
		struct err e = ERR_INIT;

		rc = repo_snapshot_read(c->r, ns.v[i], &v[n], &e);
		if (rc >= 0) {
			n++;
		} else if (rc != -ENOMEM) {
			problem(c, "snapshot %s: %s", ns.v[i], e.msg);
			rc = 0;
		} else {
			err_set(c->e, rc, "out of memory");
		}
	}
	free(ns.v);
	if (rc < 0) {
		snapshot_list_free(v, n);
		return rc;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int noop_entry(void *ud, const uint8_t *pack, const struct repo_ix_blob *b)
{
	return 0;
}

static int report_index(void *ud, const char *name, uint64_t size)
{
	struct ck *c = ud;
	struct err e = ERR_INIT;
	int rc = repo_index_walk(c->r, name, noop_entry, NULL, &e);

	if (rc == -ENOMEM)
		return err_set(c->e, rc, "out of memory");
	if (rc < 0)
		problem(c, "%s", e.msg);
	return 0;
}

int repo_check_full(struct repo *r, const struct repo_check_opts *o,
		    const struct repo_check_ext *x, repo_check_fn fn, void *ud,
		    struct repo_check_result *ret, struct repo_check_ext_result *ret_x,
		    struct err *e)
{
	struct repo_check_result res = { 0 };
	struct repo_check_ext_result xres = { 0 };
	struct ck c = { .r = r, .o = o, .fn = fn, .ud = ud, .res = &res, .e = e, .x = x,
			.xres = &xres };
	struct snapshot *snaps = NULL;
	size_t n_snaps = 0;
	char id[ID_HEX];
	int rc;

	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.hdr_freed, NULL);
	rc = repo_index_load(r, e);
	/* Loading frees each index file's buffer under the index's own arrays: give those
	 * pages back, or they stay resident (glibc trims only the heap's top) through the
	 * whole check, on top of what the later phases read. */
	malloc_trim(0);
	if (rc == -EBADMSG) {
		/* A damaged or misnamed index file: name every one that does not read, and stop
		 * there (what the index says cannot be compared with anything). */
		err_clear(e);
		rc = backend_list(repo_backend(r), OBJ_INDEX, report_index, &c, e);
		if (rc >= 0 && !res.problems)
			problem(&c, "the index does not load, but every index file reads alone");
		if (rc >= 0)
			goto done;
	}
	if (rc >= 0 && (repo_blobset_init(&c.trees, r) < 0 || repo_blobset_init(&c.data, r) < 0))
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc >= 0)
		rc = repo_blob_foreach(r, note_pack, &c);
	if (rc >= 0)
		rc = repo_pack_list(r, note_listed, &c, e);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < c.index_packs.cap; i++) {
		if (is_zero(c.index_packs.v[i]) || repo_idset_has(&c.listed_packs, c.index_packs.v[i]))
			continue;
		hex_encode(c.index_packs.v[i], ID_BYTES, id);
		problem(&c, "pack %s is in the index but missing from the repository", id);
	}
	for (size_t i = 0; i < c.listed_packs.cap; i++)
		if (!is_zero(c.listed_packs.v[i]) && !repo_idset_has(&c.index_packs, c.listed_packs.v[i]))
			res.unindexed_packs++;
	rc = load_snapshots(&c, &snaps, &n_snaps);
	if (rc < 0)
		goto fail;
	res.snapshots = n_snaps;
	for (size_t i = 0; i < n_snaps; i++) {
		hex_encode(snaps[i].id, ID_BYTES, id);
		c.path[0] = 0;
		rc = check_dir(&c, snaps[i].tree, snaps[i].n_tree, id);
		if (rc < 0)
			goto fail;
	}
	rc = check_headers(&c);
	if (rc < 0)
		goto fail;
	if (o->read_data) {
		rc = read_list(&c, o, x);
		if (rc >= 0) {
			res.packs_read = c.n_todo;
			rc = read_packs(&c);
		}
		if (rc < 0)
			goto fail;
	}
	if (c.n_bads) {
		rc = blame(&c, snaps, n_snaps);
		if (rc < 0)
			goto fail;
	}
done:
	*ret = res;
	if (ret_x)
		*ret_x = xres;
	rc = 0;
fail:
	snapshot_list_free(snaps, n_snaps);
	repo_idset_release(&c.index_packs);
	repo_idset_release(&c.listed_packs);
	repo_blobset_release(&c.trees);
	repo_blobset_release(&c.data);
	segbounds_release(&c.bounds);
	repo_idset_release(&c.bad);
	free(c.bads);
	free(c.todo);
	free(c.sizes);
	pthread_cond_destroy(&c.hdr_freed);
	pthread_mutex_destroy(&c.lock);
	return rc;
}

int repo_check(struct repo *r, const struct repo_check_opts *o, repo_check_fn fn, void *ud,
	       struct repo_check_result *ret, struct err *e)
{
	static const struct repo_check_ext x = { .headers = false };

	return repo_check_full(r, o, &x, fn, ud, ret, NULL, e);
}
