/* `cairn repair index [--dry-run]`: rebuild the index from pack headers under an
 * exclusive lock; `cairn repair snapshots [--dry-run] [--forget]`: rewrite snapshots that
 * reach missing blobs. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "maint/maint.h"
#include "repo/admin.h"
#include "util/banned.h"

/* One line per pack whose header did not open: what happened to its entries. */
static void report_damaged(struct cli *c, const struct repo_repair_result *res, bool dry_run)
{
	for (size_t i = 0; i < res->n_damaged; i++) {
		const struct repo_repair_pack *d = &res->damaged[i];
		char id[ID_HEX], what[200];

		hex_encode(d->id, ID_BYTES, id);
		if (d->kept)
			snprintf(what, sizeof(what), "%s%llu blob(s) from the old index%s",
				 dry_run ? "would keep " : "kept ", (unsigned long long)d->blobs_kept,
				 d->blobs_dropped ? " (some lie past the pack's end: dropped)" : "");
		else
			snprintf(what, sizeof(what), "%s (the old index does not list it)",
				 dry_run ? "would be left out" : "left out");
		if (c->json)
			cli_print_json(json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s}", "message_type",
						 "damaged_pack", "pack", id, "error", d->msg,
						 "kept", d->kept, "blobs_kept",
						 (json_int_t)d->blobs_kept, "blobs_dropped",
						 (json_int_t)d->blobs_dropped, "message", what));
		else
			fprintf(stderr, "warning: %s; %s; run check --read-data\n", d->msg, what);
	}
}

/* One line per entry of index/ that was no index file (a folder, a device): moved aside so
 * that every other command works again, kept for a person to look at. Names are hex. */
static void report_aside(struct cli *c, struct repo *r, bool dry_run)
{
	const struct repo_aside *a;
	size_t n = repo_index_aside(r, &a);

	for (size_t i = 0; i < n && i < REPO_ASIDE_KEPT; i++) {
		if (c->json)
			cli_print_json(json_pack("{s:s, s:s, s:s}", "message_type", "set_aside",
						 "entry", a[i].name, "moved_to", a[i].where));
		else if (dry_run)
			fprintf(stderr, "warning: index/%s is not an index file; would be moved "
					"to aside/index/\n", a[i].name);
		else
			fprintf(stderr, "warning: index/%s is not an index file; moved to %s "
					"(not read, not deleted)\n", a[i].name, a[i].where);
	}
	if (n > REPO_ASIDE_KEPT && !c->json)
		fprintf(stderr, "warning: %zu more entries of index/ %s aside/index/\n",
			n - REPO_ASIDE_KEPT, dry_run ? "would be moved to" : "moved to");
}

int cmd_repair(struct cli *c, int argc, char **argv)
{
	struct repo_repair_snapshots_result sres = { 0 };
	bool forget = false;
	struct repo_repair_result res = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	bool dry_run = false;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch == 'n')
			dry_run = true;
		else if (ch == 'f')
			forget = true;
		else
			return EXIT_USAGE;
	}
	if (argc - optind != 1 || (strcmp(argv[optind], "index") && strcmp(argv[optind], "snapshots")))
		return cli_fail(c, &e, err_set(&e, -EINVAL, "repair: 'index' or 'snapshots'"));
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0)
		rc = repo_lock(r, REPO_LOCK_EXCLUSIVE, &l, &e);
	if (rc >= 0 && !strcmp(argv[optind], "snapshots")) {
		rc = repo_repair_snapshots(r, dry_run, forget, &sres, &e);
		repo_unlock(l);
		repo_free(r);
		if (rc < 0)
			return cli_fail(c, &e, rc);
		if (c->json)
			cli_print_json(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "message_type",
						 "repair_snapshots", "dry_run", dry_run, "snapshots",
						 (json_int_t)sres.snapshots, "repaired",
						 (json_int_t)sres.repaired, "files_damaged",
						 (json_int_t)sres.files_damaged, "dirs_damaged",
						 (json_int_t)sres.dirs_damaged));
		else
			printf("%s%llu of %llu snapshots (%llu files and %llu folders damaged)\n",
			       dry_run ? "would repair " : "repaired ",
			       (unsigned long long)sres.repaired, (unsigned long long)sres.snapshots,
			       (unsigned long long)sres.files_damaged,
			       (unsigned long long)sres.dirs_damaged);
		return EXIT_OK;
	}
	if (rc >= 0)
		rc = repo_repair_index(r, dry_run, &res, &e);
	if (r)
		report_aside(c, r, dry_run);
	repo_unlock(l);
	repo_free(r);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	report_damaged(c, &res, dry_run);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "message_type",
					 "repair_index", "dry_run", dry_run, "packs",
					 (json_int_t)res.packs, "blobs", (json_int_t)res.blobs,
					 "unreadable_packs", (json_int_t)res.bad_packs,
					 "kept_packs", (json_int_t)res.kept_packs, "kept_blobs",
					 (json_int_t)res.kept_blobs, "old_index_files",
					 (json_int_t)res.old_index_files));
	else
		printf("%sindexed %llu packs (%llu blobs), %llu unreadable; replaced %llu index "
		       "files\n", dry_run ? "would have " : "", (unsigned long long)res.packs,
		       (unsigned long long)res.blobs, (unsigned long long)res.bad_packs,
		       (unsigned long long)res.old_index_files);
	rc = res.bad_packs ? EXIT_CORRUPT : EXIT_OK;
	repo_repair_result_release(&res);
	/* A pack whose header does not open is damaged even when its entries were kept (a
	 * blob of it may be too), and one left out is data the index no longer reaches:
	 * whoever runs this, a script included, must not take either for a clean repair. */
	return rc;
}
