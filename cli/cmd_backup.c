/* `cairn backup PATH...`: runs backup_run with progress and warnings on the terminal or
 * as JSON lines. Exit 3 when files could not be read. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup.h"
#include "cli/progress.h"
#include "util/log.h"
#include "util/banned.h"

#define MAX_LIST 256

struct backup_ui {
	struct cli *c;
	struct cli_progress pr;
	struct cli_scan scan;
	struct backup_progress last;
};

static struct cli_progress_state state(struct backup_ui *u, const struct backup_progress *p)
{
	struct cli_progress_state s = {
		.files_done = p->files_done,
		.bytes_done = p->bytes_done,
		.errors = p->errors,
		.files_total = atomic_load(&u->scan.files),
		.bytes_total = atomic_load(&u->scan.bytes),
		.total_known = atomic_load(&u->scan.done),
	};

	return s;
}

static void on_progress(void *ud, const struct backup_progress *p)
{
	struct backup_ui *u = ud;
	struct cli_progress_state s = state(u, p);

	u->last = *p;
	u->last.current = NULL;
	cli_progress_show(&u->pr, &s,
			  u->pr.json ? json_pack("{s:I, s:I, s:I}", "dirs_done",
						 (json_int_t)p->dirs_done, "bytes_added",
						 (json_int_t)p->bytes_added, "error_count",
						 (json_int_t)p->errors)
				     : NULL);
}

static void on_warn(void *ud, const char *path, int code, const char *msg)
{
	struct backup_ui *u = ud;

	cli_warn(u->c, path, code, msg);
}

static bool on_cancel(void *ud)
{
	struct backup_ui *u = ud;

	return cli_cancelled(u->c);
}

/* The run is over: the last line says 100% with what was really done. */
static void progress_final(struct backup_ui *u, const struct backup_result *res)
{
	struct cli_progress_state s = state(u, &u->last);

	if (u->pr.json)
		return; /* the summary line follows */
	s.final = true;
	s.files_done = res->summary.total_files;
	s.bytes_done = res->summary.total_bytes;
	s.files_total = s.files_done;
	s.bytes_total = s.bytes_done;
	s.total_known = true;
	cli_progress_show(&u->pr, &s, NULL);
}

static void print_summary(struct cli *c, const struct backup_result *res)
{
	const struct snapshot_summary *m = &res->summary;
	char id[ID_HEX] = "", parent[ID_HEX] = "";

	if (!res->empty || memcmp(res->snapshot_id, (uint8_t[ID_BYTES]){ 0 }, ID_BYTES))
		hex_encode(res->snapshot_id, ID_BYTES, id);
	if (res->has_parent)
		hex_encode(res->parent_id, ID_BYTES, parent);
	if (c->json) {
		cli_print_json(json_pack(
			"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			"s:I, s:f, s:b}",
			"message_type", "summary", "snapshot_id", id, "parent", parent, "files_new",
			(json_int_t)m->files_new, "files_changed", (json_int_t)m->files_changed,
			"files_unmodified", (json_int_t)m->files_unmodified, "dirs_new",
			(json_int_t)m->dirs_new, "dirs_changed", (json_int_t)m->dirs_changed,
			"dirs_unmodified", (json_int_t)m->dirs_unmodified, "data_blobs",
			(json_int_t)m->data_blobs, "tree_blobs", (json_int_t)m->tree_blobs,
			"data_added", (json_int_t)m->bytes_added, "total_files_processed",
			(json_int_t)m->total_files, "total_bytes_processed",
			(json_int_t)m->total_bytes, "error_count", (json_int_t)m->errors,
			"total_duration", m->duration, "empty", res->empty));
		return;
	}
	printf("files: %llu new, %llu changed, %llu unmodified\n",
	       (unsigned long long)m->files_new, (unsigned long long)m->files_changed,
	       (unsigned long long)m->files_unmodified);
	printf("dirs:  %llu new, %llu changed, %llu unmodified\n", (unsigned long long)m->dirs_new,
	       (unsigned long long)m->dirs_changed, (unsigned long long)m->dirs_unmodified);
	printf("added to the repository: %.3f MiB (%llu files, %.3f MiB processed in %.2fs)\n",
	       m->bytes_added / 1048576.0, (unsigned long long)m->total_files,
	       m->total_bytes / 1048576.0, m->duration);
	if (m->errors)
		printf("%llu file%s could not be read (listed above)\n",
		       (unsigned long long)m->errors, m->errors == 1 ? "" : "s");
	if (id[0])
		printf("snapshot %.8s saved\n", id);
	else
		printf("nothing to back up: no snapshot written\n");
}

int cmd_backup(struct cli *c, int argc, char **argv)
{
	const char *tags[MAX_LIST], *excludes[MAX_LIST];
	struct backup_ui *u = NULL;
	struct backup_opts o = { .tags = tags, .excludes = excludes };
	struct backup_result res;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		switch (ch) {
		case 't':
			if (o.n_tags == MAX_LIST)
				return EXIT_USAGE;
			tags[o.n_tags++] = optarg;
			break;
		case 'H':
			o.hostname = optarg;
			break;
		case 'e':
			if (o.n_excludes == MAX_LIST)
				return EXIT_USAGE;
			excludes[o.n_excludes++] = optarg;
			break;
		case 'P':
			o.parent = optarg;
			break;
		case 'f':
			o.no_parent = true;
			break;
		case 'x':
			o.one_file_system = true;
			break;
		case 'T':
			o.threads = (int)strtol(optarg, NULL, 10);
			break;
		case 'E':
			o.skip_empty = true;
			break;
		default:
			return cli_fail(c, &e, err_set(&e, -EINVAL, "backup: bad arguments"));
		}
	}
	if (optind >= argc)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "backup: no paths given"));
	o.paths = (const char *const *)argv + optind;
	o.n_paths = (size_t)(argc - optind);
	for (size_t i = 0; i < o.n_paths; i++)
		if (access(o.paths[i], F_OK) < 0)
			return cli_fail(c, &e, err_set(&e, -ENOENT, "%s: no such file or directory",
						       o.paths[i]));
	u = calloc(1, sizeof(*u));
	if (!u)
		return cli_fail(c, &e, err_set(&e, -ENOMEM, "out of memory"));
	u->c = c;
	cli_progress_init(&u->pr, c);
	o.ud = u;
	o.warn = on_warn;
	o.cancel = on_cancel;
	o.progress_ms = cli_progress_ms(&u->pr);
	if (o.progress_ms) {
		o.progress = on_progress;
		u->scan.paths = o.paths;
		u->scan.n_paths = o.n_paths;
		u->scan.excludes = o.excludes;
		u->scan.n_excludes = o.n_excludes;
		u->scan.one_file_system = o.one_file_system;
	}
	cli_catch_signals();
	rc = cli_open_repo(c, &e, &r);
	/* The scanner starts with the backup, not before the password is checked. Without
	 * it the line shows counts without a total. */
	if (rc >= 0 && o.progress && cli_scan_start(&u->scan) < 0)
		log_debug("backup: no scanner thread: progress without a total");
	if (rc >= 0)
		rc = backup_run(r, &o, &res, &e);
	cli_scan_stop(&u->scan);
	repo_free(r);
	if (rc >= 0)
		progress_final(u, &res);
	cli_progress_release(&u->pr, c);
	free(u);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	print_summary(c, &res);
	return res.summary.errors ? EXIT_PARTIAL : EXIT_OK;
}
