/* `cairn ls SNAPSHOT [PATH]`: list a snapshot's files recursively, streaming. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
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

static int ls_dir(struct cli *c, struct repo *r, const struct node *dir, char *path, size_t len,
		  struct err *e)
{
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init(&it, r, dir);
	while ((rc = tree_iter_next(&it, &n, e)) > 0) {
		size_t l = len;

		if (l + 2 + n.name_len < LS_PATH_MAX) {
			if (!len || path[len - 1] != '/')
				path[l++] = '/';
			memcpy(path + l, n.name, n.name_len);
			l += n.name_len;
			path[l] = 0;
		}
		show(c, &n, path);
		if (n.type == NODE_DIR)
			rc = ls_dir(c, r, &n, path, l, e);
		path[len] = 0;
		node_release(&n);
		if (rc < 0)
			break;
	}
	tree_iter_release(&it);
	return rc;
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
	rc = cli_open_repo(c, &e, &r);
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
