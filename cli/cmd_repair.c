/* `cairn repair index [--dry-run]`: rebuild the index from pack headers under an
 * exclusive lock. (`repair snapshots` is not implemented yet and says so.) */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "repo/maint.h"
#include "util/banned.h"

int cmd_repair(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "dry-run", no_argument, NULL, 'n' }, { 0 } };
	struct repo_repair_result res = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	bool dry_run = false;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'n')
			return EXIT_USAGE;
		dry_run = true;
	}
	if (argc - optind != 1 || (strcmp(argv[optind], "index") && strcmp(argv[optind], "snapshots")))
		return cli_fail(c, &e, err_set(&e, -EINVAL, "repair: 'index' or 'snapshots'"));
	if (!strcmp(argv[optind], "snapshots"))
		return cli_fail(c, &e, err_set(&e, -EOPNOTSUPP,
					       "repair snapshots is not implemented yet"));
	rc = cli_open_repo(c, &e, &r);
	if (rc >= 0)
		rc = repo_lock(r, REPO_LOCK_EXCLUSIVE, &e, &l);
	if (rc >= 0)
		rc = repo_repair_index(r, dry_run, &res, &e);
	repo_unlock(l);
	repo_free(r);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "message_type",
					 "repair_index", "dry_run", dry_run, "packs",
					 (json_int_t)res.packs, "blobs", (json_int_t)res.blobs,
					 "unreadable_packs", (json_int_t)res.bad_packs,
					 "old_index_files", (json_int_t)res.old_index_files));
	else
		printf("%sindexed %llu packs (%llu blobs), %llu unreadable; replaced %llu index "
		       "files\n", dry_run ? "would have " : "", (unsigned long long)res.packs,
		       (unsigned long long)res.blobs, (unsigned long long)res.bad_packs,
		       (unsigned long long)res.old_index_files);
	return EXIT_OK;
}
