/* Open files and reads: map the offset to its extent by binary search, copy from cached
 * blobs (holes read as zeros), and prefetch the next blobs when a reader goes sequentially. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* How far ahead of a sequential reader blobs are loaded: enough to keep the prefetch
 * workers busy while the reader copies, small next to the cache budget. */
#define READAHEAD_BYTES (8u * 1024 * 1024)
#define READAHEAD_BLOBS 8
#define SEQ_SLACK       (1024u * 1024)

struct fileh {
	struct snode *sn; /* pinned: its content outlives the handle */
	struct extmap map;
	_Atomic uint64_t next_off; /* where a sequential reader continues */
};

static void fileh_free(struct snapfs *fs, struct fileh *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&fs->lock);
	fs_unpin(fs, h->sn);
	pthread_mutex_unlock(&fs->lock);
	extmap_release(&h->map);
	free(h);
}

void read_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapfs *fs = fuse_req_userdata(req);
	struct fileh *h = NULL;
	struct err e = ERR_INIT;
	struct snode *n;
	int r = -ENOENT;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = itable_get(&fs->it, ino);
	if (!n)
		goto out;
	r = fs_is_dir(n) ? -EISDIR : -EINVAL;
	if (n->kind != SN_REAL || n->node.type != NODE_FILE)
		goto out;
	/* A file the backup could not read whole (replaced while read, or its data lost and
	 * the snapshot repaired) is not served: a copy through the mount would look whole.
	 * Restore writes what the snapshot holds and names the file (restore_entry). */
	if (n->node.flags & NODE_UNREADABLE) {
		r = err_set(&e, -EIO,
		            "'%.*s': not served: the backup could not read it whole (`cairn "
		            "restore` writes what the snapshot holds, and names it)",
		            (int)n->node.name_len, n->node.name ? n->node.name : "");
		fs_report_forged(fs, &e, n->node.name, n->node.name_len, n->node.content,
		                 n->node.n_content);
		goto out;
	}
	r = -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h)
		goto out;
	r = extmap_build(n->node.content, n->node.n_content, &h->map);
	/* A backup records the size its extents add up to (restore holds files to the same
	 * rule). A forged node that claims more would read as a file cut short without an
	 * error, one that claims less would hide data: both are damage, not a file. */
	if (r == -EOVERFLOW || (r >= 0 && extmap_total(&h->map) != n->node.size)) {
		extmap_release(&h->map);
		r = err_set(
		    &e, -EIO,
		    "'%.*s': its extents do not add up to its size %llu (forged or corrupt)",
		    (int)n->node.name_len, n->node.name ? n->node.name : "",
		    (unsigned long long)n->node.size);
		/* Named once per mount, not at each open (fs_report_forged); report_lock is
		 * taken after fs->lock, never the other way round. */
		fs_report_forged(fs, &e, n->node.name, n->node.name_len, n->node.content,
		                 n->node.n_content);
	}
	if (r < 0)
		goto out;
	h->sn = n;
	n->pins++;
	r = 0;
out:
	pthread_mutex_unlock(&fs->lock);
	if (r < 0) {
		free(h);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)h;
	/* Snapshot content never changes: keep the page cache across opens. */
	fi->keep_cache = 1;
	fi->noflush = 1;
	/* libfuse frees req with every reply, failed or not: when the kernel refuses this
	 * one (the opener was interrupted), drop the handle and never touch req again. */
	if (fuse_reply_open(req, fi) < 0)
		fileh_free(fs, h);
}

void read_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapfs *fs = fuse_req_userdata(req);
	struct fileh *h = (struct fileh *)(uintptr_t)fi->fh;

	(void)ino;
	fileh_free(fs, h);
	fuse_reply_err(req, 0);
}

static void prefetch(struct snapfs *fs, const struct node *x, size_t i)
{
	uint64_t bytes = 0;

	for (size_t k = 0; i + k < x->n_content && k < READAHEAD_BLOBS && bytes < READAHEAD_BYTES;
	     k++) {
		const struct extent *ext = &x->content[i + k];

		if (!ext->hole)
			blobcache_prefetch(fs->cache, ext->id);
		bytes += ext->len;
	}
}

