/* The mounted filesystem's state: the virtual tree built from the layout, nodes created
 * on lookup and freed on forget, and the bounded set of loaded directory listings. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* For XXH3_state_t on the stack. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "util/banned.h"
#include "util/ckd.h"

/* Loaded listings are kept up to this many entries in total, and within DL_BUDGET bytes
 * (names are up to 255 bytes each, so a count alone bounds nothing). A folder over
 * DL_FOLDER_MAX is not held at all but read from its tree (dirstream.c): its listing
 * would crowd out every other, and an honest folder of millions of entries, or a forged
 * one, would hold GBs. */
#define DL_MAX_ENTRIES (256u * 1024)
#define DL_BUDGET      (128u * 1024 * 1024)
#define DL_FOLDER_MAX  (32u * 1024 * 1024)

bool fs_is_dir(const struct snode *n)
{
	return n->kind == SN_VDIR || n->kind == SN_ROOT ||
	       (n->kind == SN_REAL && n->node.type == NODE_DIR);
}

static void dl_unlink(struct snode *n)
{
	n->dl_prev->dl_next = n->dl_next;
	n->dl_next->dl_prev = n->dl_prev;
}

static void dl_push(struct snapfs *fs, struct snode *n)
{
	n->dl_next = fs->dl_lru.dl_next;
	n->dl_prev = &fs->dl_lru;
	fs->dl_lru.dl_next->dl_prev = n;
	fs->dl_lru.dl_next = n;
}

/* Drop the node's reference to its listing. */
static void dl_detach(struct snapfs *fs, struct snode *n)
{
	if (!n->dl)
		return;
	dl_unlink(n);
	fs->dl_entries -= n->dl->n;
	fs_dirlist_put(fs, n->dl);
	n->dl = NULL;
}

static void snode_free(struct snapfs *fs, struct snode *n)
{
	dl_detach(fs, n);
	if (n->dx)
		fs->dl_bytes -= n->dx->bytes;
	dirindex_free(n->dx);
	itable_del(&fs->it, n);
	if (n->has_node)
		node_release(&n->node);
	free(n->name);
	free(n->target);
	free(n->segs);
	free(n->kids);
	free(n->key);
	free(n);
}

static void vnode_unlist(struct snapfs *fs, struct snode *n)
{
	for (struct snode **pp = &fs->vnodes; *pp; pp = &(*pp)->vnext)
		if (*pp == n) {
			*pp = n->vnext;
			return;
		}
}

/* Free a node nobody refers to any more: not the kernel, not us, not the layout. */
static void maybe_free(struct snapfs *fs, struct snode *n)
{
	if (n == fs->root || n->nlookup > 0 || n->pins > 0)
		return;
	if (n->kind != SN_REAL) {
		if (n->gen == fs->gen)
			return;
		vnode_unlist(fs, n);
	}
	snode_free(fs, n);
}

void fs_forget(struct snapfs *fs, struct snode *n, uint64_t nlookup)
{
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	maybe_free(fs, n);
}

void fs_unpin(struct snapfs *fs, struct snode *n)
{
	n->pins--;
	maybe_free(fs, n);
}

/* Find the virtual node with this key, or create it. */
static struct snode *vnode_get(struct snapfs *fs, enum snode_kind kind, const char *name,
                               size_t name_len, const struct buf *key)
{
	struct snode *n = itable_find(&fs->it, key->p, key->len);

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->name = strndup(name, name_len);
	n->key = malloc(key->len);
	if (!n->name || !n->key)
		goto fail;
	memcpy(n->key, key->p, key->len);
	n->key_len = key->len;
	if (itable_add(&fs->it, n) < 0)
		goto fail;
	n->vnext = fs->vnodes;
	fs->vnodes = n;
	return n;
fail:
	free(n->name);
	free(n->key);
	free(n);
	return NULL;
}

