/* `cairn restore SNAPSHOT[:SUBDIR] --target DIR [--include G] [--exclude G] [--verify]`. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/output.h"
#include "cli/progress.h"
#include "restore/restore.h"
#include "util/banned.h"

#define MAX_LIST 256

struct restore_ui {
	struct cli *c;
	struct cli_progress pr;
	uint64_t files_total, bytes_total;
	bool total_known;
};

static void on_progress(void *ud, const struct restore_progress *p)
{
	struct restore_ui *u = ud;
	struct cli_progress_state s = {
		.files_done = p->files_done,
		.bytes_done = p->bytes_done,
		.errors = p->errors,
		.files_total = u->files_total,
		.bytes_total = u->bytes_total,
		.total_known = u->total_known,
	};

	cli_progress_show(&u->pr, &s,
	                  u->pr.json ? json_pack("{s:I, s:I}", "files_restored",
	                                         cli_json_count(p->files_done), "bytes_restored",
	                                         cli_json_count(p->bytes_done))
	                             : NULL);
}

static void on_warn(void *ud, const char *path, int code, const char *msg)
{
	struct restore_ui *u = ud;

	cli_warn(u->c, path, code, msg);
}

static bool on_cancel(void *ud)
{
	struct restore_ui *u = ud;

	return cli_cancelled(u->c);
}

static int restore_preflight(struct repo *r, const struct restore_opts *o, struct err *e)
{
	struct snapshot s = { 0 };
	struct node n = { 0 };
	int rc = repo_snapshot_load(r, o->snapshot, &s, e);

	if (rc >= 0)
		rc = repo_tree_lookup(r, &s, o->subdir ? o->subdir : "/", &n, e);
	node_release(&n);
	snapshot_release(&s);
	return rc;
}

static int run(struct cli *c, struct restore_opts *o, struct restore_result *res, struct err *e)
{
	struct restore_ui u = { .c = c };
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	int rc;

	cli_progress_init(&u.pr, c);
	o->ud = &u;
	o->warn = on_warn;
	o->cancel = on_cancel;
	o->progress_ms = cli_progress_ms(&u.pr);
	o->progress = o->progress_ms ? on_progress : NULL;
	rc = cli_open_repo(c, &r, e);
	if (rc >= 0) /* bad input fails before anything (a lock) is written */
		rc = restore_preflight(r, o, e);
	if (rc >= 0) /* shared: a prune must not remove what is being restored */
		rc = repo_lock_reader(r, &l, e);
	/* The total comes from the snapshot's trees, walked once before the restore (the
	 * restore reads them again: trees are small next to the data). */
	if (rc >= 0 && o->progress)
		rc = cli_restore_total(r, o, &u.files_total, &u.bytes_total, e);
	u.total_known = rc >= 0;
	if (rc >= 0)
		rc = restore_run(r, o, res, e);
	if (rc >= 0 && u.pr.tty) {
		struct cli_progress_state s = { .files_done = res->files, .bytes_done = res->bytes,
						.files_total = res->files, .bytes_total = res->bytes,
						.errors = res->errors, .total_known = true,
						.final = true };

		cli_progress_show(&u.pr, &s, NULL);
	}
	repo_unlock(l);
	repo_free(r);
	cli_progress_release(&u.pr, c);
	return rc;
}


/* cli_fail's JSON error object, plus the figures of a refused free-space check, so a
 * controller can size the volume from them. */
static int fail_space(struct cli *c, const struct err *e, const struct restore_space *sp)
{
	char msg[sizeof(e->msg) * 4 + 1];
	json_t *o;
	char *s;

	cli_escape(e->msg, strlen(e->msg), msg, sizeof(msg));
	cli_progress_clear(c);
	o = json_pack("{s:s, s:s, s:i, s:I, s:I}", "message_type", "error", "error", msg,
	              "exit_code", cli_exit_code(-ENOSPC), "bytes_needed",
	              cli_json_count(sp->needed), "bytes_free", cli_json_count(sp->free));
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(o);
	return cli_exit_code(-ENOSPC);
}

