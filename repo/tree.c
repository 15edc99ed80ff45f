/* Owns the tree encoding: a directory is a list of segment blobs, each a header plus
 * length-prefixed nodes, so huge directories stream and unknown trailing fields of a
 * newer version can be skipped.
 *
 *   segment := le32 magic, node*
 *   node := varint len, then fields in the order of tree_encode_node()
 */
#include "repo/repo-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define NODE_NAME_MAX    4096u
#define NODE_TARGET_MAX  65536u
#define NODE_XATTRS_MAX  4096u
#define NODE_XATTR_MAX   (1u << 20)
#define NODE_EXTENTS_MAX (1u << 24)
#define NODE_ENC_MAX     (NODE_EXTENTS_MAX * 48u)

void node_release(struct node *n)
{
	free(n->name);
	free(n->user);
	free(n->group);
	free(n->target);
	for (size_t i = 0; i < n->n_xattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->content);
	memset(n, 0, sizeof(*n));
}

static char *dupn(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

int node_copy(const struct node *src, struct node *dst)
{
	struct node n = *src;

	n.name = n.user = n.group = n.target = NULL;
	n.xattrs = NULL;
	n.content = NULL;
	n.n_xattrs = 0;
	n.name = dupn(src->name, src->name_len);
	n.user = src->user ? dupn(src->user, strlen(src->user)) : NULL;
	n.group = src->group ? dupn(src->group, strlen(src->group)) : NULL;
	n.target = src->target ? dupn(src->target, src->target_len) : NULL;
	if (!n.name || (src->user && !n.user) || (src->group && !n.group) ||
	    (src->target && !n.target))
		goto oom;
	if (src->n_content) {
		n.content = malloc(src->n_content * sizeof(*n.content));
		if (!n.content)
			goto oom;
		memcpy(n.content, src->content, src->n_content * sizeof(*n.content));
	}
	if (src->n_xattrs) {
		n.xattrs = calloc(src->n_xattrs, sizeof(*n.xattrs));
		if (!n.xattrs)
			goto oom;
		for (; n.n_xattrs < src->n_xattrs; n.n_xattrs++) {
			const struct xattr *x = &src->xattrs[n.n_xattrs];
			struct xattr *y = &n.xattrs[n.n_xattrs];

			y->name = dupn(x->name, strlen(x->name));
			y->value = (uint8_t *)dupn(x->value, x->len);
			y->len = x->len;
			if (!y->name || !y->value) {
				n.n_xattrs++;
				goto oom;
			}
		}
	}
	*dst = n;
	return 0;
oom:
	node_release(&n);
	return -ENOMEM;
}

static int put_bytes(struct buf *b, const void *p, size_t n)
{
	int rc = buf_put_varint(b, n);

	return rc < 0 ? rc : buf_append(b, p, n);
}

static int put_str(struct buf *b, const char *s)
{
	return put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int encode_body(struct buf *b, const struct node *n)
{
	uint64_t v[] = { (uint64_t)n->type, n->flags, n->mode, n->uid, n->gid };
	uint64_t t[] = { zigzag(n->mtime_sec), n->mtime_nsec, zigzag(n->atime_sec), n->atime_nsec,
			 zigzag(n->ctime_sec), n->ctime_nsec, n->size, n->inode, n->dev,
			 n->nlink, n->rdev };
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < ELEMENTSOF(v); i++)
		rc = buf_put_varint(b, v[i]);
	if (rc >= 0)
		rc = put_bytes(b, n->name, n->name_len);
	if (rc >= 0)
		rc = put_str(b, n->user);
	if (rc >= 0)
		rc = put_str(b, n->group);
	for (size_t i = 0; rc >= 0 && i < ELEMENTSOF(t); i++)
		rc = buf_put_varint(b, t[i]);
	if (rc >= 0)
		rc = put_bytes(b, n->target, n->target ? n->target_len : 0);
	if (rc >= 0)
		rc = buf_put_varint(b, n->n_xattrs);
	for (size_t i = 0; rc >= 0 && i < n->n_xattrs; i++) {
		rc = put_str(b, n->xattrs[i].name);
		if (rc >= 0)
			rc = put_bytes(b, n->xattrs[i].value, n->xattrs[i].len);
	}
	if (rc >= 0)
		rc = buf_put_varint(b, n->n_content);
	for (size_t i = 0; rc >= 0 && i < n->n_content; i++) {
		const struct extent *x = &n->content[i];

		rc = buf_put_varint(b, x->len << 1 | (x->hole ? 1 : 0));
		if (rc >= 0 && !x->hole)
			rc = buf_append(b, x->id, ID_BYTES);
	}
	return rc;
}

int tree_encode_header(struct buf *b)
{
	return buf_put_le32(b, TREE_MAGIC);
}

int tree_encode_node(struct buf *b, const struct node *n)
{
	struct buf body = BUF_INIT;
	int rc;

	buf_init(&body, NODE_ENC_MAX);
	rc = encode_body(&body, n);
	if (rc >= 0)
		rc = put_bytes(b, body.p, body.len);
	buf_release(&body);
	return rc;
}

static int get_bytes(struct rd *rd, size_t max, char **ret, size_t *ret_len)
{
	const uint8_t *p;
	uint64_t n;
	int rc = rd_varint(rd, &n);

	if (rc < 0 || n > max)
		return -EBADMSG;
	rc = rd_bytes(rd, (size_t)n, &p);
	if (rc < 0)
		return rc;
	*ret = dupn(p, (size_t)n);
	if (!*ret)
		return -ENOMEM;
	if (ret_len)
		*ret_len = (size_t)n;
	return 0;
}

/* A name is one path component: not empty, not "." or "..", no '/' and no NUL. Anything
 * else would let a forged tree steer a restore (or a mount) out of its target. */
static bool name_valid(const char *p, size_t n)
{
	if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	return !memchr(p, '/', n) && !memchr(p, 0, n);
}

static int decode_body(struct rd *rd, struct node *n)
{
	uint64_t v[5], t[11], nx, nc;
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < ELEMENTSOF(v); i++)
		rc = rd_varint(rd, &v[i]);
	if (rc < 0 || v[0] >= _NODE_TYPE_MAX || v[2] > UINT32_MAX || v[3] > UINT32_MAX ||
	    v[4] > UINT32_MAX)
		return -EBADMSG;
	n->type = (enum node_type)v[0];
	n->flags = (uint32_t)v[1];
	n->mode = (uint32_t)v[2];
	n->uid = (uint32_t)v[3];
	n->gid = (uint32_t)v[4];
	rc = get_bytes(rd, NODE_NAME_MAX, &n->name, &n->name_len);
	if (rc >= 0 && !name_valid(n->name, n->name_len))
		return -EILSEQ;
	if (rc >= 0)
		rc = get_bytes(rd, NODE_NAME_MAX, &n->user, NULL);
	if (rc >= 0)
		rc = get_bytes(rd, NODE_NAME_MAX, &n->group, NULL);
	for (size_t i = 0; rc >= 0 && i < ELEMENTSOF(t); i++)
		rc = rd_varint(rd, &t[i]);
	if (rc < 0)
		return rc;
	if (t[1] >= 1000000000 || t[3] >= 1000000000 || t[5] >= 1000000000)
		return -EBADMSG;
	n->mtime_sec = unzigzag(t[0]);
	n->mtime_nsec = (uint32_t)t[1];
	n->atime_sec = unzigzag(t[2]);
	n->atime_nsec = (uint32_t)t[3];
	n->ctime_sec = unzigzag(t[4]);
	n->ctime_nsec = (uint32_t)t[5];
	n->size = t[6];
	n->inode = t[7];
	n->dev = t[8];
	n->nlink = t[9];
	n->rdev = t[10];
	rc = get_bytes(rd, NODE_TARGET_MAX, &n->target, &n->target_len);
	if (rc >= 0)
		rc = rd_varint(rd, &nx);
	if (rc < 0 || nx > NODE_XATTRS_MAX || nx > rd_left(rd) / 2)
		return -EBADMSG;
	n->xattrs = calloc(nx ? nx : 1, sizeof(*n->xattrs));
	if (!n->xattrs)
		return -ENOMEM;
	for (; n->n_xattrs < nx; n->n_xattrs++) {
		struct xattr *x = &n->xattrs[n->n_xattrs];

		rc = get_bytes(rd, 255, &x->name, NULL);
		if (rc >= 0)
			rc = get_bytes(rd, NODE_XATTR_MAX, (char **)&x->value, &x->len);
		if (rc < 0) {
			n->n_xattrs++;
			return rc;
		}
	}
	rc = rd_varint(rd, &nc);
	if (rc < 0 || nc > NODE_EXTENTS_MAX || nc > rd_left(rd))
		return -EBADMSG;
	n->content = calloc(nc ? nc : 1, sizeof(*n->content));
	if (!n->content)
		return -ENOMEM;
	for (; n->n_content < nc; n->n_content++) {
		struct extent *x = &n->content[n->n_content];
		const uint8_t *id;
		uint64_t l;

		rc = rd_varint(rd, &l);
		if (rc < 0)
			return rc;
		x->hole = l & 1;
		x->len = l >> 1;
		if (!x->hole) {
			rc = rd_bytes(rd, ID_BYTES, &id);
			if (rc < 0)
				return rc;
			memcpy(x->id, id, ID_BYTES);
		}
	}
	return 0;
}

