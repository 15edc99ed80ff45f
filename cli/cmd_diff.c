/* `cairn diff SNAP1 SNAP2`: added (+), removed (-), modified (M) and type-changed (T)
 * paths, like restic's diff. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/output.h"
#include "maint/maint.h"
#include "util/banned.h"

static void on_diff(void *ud, enum repo_diff_kind k, const char *path, enum node_type t)
{
	struct cli *c = ud;
	char esc[CLI_ESC_MAX];

	if (c->json) {
		char mod[2] = { (char)k, 0 };
		json_t *o = json_pack("{s:s, s:s, s:s}", "message_type", "change", "modifier", mod,
				      "type", cli_node_type(t));

		if (o)
			cli_json_bytes(o, "path", path, strlen(path));
		cli_print_json(o);
		return;
	}
	cli_escape(path, strlen(path), esc, sizeof(esc));
	printf("%c    %s%s\n", (char)k, esc, t == NODE_DIR ? "/" : "");
}

int cmd_diff(struct cli *c, int argc, char **argv)
{
	struct snapshot a = { 0 }, b = { 0 };
	struct repo_diff_result res = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1)
		return EXIT_USAGE;
	if (argc - optind != 2)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "diff: give two snapshot ids"));
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0)
		rc = repo_snapshot_load(r, argv[optind], &a, &e);
	if (rc >= 0)
		rc = repo_snapshot_load(r, argv[optind + 1], &b, &e);
	if (rc >= 0)
		rc = repo_index_load(r, &e);
	if (rc >= 0)
		rc = repo_diff(r, &a, &b, on_diff, c, &res, &e);
	snapshot_release(&a);
	snapshot_release(&b);
	repo_free(r);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:I}", "message_type", "summary", "added",
					 (json_int_t)res.added, "removed", (json_int_t)res.removed,
					 "modified", (json_int_t)res.modified));
	else
		printf("\n%llu added, %llu removed, %llu modified\n", (unsigned long long)res.added,
		       (unsigned long long)res.removed, (unsigned long long)res.modified);
	return EXIT_OK;
}
