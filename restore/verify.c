/* Owns restore --verify: re-read every restored file and check each extent against the
 * blob id recorded in the snapshot (holes must read as zeros). */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

/* A range that SEEK_DATA skips is a hole and reads as zeros; otherwise read and look. */
static int verify_hole(struct rs *s, int fd, uint64_t off, uint64_t len, struct buf *b)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	uint64_t end = off + len;
	int rc;

	if ((d < 0 && errno == ENXIO) || (d >= 0 && (uint64_t)d >= end))
		return 0;
	buf_reset(b);
	rc = buf_reserve(b, 1u << 20);
	if (rc < 0)
		return rc;
	while (off < end) {
		size_t n = end - off < (1u << 20) ? (size_t)(end - off) : (1u << 20);

		if (pread_full(fd, b->p, n, (off_t)off) != (ssize_t)n)
			return rs_fail(s, -EBADMSG, "verify: %s: short read", s->path), 0;
		for (size_t j = 0; j < n; j++)
			if (b->p[j]) {
				rs_fail(s, -EBADMSG, "verify: %s: hole at %llu is not zero", s->path,
					(unsigned long long)(off + j));
				return 0;
			}
		off += n;
	}
	return 0;
}

static int verify_file(struct rs *s, int dirfd, const struct node *n, struct buf *b)
{
	const struct key *k = repo_key(s->repo);
	uint64_t off = 0;
	struct stat st;
	int fd, rc = 0;

	/* O_NOATIME: verifying must not disturb the atimes just restored. */
	fd = openat(dirfd, n->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, n->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return s->o->n_includes || s->o->n_excludes ? 0 : -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != n->size) {
		rs_fail(s, -EBADMSG, "verify: %s: size differs", s->path);
		goto done;
	}
	for (size_t i = 0; i < n->n_content; i++) {
		const struct extent *x = &n->content[i];
		uint8_t id[ID_BYTES];
		ssize_t got;

		if (x->hole) {
			rc = verify_hole(s, fd, off, x->len, b);
			if (rc < 0)
				break;
			off += x->len;
			continue;
		}
		buf_reset(b);
		if (x->len > b->max) {
			rc = -EFBIG;
			break;
		}
		rc = buf_reserve(b, (size_t)x->len);
		if (rc < 0)
			break;
		got = pread_full(fd, b->p, (size_t)x->len, (off_t)off);
		if (got != (ssize_t)x->len) {
			rs_fail(s, -EBADMSG, "verify: %s: short read at %llu", s->path,
				(unsigned long long)off);
			break;
		}
		key_blob_id(k, b->p, (size_t)x->len, id);
		if (memcmp(id, x->id, ID_BYTES) != 0) {
			rs_fail(s, -EBADMSG, "verify: %s: content differs at offset %llu", s->path,
				(unsigned long long)off);
			break;
		}
		off += x->len;
	}
	if (rc >= 0)
		s->res->verified_files++;
done:
	close(fd);
	return rc;
}

static int verify_dir(struct rs *s, const struct node *dir, int dirfd, struct buf *b)
{
	size_t saved = s->path_len;
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init(&it, s->repo, dir);
	while ((rc = tree_iter_next(&it, &n, s->e)) > 0) {
		if (saved + 2 + n.name_len < sizeof(s->path)) {
			s->path[s->path_len++] = '/';
			memcpy(s->path + s->path_len, n.name, n.name_len + 1);
			s->path_len += n.name_len;
		}
		if (n.type == NODE_FILE) {
			rc = verify_file(s, dirfd, &n, b);
		} else if (n.type == NODE_DIR) {
			int fd = openat(dirfd, n.name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

			if (fd < 0 && errno == EPERM)
				fd = openat(dirfd, n.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0) {
				rc = verify_dir(s, &n, fd, b);
				close(fd);
			}
		}
		node_release(&n);
		s->path_len = saved;
		s->path[saved] = 0;
		if (rc < 0)
			break;
	}
	tree_iter_release(&it);
	return rc;
}

int rs_verify(struct rs *s, const struct node *start, int dirfd)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_init(&b, REPO_BLOB_MAX);
	s->path_len = 0;
	s->path[0] = 0;
	if (start->type == NODE_DIR)
		rc = verify_dir(s, start, dirfd, &b);
	else
		rc = verify_file(s, dirfd, start, &b);
	buf_release(&b);
	if (rc >= 0 && s->fail.code) {
		*s->e = s->fail;
		rc = s->fail.code;
	}
	return rc;
}
