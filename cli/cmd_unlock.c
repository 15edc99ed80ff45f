/* `cairn unlock [--remove-all]`: remove stale locks (or every lock). */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "util/banned.h"

int cmd_unlock(struct cli *c, int argc, char **argv)
{
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	bool all = false;
	ssize_t n;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch != 'a')
			return EXIT_USAGE;
		all = true;
	}
	rc = cli_open_repo(c, &r, &e);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	n = repo_locks_remove(r, all, &e);
	repo_free(r);
	if (n < 0)
		return cli_fail(c, &e, (int)n);
	if (c->json)
		cli_print_json(json_pack("{s:I}", "removed", (json_int_t)n));
	else
		printf("removed %zd lock%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}