/* Copy want bytes at off into out; returns bytes copied (short only at end of file). */
static ssize_t copy_range(struct snapfs *fs, struct fileh *h, uint64_t off, size_t want,
                          uint8_t *out, struct err *e)
{
	const struct node *x = &h->sn->node;
	size_t i = extmap_find(&h->map, off), done = 0;

	while (done < want && i < h->map.n) {
		const struct extent *ext = &x->content[i];
		uint64_t in = off + done - extmap_start(&h->map, i);
		size_t n = want - done;
		struct cblob *b = NULL;
		int r;

		if (n > ext->len - in)
			n = (size_t)(ext->len - in);
		if (ext->hole) {
			memset(out + done, 0, n);
		} else {
			r = blobcache_get(fs->cache, ext->id, &b, e);
			if (r < 0)
				return r;
			if (cblob_len(b) != ext->len) {
				blobcache_put(fs->cache, b);
				return err_set(e, -EBADMSG, "blob length %zu, extent says %llu",
				               cblob_len(b), (unsigned long long)ext->len);
			}
			memcpy(out + done, cblob_data(b) + in, n);
			blobcache_put(fs->cache, b);
		}
		done += n;
		i++;
	}
	return (ssize_t)done;
}

void read_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct snapfs *fs = fuse_req_userdata(req);
	struct fileh *h = (struct fileh *)(uintptr_t)fi->fh;
	uint64_t total = extmap_total(&h->map), uoff = (uint64_t)off;
	struct err e = ERR_INIT;
	uint8_t *out = NULL;
	ssize_t got;

	(void)ino;
	if (off < 0 || uoff >= total || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > total - uoff)
		size = (size_t)(total - uoff);
	out = malloc(size);
	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* A reader continuing near where it stopped is sequential: warm the blobs after this
	 * one. "Near": the kernel's readahead sends several requests at once, so they may
	 * arrive out of order. */
	if (uoff + SEQ_SLACK >= atomic_load(&h->next_off) &&
	    uoff <= atomic_load(&h->next_off) + SEQ_SLACK)
		prefetch(fs, &h->sn->node, extmap_find(&h->map, uoff) + 1);
	got = copy_range(fs, h, uoff, size, out, &e);
	if (got < 0) {
		err_wrap(&e, (int)got, "read of '%.*s' at %lld", (int)h->sn->node.name_len,
		         h->sn->node.name ? h->sn->node.name : "", (long long)off);
		fs_report(fs, &e);
		fuse_reply_err(req, EIO);
	} else {
		atomic_store(&h->next_off, uoff + (uint64_t)got);
		fuse_reply_buf(req, (const char *)out, (size_t)got);
	}
	free(out);
}

/* SEEK_DATA and SEEK_HOLE from the snapshot's extents: without this the kernel reports the
 * whole file as data, and `cp --sparse`, tar or rsync read a sparse file's holes as zeros
 * through FUSE (a 20 GiB file with three data blocks took a minute). */
void read_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct fileh *h = (struct fileh *)(uintptr_t)fi->fh;
	const struct node *x = &h->sn->node;
	uint64_t total = extmap_total(&h->map), uoff = (uint64_t)off;
	bool want_hole = whence == SEEK_HOLE;

	(void)ino;
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0 || uoff >= total) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	/* Backup merges neighbouring holes, so SEEK_DATA stops at the next extent; SEEK_HOLE
	 * walks the data extents up to the next hole. */
	for (size_t i = extmap_find(&h->map, uoff); i < h->map.n; i++) {
		uint64_t start = extmap_start(&h->map, i);

		if (x->content[i].len == 0 || x->content[i].hole != want_hole)
			continue;
		fuse_reply_lseek(req, (off_t)(start > uoff ? start : uoff));
		return;
	}
	/* Past the last data there is only the implicit hole at the end of the file. */
	if (want_hole)
		fuse_reply_lseek(req, (off_t)total);
	else
		fuse_reply_err(req, ENXIO);
}
