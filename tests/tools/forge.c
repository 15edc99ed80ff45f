/* forge REPO < SPEC: writes a snapshot whose tree holds exactly the entries of SPEC, names
 * a backup would never produce included (what anyone with the password can do), through
 * the public repo API. Prints the snapshot id. Password from CAIRN_PASSWORD.
 *
 * SPEC, one entry per line; NAME is %XX-escaped (%2F is '/', %00 NUL), "%" alone is the
 * empty name:
 *   dir NAME          a folder; the entries up to the matching "end" are inside it
 *   end
 *   file NAME TEXT    a regular file holding TEXT (mode 0644)
 *   hard NAME INO TEXT  the same with nlink 2 and inode INO (a hardlink group)
 *   link NAME TARGET  a symlink ("%" alone: one without a target, as no backup makes)
 *   longlink NAME LEN a symlink whose target is LEN bytes of 'x' (longer than a line, or
 *                     than any kernel symlink: PATH_MAX)
 *   fifo NAME MODE    a FIFO with octal permission bits MODE
 *   hole NAME LEN SIZE  a file of one hole extent of LEN bytes that claims SIZE bytes
 *   repeat NAME N     a folder, as dir, whose content lists its tree segments N times
 *                     (a name then comes N times: what no backup writes)
 *   cut               inside a folder: end its tree segment here and start the next (a
 *                     backup cuts after about 1 MiB of entries; equal segments get equal
 *                     ids, so a folder can share a segment with another) */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "repo/repo.h"
#include "util/banned.h"

#define LINE_MAX_ 4096
#define REPEAT_MAX (1u << 20)
#define TARGET_MAX (64u * 1024) /* docs/format.md's bound on read */

struct forge {
	struct repo *r;
	struct err e;
	unsigned line;
};

static int unhex(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static int decode_name(const char *in, struct node *n)
{
	size_t len = strlen(in), o = 0;

	n->name = malloc(len + 1);
	if (!n->name)
		return -ENOMEM;
	if (!strcmp(in, "%"))
		len = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%' && i + 2 < len + 1 && unhex(in[i + 1]) >= 0 &&
		    unhex(in[i + 2]) >= 0) {
			n->name[o++] = (char)(unhex(in[i + 1]) << 4 | unhex(in[i + 2]));
			i += 2;
		} else {
			n->name[o++] = in[i];
		}
	}
	n->name[o] = 0;
	n->name_len = o;
	return 0;
}

static void node_base(struct node *n, enum node_type t, uint32_t mode)
{
	n->type = t;
	n->mode = mode;
	n->uid = 0;
	n->gid = 0;
	n->mtime_sec = n->atime_sec = n->ctime_sec = 1700000000;
	n->nlink = 1;
}

static int file_content(struct forge *f, struct node *n, const char *text)
{
	size_t len = strlen(text);

	n->size = len;
	if (!len)
		return 0;
	n->content = calloc(1, sizeof(*n->content));
	if (!n->content)
		return -ENOMEM;
	n->n_content = 1;
	n->content[0].len = len;
	return (int)repo_blob_save(f->r, BLOB_DATA, text, len, n->content[0].id, &f->e);
}

static int build_dir(struct forge *f, FILE *in, struct extent **ret, size_t *ret_n);

