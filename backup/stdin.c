/* Owns streamed backups: one regular file whose bytes are pushed by a caller (the CLI
 * reading stdin or a command's output, the agent relaying a pod exec), cut and stored
 * like a file's with a fixed buffer, and a snapshot only when the producer says it
 * delivered everything. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/ckd.h"
#include "util/vec.h"

/* Room for new bytes above a chunker maximum's worth of uncut tail: the tail is moved
 * down once per this many bytes, so each byte is copied about once. */
#define STREAM_SLACK (8u * 1024 * 1024)

struct backup_stream {
	struct bk b;
	struct backup_opts o; /* the caller's, with our one path */
	struct err err;       /* b.e; copied to the caller's on failure */
	struct repo_lock *lock;
	struct snapshot parent;
	bool have_parent;
	char host[256];
	char name[NAME_MAX + 1];
	const char *pathv[1];
	char **paths; /* "/NAME", handed to the snapshot */
	/* buf[pos, len) is fed but not cut yet; batch points into it until flushed. */
	uint8_t *buf;
	size_t cap, len, pos;
	struct chunker_scan scan; /* how far the chunk at pos was searched: resumed per feed */
	struct htask batch[HASH_BATCH];
	size_t n_batch;
	struct extent *ext;
	size_t n_ext, cap_ext;
	uint64_t size;
	int failed; /* first error; every later call returns it */
};

static int ext_add(struct backup_stream *s, const uint8_t *id, uint64_t len)
{
	if (VEC_RESERVE1(s->ext, s->cap_ext, s->n_ext, 64))
		return -ENOMEM;
	memset(&s->ext[s->n_ext], 0, sizeof(*s->ext));
	memcpy(s->ext[s->n_ext].id, id, ID_BYTES);
	s->ext[s->n_ext++].len = len;
	return 0;
}

/* Hash the batch together (hashpool), then dedup and queue in order. */
static int flush_batch(struct backup_stream *s)
{
	struct bk *b = &s->b;
	int rc;

	hashpool_run(&b->hp, s->batch, s->n_batch);
	for (size_t i = 0; i < s->n_batch; i++) {
		rc = bk_save_hashed(b, BLOB_DATA, s->batch[i].p, s->batch[i].n, s->batch[i].id);
		if (rc >= 0)
			rc = ext_add(s, s->batch[i].id, s->batch[i].n);
		if (rc < 0)
			return rc;
		s->size += s->batch[i].n;
		b->prog.bytes_done += s->batch[i].n;
	}
	s->n_batch = 0;
	bk_progress(b, false);
	return 0;
}

/* Cut every chunk the buffer holds (at eof: all of it), then move the tail down. */
static int cut_buffer(struct backup_stream *s, bool eof)
{
	const struct chunker *c = repo_chunker(s->b.repo);
	int rc;

	for (;;) {
		size_t cut = 0;

		if (s->pos < s->len && s->n_batch < HASH_BATCH)
			cut = chunker_next(c, &s->scan, s->buf + s->pos, s->len - s->pos, eof);
		if (cut) {
			s->batch[s->n_batch].p = s->buf + s->pos;
			s->batch[s->n_batch++].n = cut;
			s->pos += cut;
			continue;
		}
		if (!s->n_batch)
			break;
		/* A full batch, or no cut in the tail: either way the batch goes first. */
		rc = flush_batch(s);
		if (rc < 0)
			return rc;
	}
	memmove(s->buf, s->buf + s->pos, s->len - s->pos);
	s->len -= s->pos;
	s->pos = 0;
	return 0;
}

/* Latch the first error. A worker's failure reaches the feeder as -ECANCELED: stopping
 * the workers now brings out its real message. */
static int stream_fail(struct backup_stream *s, int rc)
{
	int wr = bk_workers_stop(&s->b);

	if (rc == -ECANCELED && wr < 0 && wr != -ECANCELED)
		rc = wr;
	if (rc == -ECANCELED)
		err_set(&s->err, rc, "backup cancelled");
	else if (!s->err.code)
		err_set(&s->err, rc, "%s: %s", s->b.path, strerror(-rc));
	s->failed = rc;
	return rc;
}