static int kid_add(struct snode *dir, struct snode *kid)
{
	if (dir->n_kids == dir->cap_kids) {
		size_t cap = dir->cap_kids ? dir->cap_kids * 2 : 8, bytes;
		struct snode **p;

		if (ckd_mul(&bytes, cap, sizeof(*p)))
			return -EOVERFLOW;
		p = realloc(dir->kids, bytes);
		if (!p)
			return -ENOMEM;
		dir->kids = p;
		dir->cap_kids = cap;
	}
	dir->kids[dir->n_kids++] = kid;
	return 0;
}

static int root_fill(struct snode *n, const struct snapshot *s)
{
	size_t bytes;

	if (n->segs)
		return 0;
	if (ckd_mul(&bytes, s->n_tree, sizeof(*n->segs)))
		return -EOVERFLOW;
	n->segs = malloc(bytes ? bytes : 1);
	if (!n->segs)
		return -ENOMEM;
	if (bytes)
		memcpy(n->segs, s->tree, bytes);
	n->n_segs = s->n_tree;
	n->time_sec = s->time_sec;
	n->time_nsec = s->time_nsec;
	return 0;
}

/* Place one layout entry: walk its path from the root, creating directories on the way.
 * A snapshot root's key holds the snapshot id, so a name that comes to mean another
 * snapshot gets a fresh inode and the kernel never serves the old one's cached pages. */
static int place(struct snapfs *fs, const struct layout_entry *le, const struct snapshot *s)
{
	struct snode *dir = fs->root;
	const char *p = le->path;
	struct buf key = BUF_INIT;
	int r = 0;

	buf_init(&key, PATH_MAX + ID_BYTES + 2);
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		enum snode_kind kind = SN_VDIR;
		struct snode *n;

		if (!slash)
			kind = le->kind == LAYOUT_SNAP   ? SN_ROOT
			       : le->kind == LAYOUT_LINK ? SN_VLINK
			                                 : SN_VDIR;
		buf_reset(&key);
		r = buf_put_u8(&key, kind == SN_ROOT ? 'r' : kind == SN_VLINK ? 'l' : 'v');
		if (r == 0)
			r = buf_append(&key, le->path, (size_t)(p - le->path) + len);
		if (r == 0 && kind == SN_ROOT)
			r = buf_append(&key, s[le->snap].id, ID_BYTES);
		if (r < 0)
			goto fail;
		r = -ENOMEM;
		n = vnode_get(fs, kind, p, len, &key);
		if (!n)
			goto fail;
		if (kind == SN_ROOT && (r = root_fill(n, &s[le->snap])) < 0)
			goto fail;
		if (kind == SN_VLINK) {
			free(n->target);
			n->target = strdup(le->target);
			if (!n->target)
				goto fail;
		}
		n->top = dir == fs->root;
		if (n->gen != fs->gen) {
			n->gen = fs->gen;
			r = kid_add(dir, n);
			if (r < 0)
				goto fail;
		}
		if (!slash)
			break;
		dir = n;
		p = slash + 1;
	}
	r = 0;
fail:
	buf_release(&key);
	return r;
}

static int by_kid_name(const void *a, const void *b)
{
	return strcmp((*(struct snode *const *)a)->name, (*(struct snode *const *)b)->name);
}

struct snode *fs_vfind(const struct snode *dir, const char *name)
{
	size_t lo = 0, hi = dir->n_kids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, dir->kids[mid]->name);

		if (c == 0)
			return dir->kids[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Rebuild the virtual tree for a new snapshot list. Nodes that left the layout stay
 * alive (unreachable) while the kernel still refers to them. */
static int apply(struct snapfs *fs, const struct snapshot *s, const struct layout *l)
{
	struct snode *n, *next;
	int r = 0;

	fs->gen++;
	fs->root->gen = fs->gen;
	for (n = fs->vnodes; n; n = n->vnext)
		n->n_kids = 0;
	for (size_t i = 0; i < l->n && r == 0; i++)
		r = place(fs, &l->e[i], s);
	for (n = fs->vnodes; n; n = n->vnext)
		if (n->n_kids > 1)
			qsort(n->kids, n->n_kids, sizeof(*n->kids), by_kid_name);
	for (n = fs->vnodes; n; n = next) {
		next = n->vnext;
		maybe_free(fs, n);
	}
	return r;
}

static int64_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, ID_BYTES);
}