/* One SPEC line into an encoded node; 1 at "end", 0 otherwise. */
static int entry(struct forge *f, FILE *in, char *line, struct buf *seg, size_t *count)
{
	char *kind, *save = NULL, *name, *a, *b;
	struct node n = { 0 };
	int rc;

	kind = strtok_r(line, " \n", &save);
	if (!kind)
		return 0;
	if (!strcmp(kind, "end"))
		return 1;
	if (!strcmp(kind, "cut"))
		return 2;
	name = strtok_r(NULL, " \n", &save);
	a = strtok_r(NULL, " \n", &save);
	b = strtok_r(NULL, "\n", &save);
	if (!name)
		return err_set(&f->e, -EINVAL, "line %u: no name", f->line);
	rc = decode_name(name, &n);
	if (rc < 0)
		goto done;
	if (!strcmp(kind, "dir")) {
		node_base(&n, NODE_DIR, S_IFDIR | 0755);
		rc = build_dir(f, in, &n.content, &n.n_content);
	} else if (!strcmp(kind, "repeat") && a) {
		unsigned long k = strtoul(a, NULL, 10);
		struct extent *one = NULL;
		size_t n_one = 0;

		node_base(&n, NODE_DIR, S_IFDIR | 0755);
		rc = build_dir(f, in, &one, &n_one);
		if (rc >= 0 && (!k || k > REPEAT_MAX || n_one > REPEAT_MAX))
			rc = -EINVAL;
		n.content = rc >= 0 ? calloc(k * n_one, sizeof(*n.content)) : NULL;
		if (rc >= 0 && !n.content)
			rc = -ENOMEM;
		for (unsigned long i = 0; rc >= 0 && i < k; i++)
			memcpy(n.content + i * n_one, one, n_one * sizeof(*one));
		n.n_content = n.content ? k * n_one : 0;
		free(one);
	} else if (!strcmp(kind, "file")) {
		node_base(&n, NODE_FILE, S_IFREG | 0644);
		rc = file_content(f, &n, a ? a : "");
	} else if (!strcmp(kind, "hard") && a) {
		node_base(&n, NODE_FILE, S_IFREG | 0644);
		n.nlink = 2;
		n.inode = strtoull(a, NULL, 10);
		n.dev = 1;
		rc = file_content(f, &n, b ? b : "");
	} else if (!strcmp(kind, "link") && a) {
		node_base(&n, NODE_SYMLINK, S_IFLNK | 0777);
		if (strcmp(a, "%") != 0) {
			n.target = strdup(a);
			n.target_len = strlen(a);
			rc = n.target ? 0 : -ENOMEM;
		}
	} else if (!strcmp(kind, "longlink") && a) {
		unsigned long len = strtoul(a, NULL, 10);

		node_base(&n, NODE_SYMLINK, S_IFLNK | 0777);
		n.target = len && len <= TARGET_MAX ? malloc(len) : NULL;
		rc = n.target ? 0 : -EINVAL;
		if (n.target) {
			memset(n.target, 'x', len);
			n.target_len = len;
		}
	} else if (!strcmp(kind, "hole") && a && b) {
		node_base(&n, NODE_FILE, S_IFREG | 0644);
		n.content = calloc(1, sizeof(*n.content));
		rc = n.content ? 0 : -ENOMEM;
		if (n.content) {
			n.n_content = 1;
			n.content[0].hole = true;
			n.content[0].len = strtoull(a, NULL, 10);
			n.size = strtoull(b, NULL, 10);
		}
	} else if (!strcmp(kind, "fifo") && a) {
		node_base(&n, NODE_FIFO, S_IFIFO | (uint32_t)strtoul(a, NULL, 8));
	} else {
		rc = err_set(&f->e, -EINVAL, "line %u: unknown entry %s", f->line, kind);
	}
	if (rc >= 0)
		rc = tree_encode_node(seg, &n);
	if (rc >= 0)
		(*count)++;
done:
	node_release(&n);
	return rc < 0 ? rc : 0;
}

/* Save the segment in seg as the next of *segs, and start seg over. */
static int seg_end(struct forge *f, struct buf *seg, size_t count, struct extent **segs,
		   size_t *n)
{
	struct extent *v = reallocarray(*segs, *n + 1, sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	*segs = v;
	memset(&v[*n], 0, sizeof(*v));
	rc = (int)repo_blob_save(f->r, BLOB_TREE, seg->p, seg->len, v[*n].id, &f->e);
	if (rc < 0)
		return rc;
	v[(*n)++].len = count;
	seg->len = 0;
	return tree_encode_header(seg);
}

/* The entries up to "end" (or the input's end), as one segment per "cut" and one more. */
static int build_dir(struct forge *f, FILE *in, struct extent **ret, size_t *ret_n)
{
	char line[LINE_MAX_];
	struct buf seg = BUF_INIT;
	struct extent *segs = NULL;
	size_t count = 0, n = 0;
	int rc;

	buf_init(&seg, 1u << 24);
	rc = tree_encode_header(&seg);
	while (rc >= 0 && fgets(line, sizeof(line), in)) {
		f->line++;
		rc = entry(f, in, line, &seg, &count);
		if (rc == 1)
			break;
		if (rc == 2) {
			rc = seg_end(f, &seg, count, &segs, &n);
			count = 0;
		}
	}
	if (rc >= 0)
		rc = seg_end(f, &seg, count, &segs, &n);
	buf_release(&seg);
	if (rc < 0) {
		free(segs);
		return rc;
	}
	*ret = segs;
	*ret_n = n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *pw = getenv("CAIRN_PASSWORD");
	struct forge f = { .e = ERR_INIT };
	struct snapshot s = { 0 };
	char *paths[] = { "/forged", NULL }, hex[ID_HEX];
	struct repo_open_params o = { 0 };
	int rc;

	if (argc != 2 || !pw) {
		fprintf(stderr, "usage: CAIRN_PASSWORD=... forge REPO < SPEC\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	o.url = argv[1];
	o.password = pw;
	o.password_len = strlen(pw);
	rc = repo_open(&o, &f.r, &f.e);
	if (rc >= 0)
		rc = repo_index_load(f.r, &f.e);
	if (rc >= 0)
		rc = build_dir(&f, stdin, &s.tree, &s.n_tree);
	s.time_sec = time(NULL);
	s.hostname = strdup("forge");
	s.username = strdup("forge");
	s.program_version = strdup("forge");
	s.paths = paths;
	s.n_paths = 1;
	if (rc >= 0)
		rc = repo_flush(f.r, &f.e);
	if (rc >= 0)
		rc = repo_snapshot_save(f.r, &s, &f.e);
	if (rc >= 0) {
		hex_encode(s.id, ID_BYTES, hex);
		printf("%s\n", hex);
	} else {
		fprintf(stderr, "forge: %s (%s)\n", f.e.msg, strerror(-rc));
	}
	s.paths = NULL;
	s.n_paths = 0;
	snapshot_release(&s);
	repo_free(f.r);
	return rc < 0 ? 1 : 0;
}