static void stream_free(struct backup_stream *s)
{
	int wr;

	if (!s)
		return;
	hashpool_stop(&s->b.hp);
	wr = bk_workers_stop(&s->b); /* running only on a path that already failed */
	(void)wr;
	if (s->paths) {
		free(s->paths[0]);
		free(s->paths);
	}
	free(s->buf);
	free(s->ext);
	snapshot_release(&s->parent);
	repo_unlock(s->lock);
	pthread_mutex_destroy(&s->b.spare_lock);
	free(s);
	/* A long-running agent must not keep a backup's peak. */
	malloc_trim(0);
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	return n && n <= NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

int backup_stream_begin(struct repo *r, const struct backup_opts *o, const char *name,
                        struct backup_stream **ret, struct err *e)
{
	struct backup_stream *s;
	size_t cap;
	int rc, threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	*ret = NULL;
	if (!name || !valid_name(name))
		return err_set(e, -EINVAL,
		               "the stream's file name must be one path component (no '/')");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	pthread_mutex_init(&s->b.spare_lock, NULL);
	s->b.repo = r;
	s->b.o = &s->o;
	s->b.e = &s->err;
	s->o = *o;
	s->o.paths = s->pathv;
	s->o.n_paths = 1;
	s->o.excludes = NULL;
	s->o.n_excludes = 0;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->b.path, sizeof(s->b.path), "/%s", name);
	s->b.path_len = strlen(s->b.path);
	s->pathv[0] = s->b.path;
	clock_gettime(CLOCK_MONOTONIC, &s->b.start);
	s->b.last_progress = s->b.start;
	snprintf(s->host, sizeof(s->host), "%s", o->hostname ? o->hostname : "");
	if (!s->host[0])
		gethostname(s->host, sizeof(s->host) - 1);
	s->paths = calloc(2, sizeof(*s->paths));
	if (s->paths)
		s->paths[0] = strdup(s->b.path);
	if (!s->paths || !s->paths[0]) {
		rc = err_set(&s->err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (ckd_add(&cap, (size_t)repo_chunker(r)->p.max, (size_t)STREAM_SLACK)) {
		rc = err_set(&s->err, -EOVERFLOW, "chunker maximum too large");
		goto fail;
	}
	rc = repo_lock(r, REPO_LOCK_SHARED, &s->lock, &s->err);
	if (rc < 0)
		goto fail;
	rc = (int)repo_index_adopt_orphans(r, &s->err);
	if (rc < 0)
		goto fail;
	bk_lost_packs(&s->b);
	rc = bk_find_parent(&s->b, s->host, s->paths, 1, &s->parent);
	if (rc < 0)
		goto fail;
	s->have_parent = rc > 0;
	s->cap = cap;
	s->buf = malloc(cap);
	if (!s->buf) {
		rc = err_set(&s->err, -ENOMEM, "out of memory");
		goto fail;
	}
	threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
	rc = hashpool_start(&s->b.hp, repo_key(r), threads - 1, &s->err);
	if (rc < 0)
		goto fail;
	rc = bk_workers_start(&s->b, threads);
	if (rc < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	*e = s->err;
	stream_free(s);
	return rc;
}

int backup_stream_feed(struct backup_stream *s, const void *p, size_t n, struct err *e)
{
	const uint8_t *in = p;
	int rc = s->failed;

	while (!rc && n) {
		size_t k = s->cap - s->len < n ? s->cap - s->len : n;

		memcpy(s->buf + s->len, in, k);
		s->len += k;
		in += k;
		n -= k;
		/* Cut only a full buffer: fewer, longer runs of the chunker and hashers. */
		if (s->len == s->cap)
			rc = cut_buffer(s, false);
		if (rc < 0)
			rc = stream_fail(s, rc);
	}
	if (!rc && bk_should_stop(&s->b))
		rc = stream_fail(s, -ECANCELED);
	/* A dump may run for hours: keep the lock fresh so prune never takes it for a dead
	 * one (a no-op until the refresh interval has passed). */
	if (!rc) {
		rc = repo_lock_refresh(s->lock, &s->err);
		if (rc < 0)
			rc = stream_fail(s, rc);
	}
	if (rc < 0)
		*e = s->err;
	return rc;
}

/* The file node and the one-entry root tree. */
static int save_root(struct backup_stream *s, struct snapshot *snap)
{
	struct bk *b = &s->b;
	struct buf seg = BUF_INIT;
	struct node n = { 0 }, pn = { 0 };
	struct stat st = { 0 };
	struct timespec now;
	uint8_t id[ID_BYTES];
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	st.st_mode = S_IFREG | 0644;
	st.st_uid = getuid();
	st.st_gid = getgid();
	st.st_nlink = 1;
	st.st_size = (off_t)s->size;
	st.st_mtim = st.st_atim = st.st_ctim = now;
	rc = bk_node_stat(b, s->name, strlen(s->name), &st, &n);
	if (rc < 0)
		goto fail;
	n.content = s->ext;
	n.n_content = s->n_ext;
	s->ext = NULL;
	s->n_ext = s->cap_ext = 0;
	/* What the summary calls unmodified: the same chunks as the parent's file. */
	rc = s->have_parent ? bk_parent_root_node(b, &s->parent, s->name, &pn) : 0;
	if (rc < 0)
		goto fail;
	if (rc > 0 && pn.type == NODE_FILE) {
		bool same = pn.n_content == n.n_content;

		for (size_t i = 0; same && i < n.n_content; i++)
			same = !memcmp(pn.content[i].id, n.content[i].id, ID_BYTES);
		if (same)
			b->sum.files_unmodified++;
		else
			b->sum.files_changed++;
	} else {
		b->sum.files_new++;
	}
	b->sum.total_files = 1;
	b->sum.total_bytes = b->sum.bytes_processed = s->size;
	b->prog.files_done = 1;
	buf_init(&seg, 1u << 30);
	rc = tree_encode_header(&seg);
	if (rc >= 0)
		rc = tree_encode_node(&seg, &n);
	if (rc >= 0)
		rc = bk_save_blob(b, BLOB_TREE, seg.p, seg.len, id);
	if (rc < 0)
		goto fail;
	snap->tree = calloc(1, sizeof(*snap->tree));
	if (!snap->tree) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(snap->tree[0].id, id, ID_BYTES);
	snap->tree[0].len = 1;
	snap->n_tree = 1;
fail:
	buf_release(&seg);
	node_release(&n);
	node_release(&pn);
	return rc;
}

/* The producer did not deliver everything: say so, with what was read. */
static int producer_failed(struct backup_stream *s, int status)
{
	unsigned long long got = (unsigned long long)(s->size + (s->len - s->pos));

	if (status > 0)
		return err_set(&s->err, -EPIPE,
		               "%s: the producer exited with status %d after %llu bytes: no "
		               "snapshot written",
		               s->b.path, status, got);
	if (status == -ECANCELED)
		return err_set(&s->err, status, "backup cancelled");
	return err_set(&s->err, status,
	               "%s: reading the stream failed after %llu bytes: %s: no "
	               "snapshot written",
	               s->b.path, got, strerror(-status));
}

int backup_stream_end(struct backup_stream *s, int status, struct backup_result *ret, struct err *e)
{
	struct snapshot snap = { 0 };
	struct bk *b = &s->b;
	int rc = s->failed;

	memset(ret, 0, sizeof(*ret));
	/* Cancelled: what is queued is dropped, not uploaded. */
	if (status == -ECANCELED && b->q)
		wq_cancel(b->q, -ECANCELED);
	/* A failed producer's whole chunks are stored too (not its uncut tail): a retry
	 * that delivers the same bytes finds them. A cancel stops at once instead. */
	if (!rc && status != -ECANCELED)
		rc = cut_buffer(s, !status);
	if (!rc && !status)
		rc = save_root(s, &snap);
	{
		int wr = bk_workers_stop(b);

		if (rc >= 0 || rc == -ECANCELED)
			rc = wr < 0 ? wr : rc;
	}
	if (rc == -ECANCELED && !s->err.code)
		err_set(&s->err, rc, "backup cancelled");
	else if (rc < 0 && !s->err.code)
		err_set(&s->err, rc, "%s: %s", b->path, strerror(-rc));
	/* Even a failed stream indexes what it uploaded: the retry reuses it. */
	{
		struct err fe = ERR_INIT;
		int fr = repo_flush(b->repo, rc < 0 || status ? &fe : &s->err);

		if (rc >= 0 && !status)
			rc = fr;
	}
	if (rc >= 0 && status)
		rc = producer_failed(s, status);
	if (rc < 0)
		goto fail;
	b->sum.bytes_added = atomic_load(&b->bytes_added);
	bk_progress(b, true);
	rc = bk_snapshot_fill(&snap, &s->o, s->host, s->paths);
	s->paths = NULL;
	if (rc < 0) {
		err_set(&s->err, rc, "out of memory");
		goto fail;
	}
	if (s->have_parent) {
		snap.has_parent = true;
		memcpy(snap.parent, s->parent.id, ID_BYTES);
		ret->has_parent = true;
		memcpy(ret->parent_id, s->parent.id, ID_BYTES);
	}
	{
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		b->sum.duration =
		    (double)(now.tv_sec - b->start.tv_sec) + (now.tv_nsec - b->start.tv_nsec) / 1e9;
	}
	snap.summary = b->sum;
	rc = repo_snapshot_save(b->repo, &snap, &s->err);
	if (rc < 0)
		goto fail;
	memcpy(ret->snapshot_id, snap.id, ID_BYTES);
	ret->summary = b->sum;
fail:
	if (rc < 0) {
		*e = s->err;
		ret->has_parent = false;
	}
	snapshot_release(&snap);
	stream_free(s);
	return rc;
}
