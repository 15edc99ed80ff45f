/* `cairn prune [--max-unused PERCENT] [--dry-run]`: remove data no snapshot reaches,
 * under an exclusive lock. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "maint/maint.h"
#include "util/banned.h"

static void report(const struct cli *c, const struct repo_prune_result *p, bool dry_run)
{
	if (c->json) {
		cli_print_json(json_pack(
			"{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"message_type", "prune", "dry_run", dry_run, "packs", (json_int_t)p->packs,
			"packs_deleted", (json_int_t)p->packs_deleted, "packs_repacked",
			(json_int_t)p->packs_repacked, "packs_written", (json_int_t)p->packs_written,
			"packs_orphaned", (json_int_t)p->packs_orphaned, "packs_missing",
			(json_int_t)p->packs_missing, "blobs_used", (json_int_t)p->blobs_used,
			"blobs_unused", (json_int_t)p->blobs_unused, "blobs_duplicate",
			(json_int_t)p->blobs_duplicate, "blobs_repacked",
			(json_int_t)p->blobs_repacked, "bytes_before", (json_int_t)p->bytes_before,
			"bytes_after", (json_int_t)p->bytes_after, "bytes_unused_after",
			(json_int_t)p->bytes_unused_after));
		return;
	}
	printf("%s%llu packs: %llu deleted, %llu repacked into %llu, %llu unindexed removed%s\n",
	       dry_run ? "would be: " : "", (unsigned long long)p->packs,
	       (unsigned long long)p->packs_deleted, (unsigned long long)p->packs_repacked,
	       (unsigned long long)p->packs_written, (unsigned long long)p->packs_orphaned,
	       p->packs_missing ? " (some indexed packs are missing: run 'cairn check')" : "");
	printf("blobs: %llu used, %llu unused, %llu duplicate copies, %llu repacked\n",
	       (unsigned long long)p->blobs_used, (unsigned long long)p->blobs_unused,
	       (unsigned long long)p->blobs_duplicate, (unsigned long long)p->blobs_repacked);
	printf("size: %.1f MiB -> %.1f MiB (%.1f MiB unused left)\n",
	       (double)p->bytes_before / 1048576.0, (double)p->bytes_after / 1048576.0,
	       (double)p->bytes_unused_after / 1048576.0);
}

int cmd_prune(struct cli *c, int argc, char **argv)
{
	struct repo_prune_opts o = { .max_unused_pct = 5 };
	struct repo_prune_result res;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	struct cli_maint_ui *u = NULL;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch == 'u') {
			char *end;

			o.max_unused_pct = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%")) || o.max_unused_pct < 0 ||
			    o.max_unused_pct > 100)
				return cli_fail(c, &e, err_set(&e, -EINVAL,
							       "bad --max-unused '%s' (a percentage)",
							       optarg));
		} else if (ch == 'n') {
			o.dry_run = true;
		} else {
			return EXIT_USAGE;
		}
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return cli_fail(c, &e, err_set(&e, -ENOMEM, "out of memory"));
	cli_progress_init(&u->pr, c);
	o.progress_ms = cli_progress_ms(&u->pr);
	o.progress = o.progress_ms ? cli_maint_progress : NULL;
	o.progress_ud = u;
	rc = cli_open_repo(c, &r, &e);
	/* Even a dry run locks: its figures are only true while nothing writes. */
	if (rc >= 0)
		rc = repo_lock(r, REPO_LOCK_EXCLUSIVE, &l, &e);
	if (rc >= 0)
		rc = repo_prune(r, l, &o, &res, &e);
	repo_unlock(l);
	repo_free(r);
	if (rc >= 0)
		cli_maint_progress_end(u);
	cli_progress_release(&u->pr, c);
	free(u);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	report(c, &res, o.dry_run);
	return EXIT_OK;
}