/* Remember the listed ids; true when one of them was not there last time. */
static int note_ids(struct snapfs *fs, const struct snapshot *s, size_t n, bool *ret_new)
{
	uint8_t(*ids)[ID_BYTES] = NULL;
	bool fresh = false;

	if (n > 0) {
		ids = calloc(n, ID_BYTES);
		if (!ids)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(ids[i], s[i].id, ID_BYTES);
		if (!fs->known || !bsearch(s[i].id, fs->known, fs->n_known, ID_BYTES, cmp_id))
			fresh = true;
	}
	if (n > 1)
		qsort(ids, n, ID_BYTES, cmp_id);
	free(fs->known);
	fs->known = ids;
	fs->n_known = n;
	*ret_new = fresh;
	return 0;
}

int fs_refresh(struct snapfs *fs, bool force, struct err *e)
{
	struct snapshot *s = NULL;
	struct layout l = { 0 };
	size_t n = 0;
	int64_t now = now_sec();
	bool first, fresh = false;
	int r = 0;

	pthread_mutex_lock(&fs->refresh_lock);
	first = fs->last_refresh == 0;
	if (!force && fs->last_refresh != 0 && now - fs->last_refresh < fs->opt.refresh_sec)
		goto done;
	/* Failures are rate-limited too: a broken backend is not hammered by every ls. */
	fs->last_refresh = now;
	pthread_rwlock_wrlock(&fs->repo_lock);
	r = repo_index_load(fs->repo, e);
	if (r == 0)
		r = repo_snapshot_list(fs->repo, &s, &n, e);
	if (r == 0)
		r = note_ids(fs, s, n, &fresh);
	if (r == 0 && fresh && !first) {
		/* New snapshots bring new index files: read those, not the whole index again. */
		ssize_t k = repo_index_reload(fs->repo, e);

		r = k < 0 ? (int)k : 0;
	}
	pthread_rwlock_unlock(&fs->repo_lock);
	if (r < 0)
		goto done;
	r = layout_build(s, n, &l);
	if (r < 0) {
		err_set(e, r, "cannot lay out %zu snapshots", n);
		goto done;
	}
	pthread_mutex_lock(&fs->lock);
	r = apply(fs, s, &l);
	pthread_mutex_unlock(&fs->lock);
	if (r < 0)
		err_set(e, r, "cannot build the snapshot directories");
done:
	pthread_mutex_unlock(&fs->refresh_lock);
	layout_release(&l);
	snapshot_list_free(s, n);
	return r;
}

void fs_report(struct snapfs *fs, const struct err *e)
{
	if (!fs->opt.report)
		return;
	pthread_mutex_lock(&fs->report_lock);
	fs->opt.report(fs->opt.report_ud, e);
	pthread_mutex_unlock(&fs->report_lock);
}

static void set_times(struct stat *st, int64_t sec, uint32_t nsec)
{
	st->st_mtim.tv_sec = st->st_atim.tv_sec = st->st_ctim.tv_sec = (time_t)sec;
	st->st_mtim.tv_nsec = st->st_atim.tv_nsec = st->st_ctim.tv_nsec = (long)nsec;
}

static mode_t type_bits(enum node_type t)
{
	static const mode_t bits[] = {
		[NODE_FILE] = S_IFREG,  [NODE_DIR] = S_IFDIR, [NODE_SYMLINK] = S_IFLNK,
		[NODE_FIFO] = S_IFIFO,  [NODE_CHR] = S_IFCHR, [NODE_BLK] = S_IFBLK,
		[NODE_SOCK] = S_IFSOCK,
	};

	return (unsigned)t < ELEMENTSOF(bits) ? bits[t] : S_IFREG;
}