int tree_rd_init(struct tree_rd *t, const void *p, size_t n)
{
	uint32_t magic;
	int rc;

	rd_init(&t->rd, p, n);
	t->bad_name = false;
	rc = rd_le32(&t->rd, &magic);
	return rc < 0 || magic != TREE_MAGIC ? -EBADMSG : 0;
}

int tree_rd_next(struct tree_rd *t, struct node *ret)
{
	struct node n = { 0 };
	const uint8_t *p;
	uint64_t len;
	struct rd body;
	int rc;

	if (!rd_left(&t->rd))
		return 0;
	rc = rd_varint(&t->rd, &len);
	if (rc >= 0 && len > rd_left(&t->rd))
		rc = -EBADMSG;
	if (rc >= 0)
		rc = rd_bytes(&t->rd, (size_t)len, &p);
	if (rc < 0)
		return -EBADMSG;
	rd_init(&body, p, (size_t)len);
	rc = decode_body(&body, &n);
	if (rc < 0) {
		node_release(&n);
		t->bad_name = rc == -EILSEQ;
		return rc == -ENOMEM ? rc : -EBADMSG;
	}
	*ret = n;
	return 1;
}

void tree_iter_init_root(struct tree_iter *it, struct repo *r, const struct extent *segs,
			 size_t n_segs)
{
	memset(it, 0, sizeof(*it));
	it->repo = r;
	it->segs = segs;
	it->n_segs = n_segs;
	buf_init(&it->blob, REPO_BLOB_MAX);
}

