/* Owns restore --verify: re-read every restored file and check each extent against the
 * blob id recorded in the snapshot (holes must read as zeros). */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
			return rs_warn(s, s->path, -EBADMSG, "verify: %s: short read", s->path), 1;
		for (size_t j = 0; j < n; j++)
			if (b->p[j]) {
				rs_warn(s, s->path, -EBADMSG,
				        "verify: %s: hole at %llu is not zero", s->path,
				        (unsigned long long)(off + j));
				return 1;
			}
		off += n;
	}
	return 0;
}

/* 0 when the file matches, 1 when it does not (warned), negative on failure to run. */
static int verify_file(struct rs *s, int dirfd, const struct node *n, struct buf *b)
{
	const struct key *k = repo_key(s->repo);
	uint64_t off = 0;
	struct stat st;
	int fd, rc = 0;

	/* Whatever is not a regular file is not opened: opening a device node has effects
	 * of its own (a watchdog arms, a tape rewinds), and one may sit where a file failed
	 * to restore, left there by an earlier restore of a forged snapshot. */
	if (fstatat(dirfd, n->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
		rs_warn(s, s->path, -EBADMSG, "verify: %s: not a regular file", s->path);
		return 1;
	}
	/* O_NONBLOCK: a FIFO swapped in for the file since must not hang the verify;
	 * O_NOATIME: verifying must not disturb the atimes just restored. */
	fd = openat(dirfd, n->name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, n->name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (s->o->n_includes || s->o->n_excludes || s->o->keep_going)
			return 0; /* not selected, or not restored and named already */
		rs_warn(s, s->path, -errno, "verify: %s: %s", s->path, strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rs_warn(s, s->path, -EBADMSG, "verify: %s: not a regular file", s->path);
		rc = 1;
		goto done;
	}
	if ((uint64_t)st.st_size != n->size) {
		rs_warn(s, s->path, -EBADMSG, "verify: %s: size differs", s->path);
		rc = 1;
		goto done;
	}
	for (size_t i = 0; rc == 0 && i < n->n_content; i++) {
		const struct extent *x = &n->content[i];
		uint8_t id[ID_BYTES];
		ssize_t got;

		if (x->hole) {
			rc = verify_hole(s, fd, off, x->len, b);
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
			rs_warn(s, s->path, -EBADMSG, "verify: %s: short read at %llu", s->path,
			        (unsigned long long)off);
			rc = 1;
			break;
		}
		key_blob_id(k, b->p, (size_t)x->len, id);
		if (memcmp(id, x->id, ID_BYTES) != 0) {
			rs_warn(s, s->path, -EBADMSG, "verify: %s: content differs at offset %llu",
			        s->path, (unsigned long long)off);
			rc = 1;
			break;
		}
		off += x->len;
	}
	if (rc == 0)
		s->res->verified_files++;
done:
	close(fd);
	return rc;
}

/* Whether restore wrote n (restore_dir's rule): a copy it left out, and warned about, is
 * not compared with the file its first copy wrote. */
static int restored(struct rs_roots *roots, bool root, char *prev, size_t *prev_len,
                    const struct node *n)
{
	int rc = 1;

	if (root)
		rc = rs_roots_add(roots, n->name, n->name_len);
	else if (*prev_len && !rs_name_after(prev, *prev_len, n))
		rc = 0;
	if (rc > 0 && !root) {
		memcpy(prev, n->name, n->name_len);
		*prev_len = n->name_len;
	}
	return rc;
}

static int verify_dir(struct rs *s, const struct node *dir, int dirfd, struct buf *b, uint64_t *bad)
{
	size_t saved = s->path_len, prev_len = 0;
	struct rs_roots roots = { 0 };
	bool root = rs_is_root(dir);
	char prev[NAME_MAX + 1];
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init(&it, s->repo, dir);
	while ((rc = tree_iter_next(&it, &n, s->e)) > 0) {
		/* Refused at restore (and warned there): nothing of ours is under that name. */
		if (!rs_name_ok(&n) || saved + 2 + n.name_len >= sizeof(s->path)) {
			node_release(&n);
			continue;
		}
		rc = restored(&roots, root, prev, &prev_len, &n);
		if (rc <= 0) {
			node_release(&n);
			if (rc < 0) {
				err_set(s->e, rc, "verify: %s", strerror(-rc));
				break;
			}
			continue;
		}
		s->path[s->path_len++] = '/';
		memcpy(s->path + s->path_len, n.name, n.name_len + 1);
		s->path_len += n.name_len;
		rc = 0;
		if (n.type == NODE_FILE) {
			rc = verify_file(s, dirfd, &n, b);
			if (rc > 0)
				(*bad)++;
		} else if (n.type == NODE_DIR) {
			int fd = rs_open_beneath(dirfd, n.name, O_RDONLY | O_DIRECTORY | O_NOATIME);

			if (fd == -EPERM)
				fd = rs_open_beneath(dirfd, n.name, O_RDONLY | O_DIRECTORY);
			if (fd >= 0) {
				rc = verify_dir(s, &n, fd, b, bad);
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
	rs_roots_release(&roots);
	return rc;
}

int rs_verify(struct rs *s, const struct node *start, int dirfd)
{
	struct buf b = BUF_INIT;
	uint64_t bad = 0;
	int rc;

	buf_init(&b, REPO_BLOB_MAX);
	s->path_len = 0;
	s->path[0] = 0;
	if (start->type == NODE_DIR) {
		rc = verify_dir(s, start, dirfd, &b, &bad);
	} else if (!rs_name_ok(start)) {
		rc = 0;
	} else {
		snprintf(s->path, sizeof(s->path), "/%s", start->name);
		rc = verify_file(s, dirfd, start, &b);
		bad += rc > 0;
	}
	buf_release(&b);
	if (rc >= 0 && bad)
		rc = err_set(s->e, -EBADMSG, "verify: %llu files differ from the snapshot",
		             (unsigned long long)bad);
	return rc < 0 ? rc : 0;
}