void fs_stat(const struct snapfs *fs, const struct snode *n, struct stat *st)
{
	const struct node *x = &n->node;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_blksize = 128 * 1024;
	if (n->kind != SN_REAL) {
		st->st_uid = fs->uid;
		st->st_gid = fs->gid;
		st->st_nlink = n->kind == SN_VLINK ? 1 : 2;
		st->st_mode = n->kind == SN_VLINK ? S_IFLNK | 0777 : S_IFDIR | 0555;
		if (n->kind == SN_VLINK)
			st->st_size = (off_t)strlen(n->target);
		if (n->kind == SN_ROOT)
			set_times(st, n->time_sec, n->time_nsec);
		else
			set_times(st, fs->started.tv_sec, (uint32_t)fs->started.tv_nsec);
		return;
	}
	/* The recorded type wins over mode bits, so a damaged mode cannot turn a file into
	 * something the kernel would treat differently from what we serve. */
	st->st_mode = (mode_t)(x->mode & 07777) | type_bits(x->type);
	st->st_nlink = x->nlink ? (nlink_t)x->nlink : 1;
	st->st_uid = x->uid;
	st->st_gid = x->gid;
	st->st_size = x->type == NODE_SYMLINK ? (off_t)x->target_len : (off_t)x->size;
	st->st_rdev = (dev_t)x->rdev;
	st->st_blocks = (blkcnt_t)n->blocks;
	st->st_mtim.tv_sec = (time_t)x->mtime_sec;
	st->st_mtim.tv_nsec = x->mtime_nsec;
	st->st_atim.tv_sec = (time_t)x->atime_sec;
	st->st_atim.tv_nsec = x->atime_nsec;
	st->st_ctim.tv_sec = (time_t)x->ctime_sec;
	st->st_ctim.tv_nsec = x->ctime_nsec;
}

/* What a hardlinked name holds: its size and content list (ids, lengths, holes). Two names
 * claiming one inode with other content (a file written between the backup's reads of its
 * two names, or a forged snapshot) are two files, as restore writes them; sharing a node
 * served the first one's bytes under both names. */
static void content_print(const struct node *src, uint64_t out[3])
{
	XXH3_state_t st;
	XXH128_hash_t h;

	XXH3_128bits_reset(&st);
	for (size_t i = 0; i < src->n_content; i++) {
		const struct extent *c = &src->content[i];
		uint8_t hole = c->hole;

		XXH3_128bits_update(&st, c->id, ID_BYTES);
		XXH3_128bits_update(&st, &c->len, sizeof(c->len));
		XXH3_128bits_update(&st, &hole, 1);
	}
	h = XXH3_128bits_digest(&st);
	out[0] = src->size;
	out[1] = h.low64;
	out[2] = h.high64;
}

/* The node for entry src of directory dir, created on first sight. Hardlinked files of one
 * snapshot share a node (and so an inode number) through their recorded dev and inode,
 * when they hold the same content. */
struct snode *fs_child(struct snapfs *fs, struct snode *dir, const struct node *src)
{
	uint64_t scope = dir->kind == SN_ROOT ? dir->ino : dir->scope;
	bool hardlink = src->type != NODE_DIR && src->nlink > 1 && src->inode != 0;
	uint64_t k[6] = { hardlink ? scope : dir->ino, src->dev, src->inode };
	struct buf key = BUF_INIT;
	struct snode *n = NULL;
	uint64_t stored = 0;