void tree_iter_init(struct tree_iter *it, struct repo *r, const struct node *dir)
{
	tree_iter_init_root(it, r, dir->type == NODE_DIR ? dir->content : NULL,
			    dir->type == NODE_DIR ? dir->n_content : 0);
}

int tree_iter_next(struct tree_iter *it, struct node *ret, struct err *e)
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
		rc = repo_blob_get(it->repo, BLOB_TREE, it->segs[it->seg].id, &it->blob, e);
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
		err_set(e, rc, "tree %s is malformed%s", id,
			it->rd.bad_name ? ": an entry name is empty, '.', '..' or holds '/' or NUL"
					: "");
	}
	return rc;
}

void tree_iter_release(struct tree_iter *it)
{
	buf_release(&it->blob);
}

static int root_node(const struct snapshot *s, struct node *ret)
{
	struct node n = { .type = NODE_DIR, .mode = 040755 };

	n.name = dupn("/", 1);
	n.name_len = 1;
	n.content = calloc(s->n_tree ? s->n_tree : 1, sizeof(*n.content));
	if (!n.name || !n.content) {
		node_release(&n);
		return -ENOMEM;
	}
	memcpy(n.content, s->tree, s->n_tree * sizeof(*n.content));
	n.n_content = s->n_tree;
	n.mtime_sec = s->time_sec;
	*ret = n;
	return 0;
}

bool repo_name_ok(const char *name, size_t len)
{
	if (!name || !len || len > NAME_MAX)
		return false;
	if (memchr(name, 0, len) || memchr(name, '/', len))
		return false;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

int repo_name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

/* The entry named (name, len) in dir, as restore writes it and the mount shows it. A
 * folder's names are stored sorted, each once (docs/format.md), so in a forged or
 * corrupt folder an entry counts only when it sorts after the last one that counted; a
 * repeat or an entry out of order is not the folder's. Without this rule SNAPSHOT:SUB
 * could resolve to a copy restore leaves out. The sort also lets the walk stop at the
 * first name past the one sought. The root is the list of backed-up paths, unsorted:
 * there the first copy of a name wins. 1 found, 0 not, or a negative errno. */
static int dir_find(struct repo *r, const struct node *dir, bool root, const char *name,
                    size_t len, struct node *ret, struct err *e)
{
	struct node prev = { 0 };
	struct tree_iter it;
	struct node child = { 0 };
	int rc, found = 0;

	tree_iter_init(&it, r, dir);
	while ((rc = tree_iter_next(&it, &child, e)) > 0) {
		int c = repo_name_cmp(child.name, child.name_len, name, len);

		if (root) {
			if (c == 0) {
				found = 1;
				break;
			}
			node_release(&child);
			continue;
		}
		if (prev.name && repo_name_cmp(prev.name, prev.name_len, child.name,
		                               child.name_len) >= 0) {
			node_release(&child);
			continue;
		}
		if (c >= 0) {
			found = c == 0;
			break;
		}
		node_release(&prev);
		prev = child;
	}
	tree_iter_release(&it);
	node_release(&prev);
	if (rc < 0)
		return rc;
	if (found)
		*ret = child;
	else if (rc > 0)
		node_release(&child);
	return found;
}

int repo_tree_lookup(struct repo *r, const struct snapshot *s, const char *path,
		     struct node *ret, struct err *e)
{
	struct node cur = { 0 };
	const char *p = path;
	bool root = true;
	int rc;

	rc = root_node(s, &cur);
	if (rc < 0)
		return err_set(e, rc, "out of memory");
	for (;;) {
		struct node child;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (cur.type != NODE_DIR) {
			rc = err_set(e, -ENOENT, "%s: not found in snapshot (not a directory)", path);
			goto fail;
		}
		rc = dir_find(r, &cur, root, p, len, &child, e);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			rc = err_set(e, -ENOENT, "%s: not found in snapshot", path);
			goto fail;
		}
		node_release(&cur);
		cur = child;
		root = false;
		p += len;
	}
	*ret = cur;
	return 0;
fail:
	node_release(&cur);
	return rc;
}
