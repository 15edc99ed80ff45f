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

#include "restore/restore.h"
#include "util/banned.h"

#define MAX_LIST 256

static void on_progress(void *ud, const struct restore_progress *p)
{
	struct cli *c = ud;

	if (c->json)
		cli_print_json(json_pack("{s:s, s:f, s:I, s:I}", "message_type", "status",
					 "seconds_elapsed", p->elapsed, "files_restored",
					 (json_int_t)p->files_done, "bytes_restored",
					 (json_int_t)p->bytes_done));
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

int cmd_restore(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'e' },
		{ "verify", no_argument, NULL, 'V' },
		{ "threads", required_argument, NULL, 'T' },
		{ "no-owner", no_argument, NULL, 'O' },
		{ 0 },
	};
	const char *inc[MAX_LIST], *exc[MAX_LIST];
	struct restore_opts o = { .includes = inc, .excludes = exc, .owners = -1, .ud = c };
	struct restore_result res;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	char *spec = NULL, *colon;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
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
	o.warn = cli_warn;
	o.progress = on_progress;
	o.cancel = cli_cancelled;
	cli_catch_signals();
	rc = cli_open_repo(c, &e, &r);
	if (rc >= 0) /* bad input fails before anything (a lock) is written */
		rc = restore_preflight(r, &o, &e);
	if (rc >= 0) /* shared: a prune must not remove what is being restored */
		rc = repo_lock_reader(r, &e, &l);
	if (rc >= 0)
		rc = restore_run(r, &o, &res, &e);
	repo_unlock(l);
	repo_free(r);
	free(spec);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "message_type",
					 "summary", "files_restored", (json_int_t)res.files,
					 "dirs_restored", (json_int_t)res.dirs, "others_restored",
					 (json_int_t)res.others, "bytes_restored",
					 (json_int_t)res.bytes, "errors", (json_int_t)res.errors,
					 "files_verified", (json_int_t)res.verified_files));
	else
		printf("restored %llu files, %llu folders, %llu others, %.3f MiB%s\n",
		       (unsigned long long)res.files, (unsigned long long)res.dirs,
		       (unsigned long long)res.others, res.bytes / 1048576.0,
		       o.verify ? ", verified" : "");
	return res.errors ? EXIT_PARTIAL : EXIT_OK;
}