	if (hardlink)
		content_print(src, k + 3);
	buf_init(&key, 1 + sizeof(k) + src->name_len);
	if (buf_put_u8(&key, hardlink ? 'h' : 'p') < 0 ||
	    buf_append(&key, k, hardlink ? sizeof(k) : sizeof(k[0])) < 0 ||
	    (!hardlink && buf_append(&key, src->name, src->name_len) < 0))
		goto done;
	n = itable_find(&fs->it, key.p, key.len);
	if (n)
		goto done;
	n = calloc(1, sizeof(*n));
	if (!n)
		goto done;
	n->kind = SN_REAL;
	n->scope = scope;
	if (node_copy(src, &n->node) < 0) {
		free(n);
		n = NULL;
		goto done;
	}
	n->has_node = true;
	for (size_t i = 0; src->type == NODE_FILE && i < src->n_content; i++)
		if (!src->content[i].hole)
			stored += src->content[i].len;
	n->blocks = stored / 512 + (stored % 512 != 0);
	n->key = buf_take(&key, &n->key_len);
	if (itable_add(&fs->it, n) < 0) {
		node_release(&n->node);
		free(n->key);
		free(n);
		n = NULL;
	}
done:
	buf_release(&key);
	return n;
}

void fs_dirlist_put(struct snapfs *fs, struct dirlist *d)
{
	if (d && --d->refs == 0) {
		fs->dl_bytes -= d->bytes;
		dirlist_free(d);
	}
}

/* Keep the loaded listings within budget, with room for need more bytes, dropping the
 * least recently used first. A listing in use by an open directory survives in that
 * handle until it is closed, and counts until then. */
static void dl_trim(struct snapfs *fs, struct snode *keep, size_t need)
{
	struct snode *n = fs->dl_lru.dl_prev;

	while ((fs->dl_entries > fs->dl_max || fs->dl_bytes > fs->dl_budget ||
	        need > fs->dl_budget - fs->dl_bytes) &&
	       n != &fs->dl_lru) {
		struct snode *prev = n->dl_prev;

		if (n != keep)
			dl_detach(fs, n);
		n = prev;
	}
}

/* Give the node a listing; d carries the reference the node now owns. */
static void dl_attach(struct snapfs *fs, struct snode *n, struct dirlist *d)
{
	n->dl = d;
	dl_push(fs, n);
	fs->dl_entries += d->n;
	dl_trim(fs, n, 0);
}

/* With report_lock held. */
static void report_full(struct snapfs *fs)
{
	struct err w = ERR_INIT;

	err_set(&w, -EBADMSG,
	        "%zu forged or corrupt folders and files were named; further ones are not",
	        fs->forged.n);
	fs->opt.report(fs->opt.report_ud, &w);
}

void fs_report_forged(struct snapfs *fs, const struct err *e, const void *tag, size_t tag_len,
                      const struct extent *segs, size_t n)
{
	enum forged_say say;

	if (!fs->opt.report)
		return;
	pthread_mutex_lock(&fs->report_lock);
	say = forged_note(&fs->forged, tag, tag_len, segs, n);
	if (say == FORGED_FULL)
		report_full(fs);
	else if (say == FORGED_NEW)
		fs->opt.report(fs->opt.report_ud, e);
	pthread_mutex_unlock(&fs->report_lock);
}

/* A listing that left entries out says so, naming the folder and the first such name, as
 * restore names each entry it does not restore; the listing itself is served. Each forged
 * tree is named once per mount (forged.c), not at each reload after an eviction. The mount
 * knows a folder by its own name only (nodes hold no path). */
