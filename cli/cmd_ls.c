/* `cairn ls SNAPSHOT [PATH]`: list a snapshot's files recursively, streaming. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "util/banned.h"

#define LS_PATH_MAX 16384

/* path holds the raw bytes of the names walked; they are escaped only when shown. */
static void show(struct cli *c, const struct node *n, const char *path)
{
	char esc[CLI_ESC_MAX];

	if (c->json) {
		cli_print_json(cli_node_json(n, path));
		return;
	}
	cli_escape(path, strlen(path), esc, sizeof(esc));
	printf("%s\n", esc);
}

/* One folder being listed: its node (owning its segment list) and the open iterator. */
struct ls_frame {
	struct node dir;
	struct tree_iter it;
	size_t len;
};

/* Depth first with an explicit stack on the heap: a pod can nest folders thousands deep,
 * and a 16 KiB C-stack frame per level crashed at about 500. */
static int ls_dir(struct cli *c, struct repo *r, const struct node *top, char *path, size_t len,
		  struct err *e)
{
	struct ls_frame *st = NULL;
	size_t depth = 0, cap = 0;
	struct node n;
	int rc = 0;

	for (;;) {
		const struct node *dir = depth ? NULL : top;
		struct ls_frame *f;

		if (dir || rc > 0) {
			if (depth == cap) {
				void *p = reallocarray(st, cap ? 2 * cap : 16, sizeof(*st));

				if (!p) {
					rc = err_set(e, -ENOMEM, "out of memory");
					break;
				}
				st = p;
				cap = cap ? 2 * cap : 16;
			}
			f = &st[depth++];
			memset(f, 0, sizeof(*f));
			f->len = len;
			if (dir)
				rc = node_copy(dir, &f->dir);
			else
				f->dir = n; /* takes the node */
			if (rc < 0) {
				depth--;
				rc = err_set(e, rc, "out of memory");
				break;
			}
			tree_iter_init(&f->it, r, &f->dir);
		}
		f = &st[depth - 1];
		path[f->len] = 0;
		rc = tree_iter_next(&f->it, &n, e);
		if (rc <= 0) {
			tree_iter_release(&f->it);
			node_release(&f->dir);
			depth--;
			if (rc < 0 || !depth)
				break;
			continue;
		}
		/* path holds raw name bytes; show() escapes them for a terminal and gives JSON
		 * readers the exact bytes. */
		len = f->len;
		if (len + 2 + n.name_len < LS_PATH_MAX) {
			if (!len || path[len - 1] != '/')
				path[len++] = '/';
			memcpy(path + len, n.name, n.name_len);
			len += n.name_len;
			path[len] = 0;
		}
		show(c, &n, path);
		if (n.type != NODE_DIR) {
			node_release(&n);
			rc = 0;
		} /* else rc == 1: the loop pushes n */
	}
	while (depth) {
		tree_iter_release(&st[--depth].it);
		node_release(&st[depth].dir);
	}
	free(st);
	return rc < 0 ? rc : 0;
}

int cmd_ls(struct cli *c, int argc, char **argv)
{
	char path[LS_PATH_MAX] = "";
	struct snapshot s = { 0 };
	struct node start = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int rc;

	if (cli_getopt(c, argc, argv) != -1 || optind >= argc)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "usage: cairn ls SNAPSHOT [PATH]"));
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0)
		rc = repo_snapshot_load(r, argv[optind], &s, &e);
	if (rc >= 0)
		rc = repo_tree_lookup(r, &s, optind + 1 < argc ? argv[optind + 1] : "/", &start, &e);
	if (rc >= 0) {
		if (optind + 1 < argc && strcmp(argv[optind + 1], "/") != 0)
			snprintf(path, sizeof(path), "%s", argv[optind + 1]);
		if (start.type == NODE_DIR) {
			size_t l = strlen(path);

			while (l > 0 && path[l - 1] == '/')
				path[--l] = 0;
			rc = ls_dir(c, r, &start, path, l, &e);
		} else {
			show(c, &start, path);
		}
	}
	node_release(&start);
	snapshot_release(&s);
	repo_free(r);
	return rc < 0 ? cli_fail(c, &e, rc) : EXIT_OK;
}
