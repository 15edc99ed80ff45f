/* Owns "is the file in the target already the snapshot's?" for restores with
 * skip_identical (an overwrite that rewrites only what changed). Stricter than restic's
 * size+mtime check: size, mtime (to the nanosecond), permission bits and, when owners are
 * restored, uid/gid must match, and then every extent of the file is read and its blob id
 * computed and compared with the one the snapshot records (holes must read as zeros).
 * Xattrs and ACLs are not compared: a file whose only change is an xattr is kept. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/buf.h"
#include "util/fsutil.h"

static bool meta_same(struct rs *s, const struct stat *st, const struct node *n)
{
	/* The mode this restore gives it (setid bits left off by default). */
	return S_ISREG(st->st_mode) && (uint64_t)st->st_size == n->size &&
	       (st->st_mode & 07777) == rs_mode(s, n, NULL) && st->st_mtim.tv_sec == n->mtime_sec &&
	       st->st_mtim.tv_nsec == (long)n->mtime_nsec &&
	       (!s->owners || (st->st_uid == n->uid && st->st_gid == n->gid));
}

/* 1 when [off, off+len) of fd holds only zeros, 0 when not, negative on error. */
static int zeros(int fd, uint64_t off, uint64_t len, struct buf *b)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	uint64_t end = off + len;
	int rc;

	if ((d < 0 && errno == ENXIO) || (d >= 0 && (uint64_t)d >= end))
		return 1;
	buf_reset(b);
	rc = buf_reserve(b, 1u << 20);
	if (rc < 0)
		return rc;
	while (off < end) {
		size_t n = end - off < (1u << 20) ? (size_t)(end - off) : (1u << 20);

		if (pread_full(fd, b->p, n, (off_t)off) != (ssize_t)n)
			return 0;
		for (size_t j = 0; j < n; j++)
			if (b->p[j])
				return 0;
		off += n;
	}
	return 1;
}

static int content_same(struct rs *s, int fd, const struct node *n, struct buf *b)
{
	const struct key *k = repo_key(s->repo);
	uint64_t off = 0;
	int rc = 1;

	for (size_t i = 0; rc == 1 && i < n->n_content; i++) {
		const struct extent *x = &n->content[i];
		uint8_t id[ID_BYTES];

		if (x->hole) {
			rc = zeros(fd, off, x->len, b);
			off += x->len;
			continue;
		}
		if (x->len > b->max)
			return 0;
		buf_reset(b);
		rc = buf_reserve(b, (size_t)x->len);
		if (rc < 0)
			return rc;
		if (pread_full(fd, b->p, (size_t)x->len, (off_t)off) != (ssize_t)x->len)
			return 0;
		key_blob_id(k, b->p, (size_t)x->len, id);
		rc = memcmp(id, x->id, ID_BYTES) == 0;
		off += x->len;
	}
	return rc;
}

int rs_same_file(struct rs *s, int dirfd, const struct node *n)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int fd, rc;

	if (fstatat(dirfd, n->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !meta_same(s, &st, n))
		return 0;
	/* O_NONBLOCK: a FIFO swapped in must not hang us; O_NOATIME: looking is no access
	 * worth recording. */
	fd = openat(dirfd, n->name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, n->name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* The name may have changed hands since the fstatat: look at what was opened. */
	if (fstat(fd, &st) < 0 || !meta_same(s, &st, n)) {
		close(fd);
		return 0;
	}
	buf_init(&b, REPO_BLOB_MAX);
	rc = content_same(s, fd, n, &b);
	buf_release(&b);
	close(fd);
	return rc;
}

int rs_same_symlink(int dirfd, const struct node *n)
{
	char cur[4096];
	struct stat st;
	ssize_t len;

	if (fstatat(dirfd, n->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode) ||
	    st.st_mtim.tv_sec != n->mtime_sec || st.st_mtim.tv_nsec != (long)n->mtime_nsec)
		return 0;
	len = readlinkat(dirfd, n->name, cur, sizeof(cur));
	return len >= 0 && (size_t)len == n->target_len && n->target &&
	       memcmp(cur, n->target, (size_t)len) == 0;
}