static void report_dropped(struct snapfs *fs, const struct snode *dir, const struct dirlist *d)
{
	bool root = dir->kind == SN_ROOT;
	const char *folder = root ? dir->name : dir->node.name;
	int len = (int)(root ? strlen(dir->name) : dir->node.name_len);
	struct err w = ERR_INIT;
	enum forged_say say;

	if (!fs->opt.report)
		return;
	pthread_mutex_lock(&fs->report_lock);
	say = root ? forged_note(&fs->forged, NULL, 0, dir->segs, dir->n_segs)
	           : forged_note(&fs->forged, NULL, 0, dir->node.content, dir->node.n_content);
	if (say == FORGED_FULL)
		report_full(fs);
	if (say == FORGED_NEW && d->rest_dropped) {
		err_set(&w, -EBADMSG,
		        "folder '%.*s': %zu entries, the first '%s', and the rest of the folder are "
		        "not shown: the snapshot holds their names twice or out of order (forged "
		        "or corrupt)",
		        len, folder, d->n_dropped, d->dropped);
		fs->opt.report(fs->opt.report_ud, &w);
	} else if (say == FORGED_NEW && d->n_dropped) {
		if (d->n_dropped == 1)
			err_set(&w, -EBADMSG,
			        "folder '%.*s'%s: '%s' is not shown: the snapshot holds this name "
			        "twice or out of order (forged or corrupt)",
			        len, folder, root ? " (a snapshot root)" : "", d->dropped);
		else
			err_set(&w, -EBADMSG,
			        "folder '%.*s'%s: %zu entries, the first '%s', are not shown: the "
			        "snapshot holds their names twice or out of order (forged or "
			        "corrupt)",
			        len, folder, root ? " (a snapshot root)" : "", d->n_dropped,
			        d->dropped);
		fs->opt.report(fs->opt.report_ud, &w);
	}
	if (say == FORGED_NEW && d->n_too_long) {
		/* The name is cut in the message: it is longer than a file name can be. */
		err_set(&w, -EBADMSG,
		        "folder '%.*s'%s: %zu entries, the first '%.40s...', are not shown: their "
		        "names are longer than %d bytes (forged or corrupt)",
		        len, folder, root ? " (a snapshot root)" : "", d->n_too_long, d->too_long,
		        NAME_MAX);
		fs->opt.report(fs->opt.report_ud, &w);
	}
	pthread_mutex_unlock(&fs->report_lock);
}

/* One line, once per mount, for a folder not held in memory: a snapshot root shown cut
 * (forged: honest roots hold one entry per backed-up path), or a folder read from its tree
 * at each listing and lookup. */
static void report_big(struct snapfs *fs, const struct snode *dir, const struct dirlist *d,
                       size_t limit)
{
	struct err w = ERR_INIT;

	if (d)
		err_set(&w, -EFBIG,
		        "folder '%s' (a snapshot root): only its first %zu entries are shown: its "
		        "listing is over %zu bytes (forged or corrupt)",
		        dir->name, d->n, limit);
	else
		err_set(&w, -EFBIG,
		        "folder '%.*s': its listing is over %zu bytes: not held in memory but read "
		        "from the repository at each listing and lookup (slower)",
		        (int)dir->node.name_len, dir->node.name, limit);
	if (d)
		fs_report_forged(fs, &w, "cut", 3, dir->segs, dir->n_segs);
	else
		fs_report_forged(fs, &w, "big", 3, dir->node.content, dir->node.n_content);
}