int cmd_restore(struct cli *c, int argc, char **argv)
{
	const char *inc[MAX_LIST], *exc[MAX_LIST];
	struct restore_space space = { 0 };
	struct restore_opts o = { .includes = inc, .excludes = exc, .owners = -1, .space = &space };
	json_t *sum;
	struct restore_result res;
	struct err e = ERR_INIT;
	char *spec = NULL, *colon;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		switch (ch) {
		case 't':
			o.target = optarg;
			break;
		case 'i':
			if (o.n_includes < MAX_LIST)
				inc[o.n_includes++] = optarg;
			break;
		case 'e':
			if (o.n_excludes < MAX_LIST)
				exc[o.n_excludes++] = optarg;
			break;
		case 'V':
			o.verify = true;
			break;
		case 'T':
			o.threads = (int)strtol(optarg, NULL, 10);
			break;
		case 'O':
			o.owners = 0;
			break;
		case 'N':
			o.no_sparse = true;
			break;
		case 'k':
			o.keep_going = true;
			break;
		case 'P':
			o.keep_privileges = true;
			break;
		case 'S':
			o.no_space_check = true;
			break;
		case 'w':
			if (strcmp(optarg, "if-changed") == 0)
				o.skip_identical = true;
			else if (strcmp(optarg, "always") != 0)
				return cli_fail(
				    c, &e,
				    err_set(&e, -EINVAL,
				            "restore: --overwrite takes always or if-changed"));
			break;
		default:
			return cli_fail(c, &e, err_set(&e, -EINVAL, "restore: bad arguments"));
		}
	}
	if (optind >= argc || !o.target)
		return cli_fail(c, &e, err_set(&e, -EINVAL,
					       "usage: cairn restore SNAPSHOT[:SUBDIR] --target DIR"));
	spec = strdup(argv[optind]);
	if (!spec)
		return EXIT_FAILURE_;
	colon = strchr(spec, ':');
	if (colon) {
		*colon = 0;
		o.subdir = colon + 1;
	}
	o.snapshot = spec;
	cli_catch_signals();
	rc = run(c, &o, &res, &e);
	free(spec);
	if (rc == -ENOSPC && c->json && space.checked && space.needed > space.free)
		return fail_space(c, &e, &space);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json) {
		sum = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "message_type",
		                "summary", "files_restored", cli_json_count(res.files),
		                "dirs_restored", cli_json_count(res.dirs), "others_restored",
		                cli_json_count(res.others), "bytes_restored",
		                cli_json_count(res.bytes), "errors", cli_json_count(res.errors),
		                "files_verified", cli_json_count(res.verified_files),
		                "files_unchanged", cli_json_count(res.skipped),
		                "privileges_dropped", cli_json_count(res.privileges_dropped));
		/* The free-space check's figures, when it ran (not with --no-space-check). */
		if (sum && space.checked) {
			json_object_set_new(sum, "bytes_needed",
			                    json_integer(cli_json_count(space.needed)));
			json_object_set_new(sum, "bytes_free",
			                    json_integer(cli_json_count(space.free)));
		}
		cli_print_json(sum);
	} else {
		printf("restored %llu files, %llu folders, %llu others, %.3f MiB%s",
		       (unsigned long long)res.files, (unsigned long long)res.dirs,
		       (unsigned long long)res.others, res.bytes / 1048576.0,
		       o.verify ? ", verified" : "");
		if (o.skip_identical)
			printf(" (%llu already identical, left as they were)",
			       (unsigned long long)res.skipped);
		if (res.privileges_dropped)
			printf(" (%llu setuid/setgid bits or privileged xattrs left off; "
			       "--keep-privileges restores them)",
			       (unsigned long long)res.privileges_dropped);
		putchar('\n');
	}
	return res.errors ? EXIT_PARTIAL : EXIT_OK;
}
