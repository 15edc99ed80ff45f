/* `cairn check [--read-data] [--read-data-subset N/T]`: problems one per line, exit 14. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/banned.h"

static void on_problem(void *ud, const char *msg)
{
	struct cli *c = ud;

	if (c->json)
		cli_print_json(json_pack("{s:s, s:s}", "message_type", "problem", "message", msg));
	else
		fprintf(stderr, "error: %s\n", msg);
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-data", no_argument, NULL, 'd' },
		{ "read-data-subset", required_argument, NULL, 's' },
		{ 0 },
	};
	struct repo_check_opts o = { 0 };
	struct repo_check_result res;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'd') {
			o.read_data = true;
		} else if (ch == 's') {
			unsigned a, b;

			if (sscanf(optarg, "%u/%u", &a, &b) != 2 || !a || a > b)
				return cli_fail(c, &e, err_set(&e, -EINVAL, "bad subset '%s' (N/T)",
							       optarg));
			o.read_data = true;
			o.subset_index = a;
			o.subset_total = b;
		} else {
			return EXIT_USAGE;
		}
	}
	rc = cli_open_repo(c, &e, &r);
	if (rc >= 0)
		rc = repo_check(r, &o, on_problem, c, &res, &e);
	repo_free(r);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "message_type",
					 "summary", "snapshots", (json_int_t)res.snapshots, "trees",
					 (json_int_t)res.trees, "packs", (json_int_t)res.packs,
					 "packs_read", (json_int_t)res.packs_read, "unindexed_packs",
					 (json_int_t)res.unindexed_packs, "problems",
					 (json_int_t)res.problems));
	else
		printf("checked %llu snapshots, %llu trees, %llu packs (%llu read): %llu problem%s\n",
		       (unsigned long long)res.snapshots, (unsigned long long)res.trees,
		       (unsigned long long)res.packs, (unsigned long long)res.packs_read,
		       (unsigned long long)res.problems, res.problems == 1 ? "" : "s");
	return res.problems ? EXIT_CORRUPT : EXIT_OK;
}