int fs_dirlist(struct snapfs *fs, struct snode *dir, struct dirlist **ret, struct err *e)
{
	struct dirlist *d = NULL;
	size_t limit;
	bool cut;
	int r;

	if (dir->dl) {
		/* Move to the warm end. */
		dir->dl->refs++;
		dl_unlink(dir);
		dl_push(fs, dir);
		*ret = dir->dl;
		return 0;
	}
	if (dir->streamed) {
		*ret = NULL;
		return 0;
	}
	/* Reserve the most the load may hold, so that loads under way together stay within
	 * the budget; what is left of it may be less than a folder's share. */
	dl_trim(fs, NULL, fs->dl_folder_max);
	limit = fs->dl_bytes < fs->dl_budget ? fs->dl_budget - fs->dl_bytes : 0;
	if (limit > fs->dl_folder_max)
		limit = fs->dl_folder_max;
	fs->dl_bytes += limit;
	dir->pins++;
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_rdlock(&fs->repo_lock);
	if (dir->kind == SN_ROOT)
		r = dirlist_load(fs->repo, dir->segs, dir->n_segs, NULL, limit, &d, e);
	else
		r = dirlist_load(fs->repo, NULL, 0, &dir->node, limit, &d, e);
	pthread_rwlock_unlock(&fs->repo_lock);
	/* Logged with no lock held; dir is pinned and its names never change. */
	if (r == 0 && (d->n_dropped || d->n_too_long))
		report_dropped(fs, dir, d);
	cut = r == -EFBIG || (r == 0 && d->cut);
	/* Over a folder's own limit it is so at every load: say so once and stop trying.
	 * Over what the budget had left, only this time. */
	if (cut && limit == fs->dl_folder_max)
		report_big(fs, dir, d, limit);
	pthread_mutex_lock(&fs->lock);
	fs->dl_bytes -= limit;
	if (r == -EFBIG) {
		if (limit == fs->dl_folder_max)
			dir->streamed = true;
		*e = (struct err)ERR_INIT;
		*ret = NULL;
		r = 0;
	} else if (r == 0) {
		fs->dl_bytes += d->bytes;
		/* Another thread may have loaded it meanwhile: keep theirs. A root cut short
		 * for want of budget is not kept, so that a later load may show it whole. */
		if (dir->dl) {
			fs_dirlist_put(fs, d);
			d = dir->dl;
			d->refs++;
		} else if (!cut || limit == fs->dl_folder_max) {
			d->refs++; /* one for the node, one for the caller */
			dl_attach(fs, dir, d);
		}
		*ret = d;
	}
	fs_unpin(fs, dir);
	return r;
}

/* With the lock held: give dir its segment index when it has none, within the budget
 * (reserved as fs_dirlist does). Without one, lookups still work, walking the folder. */
static void dx_load(struct snapfs *fs, struct snode *dir)
{
	struct dirindex *x = NULL;
	struct err e = ERR_INIT;
	size_t limit;
	int r;

	if (dir->dx || dir->dx_failed)
		return;
	dl_trim(fs, NULL, fs->dl_folder_max);
	limit = fs->dl_bytes < fs->dl_budget ? fs->dl_budget - fs->dl_bytes : 0;
	if (limit > fs->dl_folder_max)
		limit = fs->dl_folder_max;
	fs->dl_bytes += limit;
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_rdlock(&fs->repo_lock);
	r = dirindex_build(fs->repo, &dir->node, limit, &x, &e);
	pthread_rwlock_unlock(&fs->repo_lock);
	pthread_mutex_lock(&fs->lock);
	fs->dl_bytes -= limit;
	/* A tree that cannot be read is reported by the walk that follows. */
	if (r == -EFBIG && limit == fs->dl_folder_max)
		dir->dx_failed = true;
	if (r < 0 || dir->dx) {
		dirindex_free(x);
		return;
	}
	dir->dx = x;
	fs->dl_bytes += x->bytes;
}

int fs_stream_find(struct snapfs *fs, struct snode *dir, const char *name, struct node *ret,
                   struct err *e)
{
	const struct dirindex *x;
	int r;

	dir->pins++;
	dx_load(fs, dir);
	/* dir->dx, once set, stays until dir is freed, and dir is pinned. */
	x = dir->dx;
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_rdlock(&fs->repo_lock);
	r = dirstream_find(fs->repo, &dir->node, x, name, strlen(name), ret, e);
	pthread_rwlock_unlock(&fs->repo_lock);
	pthread_mutex_lock(&fs->lock);
	fs_unpin(fs, dir);
	return r;
}

/* Test builds only: CAIRN_TEST_MOUNT_LISTING_MAX=N keeps loaded listings within N entries
 * (a listing is evicted as soon as another is loaded), CAIRN_TEST_MOUNT_LISTING_BYTES=N
 * and CAIRN_TEST_MOUNT_FOLDER_BYTES=N lower DL_BUDGET and DL_FOLDER_MAX,
 * CAIRN_TEST_MOUNT_FORGED_MAX=N names at most N forged folders, so tests reach these
 * limits with a few folders. */
