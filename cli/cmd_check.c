/* `cairn check [--read-data] [--read-data-subset N/T|P%] [--no-headers]`: problems one per
 * line (exit 14), warnings (unused or duplicate blobs) that do not change the exit code. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "cli/progress.h"
#include "maint/maint.h"
#include "util/banned.h"

static void on_problem(void *ud, const char *raw)
{
	struct cli *c = ud;
	char msg[CLI_ESC_MAX];

	cli_esc(raw, msg, sizeof(msg));
	cli_progress_clear(c);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s}", "message_type", "problem", "message", msg));
	else
		fprintf(stderr, "error: %s\n", msg);
}

/* Unused blobs after an interrupted backup can number thousands: show the first few on a
 * terminal (the summary line has the counts; --json and -v list them all). */
#define WARNINGS_SHOWN 10

static void on_warning(void *ud, const char *raw)
{
	struct cli *c = ud;
	unsigned shown = c->warnings_shown++;
	char msg[CLI_ESC_MAX];

	cli_esc(raw, msg, sizeof(msg));
	cli_progress_clear(c);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s}", "message_type", "warning", "message", msg));
	else if (!c->quiet && (c->verbose || shown < WARNINGS_SHOWN))
		fprintf(stderr, "warning: %s\n", msg);
	else if (!c->quiet && shown == WARNINGS_SHOWN)
		fprintf(stderr, "warning: more warnings not shown (use -v or --json)\n");
}

static int parse_subset(const char *s, struct repo_check_opts *o, struct repo_check_ext *x)
{
	unsigned a, b;
	char *end;
	double pct;

	if (strchr(s, '%')) {
		pct = strtod(s, &end);
		if (end == s || strcmp(end, "%") || pct <= 0 || pct > 100)
			return -EINVAL;
		x->subset_pct = pct;
		return 0;
	}
	if (sscanf(s, "%u/%u", &a, &b) != 2 || !a || a > b)
		return -EINVAL;
	o->subset_index = a;
	o->subset_total = b;
	return 0;
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	struct repo_check_opts o = { 0 };
	struct repo_check_ext x = { .headers = true, .warn = on_warning };
	struct repo_check_result res;
	struct repo_check_ext_result xr = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	struct cli_maint_ui *u = NULL;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch == 'd') {
			o.read_data = true;
		} else if (ch == 's') {
			if (parse_subset(optarg, &o, &x) < 0)
				return cli_fail(c, &e, err_set(&e, -EINVAL,
							       "bad subset '%s' (N/T or P%%)", optarg));
			o.read_data = true;
		} else if (ch == 'H') {
			x.headers = false;
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
	if (rc >= 0) /* shared: a prune mid-way would look like damage */
		rc = repo_lock_reader(r, &l, &e);
	if (rc >= 0)
		rc = repo_check_full(r, &o, &x, on_problem, c, &res, &xr, &e);
	repo_unlock(l);
	repo_free(r);
	if (rc >= 0)
		cli_maint_progress_end(u);
	cli_progress_release(&u->pr, c);
	free(u);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					 "message_type", "summary", "snapshots",
					 (json_int_t)res.snapshots, "trees", (json_int_t)res.trees,
					 "packs", (json_int_t)res.packs, "packs_read",
					 (json_int_t)res.packs_read, "headers_read",
					 (json_int_t)xr.headers_read, "unindexed_packs",
					 (json_int_t)res.unindexed_packs, "blobs_unreferenced",
					 (json_int_t)xr.blobs_unreferenced, "blobs_duplicate",
					 (json_int_t)xr.blobs_duplicate, "warnings",
					 (json_int_t)xr.warnings, "problems",
					 (json_int_t)res.problems));
	else
		printf("checked %llu snapshots, %llu trees, %llu packs (%llu read, %llu headers): "
		       "%llu problem%s, %llu unused and %llu duplicate blobs\n",
		       (unsigned long long)res.snapshots, (unsigned long long)res.trees,
		       (unsigned long long)res.packs, (unsigned long long)res.packs_read,
		       (unsigned long long)xr.headers_read, (unsigned long long)res.problems,
		       res.problems == 1 ? "" : "s", (unsigned long long)xr.blobs_unreferenced,
		       (unsigned long long)xr.blobs_duplicate);
	return res.problems ? EXIT_CORRUPT : EXIT_OK;
}