static void test_limits(struct snapfs *fs)
{
#ifdef CAIRN_TEST_HOOKS
	const char *l = getenv("CAIRN_TEST_MOUNT_LISTING_MAX");
	const char *f = getenv("CAIRN_TEST_MOUNT_FORGED_MAX");
	const char *b = getenv("CAIRN_TEST_MOUNT_LISTING_BYTES");
	const char *fb = getenv("CAIRN_TEST_MOUNT_FOLDER_BYTES");
	unsigned long long v;

	if (l && (v = strtoull(l, NULL, 10)) > 0 && v < fs->dl_max)
		fs->dl_max = (size_t)v;
	if (b && (v = strtoull(b, NULL, 10)) > 0 && v < fs->dl_budget)
		fs->dl_budget = (size_t)v;
	if (fb && (v = strtoull(fb, NULL, 10)) > 0 && v < fs->dl_folder_max)
		fs->dl_folder_max = (size_t)v;
	if (f && (v = strtoull(f, NULL, 10)) > 0 && v < fs->forged.max)
		fs->forged.max = (size_t)v;
#else
	(void)fs;
#endif
}

int fs_init(struct snapfs *fs, struct repo *r, const struct snapfs_options *o, struct err *e)
{
	int k;

	memset(fs, 0, sizeof(*fs));
	fs->repo = r;
	fs->opt = *o;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->refresh_lock, NULL);
	pthread_mutex_init(&fs->report_lock, NULL);
	pthread_rwlock_init(&fs->repo_lock, NULL);
	fs->dl_lru.dl_prev = fs->dl_lru.dl_next = &fs->dl_lru;
	fs->dl_max = DL_MAX_ENTRIES;
	fs->dl_budget = DL_BUDGET;
	fs->dl_folder_max = DL_FOLDER_MAX;
	forged_init(&fs->forged);
	test_limits(fs);
	if (fs->dl_folder_max > fs->dl_budget)
		fs->dl_folder_max = fs->dl_budget;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->started);
	k = itable_init(&fs->it);
	if (k < 0)
		return err_set(e, k, "cannot allocate the inode table");
	fs->root = calloc(1, sizeof(*fs->root));
	if (!fs->root)
		return err_set(e, -ENOMEM, "cannot allocate the root");
	fs->root->kind = SN_VDIR;
	fs->root->ino = FUSE_ROOT_ID;
	fs->root->name = strdup("");
	fs->root->key = (uint8_t *)strdup("v");
	fs->root->key_len = 1;
	if (!fs->root->name || !fs->root->key)
		return err_set(e, -ENOMEM, "cannot allocate the root");
	k = itable_add(&fs->it, fs->root);
	if (k < 0)
		return err_set(e, k, "cannot allocate the root");
	/* On the virtual list like every directory, so refresh rebuilds its children. */
	fs->vnodes = fs->root;
	return 0;
}

void fs_release(struct snapfs *fs)
{
	struct snode *n, *next;

	if (fs->root) {
		/* Unmounted: nothing refers to anything any more. */
		while (fs->dl_lru.dl_next != &fs->dl_lru)
			dl_detach(fs, fs->dl_lru.dl_next);
		for (size_t b = 0; fs->it.by_ino && b < fs->it.n_bucket; b++)
			for (n = fs->it.by_ino[b]; n; n = next) {
				next = n->inext;
				if (n != fs->root)
					snode_free(fs, n);
			}
		snode_free(fs, fs->root);
		fs->root = NULL;
	}
	itable_release(&fs->it);
	free(fs->known);
	pthread_rwlock_destroy(&fs->repo_lock);
	pthread_mutex_destroy(&fs->report_lock);
	pthread_mutex_destroy(&fs->refresh_lock);
	pthread_mutex_destroy(&fs->lock);
}
