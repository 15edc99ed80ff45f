/* `cairn backup PATH...`: runs backup_run with progress and warnings on the terminal or
 * as JSON lines. Exit 3 when files could not be read. `--stdin` and `--stdin-from-command`
 * stream one file through backup_stream_*; a producer that fails leaves no snapshot. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup/backup.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "util/banned.h"
#include "util/log.h"

#define MAX_LIST 256
/* One read from the producer; the engine copies it into its own buffer. */
#define STREAM_READ (1u * 1024 * 1024)

extern char **environ;

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
	                                         cli_json_count(p->dirs_done), "bytes_added",
	                                         cli_json_count(p->bytes_added), "error_count",
	                                         cli_json_count(p->errors))
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

/* --compression: the names, or a zstd level as init takes it (bench/README.md has the
 * measurements behind the names). */
#define COMPRESS_FASTEST (-5)
#define COMPRESS_MAX     19

static int parse_compression(const char *s, int *ret, struct err *e)
{
	char *end;
	long v;

	if (!strcmp(s, "auto"))
		*ret = REPO_COMPRESS_AUTO;
	else if (!strcmp(s, "off"))
		*ret = REPO_COMPRESS_OFF;
	else if (!strcmp(s, "fastest"))
		*ret = COMPRESS_FASTEST;
	else if (!strcmp(s, "max"))
		*ret = COMPRESS_MAX;
	else if ((v = strtol(s, &end, 10)), end != s && !*end && v >= -131072 && v <= 22)
		*ret = (int)v;
	else
		return err_set(e, -EINVAL,
		               "backup: bad --compression '%s' (auto, off, fastest, max or a zstd "
		               "level from -131072 to 22)",
		               s);
	return 0;
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
		    cli_json_count(m->files_new), "files_changed", cli_json_count(m->files_changed),
		    "files_unmodified", cli_json_count(m->files_unmodified), "dirs_new",
		    cli_json_count(m->dirs_new), "dirs_changed", cli_json_count(m->dirs_changed),
		    "dirs_unmodified", cli_json_count(m->dirs_unmodified), "data_blobs",
		    cli_json_count(m->data_blobs), "tree_blobs", cli_json_count(m->tree_blobs),
		    "data_added", cli_json_count(m->bytes_added), "total_files_processed",
		    cli_json_count(m->total_files), "total_bytes_processed",
		    cli_json_count(m->total_bytes), "error_count", cli_json_count(m->errors),
		    "total_duration", m->duration, "empty", res->empty));
		return;
	}
	printf("files: %llu new, %llu changed, %llu unmodified\n", (unsigned long long)m->files_new,
	       (unsigned long long)m->files_changed, (unsigned long long)m->files_unmodified);
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

static int set_compression(struct repo *r, int level, struct err *e)
{
	int rc = repo_set_compression(r, level);

	return rc < 0 ? err_set(e, rc, "backup: zstd has no compression level %d", level) : 0;
}

/* Where the stream's bytes come from: stdin, or a command's stdout through a pipe. */
struct producer {
	int fd;
	pid_t pid; /* 0: stdin */
};

/* Run argv without a shell, its stdout into a pipe. The child gets the default action
 * for the signals cairn handles or ignores (SIGPIPE: a dump into a closed pipe stops). */
static int producer_start(struct producer *p, char **argv, struct err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def;
	int fds[2], rc;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(e, -errno, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	rc = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&at, &def);
	if (!rc)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawnp(&p->pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(fds[1]);
	if (rc) {
		close(fds[0]);
		p->pid = 0;
		/* The program's name only: its arguments may hold a secret. */
		return err_set(e, -rc, "cannot run %s: %s", argv[0], strerror(rc));
	}
	p->fd = fds[0];
	return 0;
}

/* The command's verdict: its exit status, 128 + N after signal N. early: we stopped
 * reading (an error or a cancel), so it is told to stop too. */
static int producer_wait(struct cli *c, struct producer *p, bool early)
{
	int ws = 0;
	bool killed = false;

	close(p->fd);
	if (early && kill(p->pid, SIGTERM) == 0)
		killed = true;
	while (waitpid(p->pid, &ws, 0) < 0) {
		if (errno != EINTR)
			return 1;
		if (!killed && cli_cancelled(c) && kill(p->pid, SIGTERM) == 0)
			killed = true;
	}
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 1;
}

/* Read the producer to EOF into a stream. Only a producer that delivered everything (EOF
 * on stdin, exit 0 for a command) lets backup_stream_end write the snapshot. */
static int backup_stream_cli(struct cli *c, struct repo *r, const struct backup_opts *o,
                             const char *name, char **cmd, struct backup_result *res, struct err *e)
{
	struct backup_stream *s = NULL;
	struct producer p = { .fd = STDIN_FILENO };
	struct err ignore = ERR_INIT;
	uint8_t *buf = malloc(STREAM_READ);
	bool early = false;
	int rc, status = 0;

	if (!buf)
		return err_set(e, -ENOMEM, "out of memory");
	rc = backup_stream_begin(r, o, name, &s, e);
	if (rc < 0)
		goto fail;
	if (cmd) {
		rc = producer_start(&p, cmd, e);
		if (rc < 0) {
			/* Nothing was read: end without a snapshot, keep the reason. */
			if (backup_stream_end(s, rc, res, &ignore) < 0)
				log_debug("backup: %s", ignore.msg);
			goto fail;
		}
	}
	for (;;) {
		ssize_t k = read(p.fd, buf, STREAM_READ);

		if (k < 0 && errno == EINTR) {
			if (!cli_cancelled(c))
				continue;
			status = -ECANCELED;
		} else if (k < 0) {
			status = -errno;
		} else if (k > 0 && backup_stream_feed(s, buf, (size_t)k, &ignore) >= 0) {
			continue;
		} else if (k == 0) {
			break;
		}
		early = true; /* a read error, a cancel, or the stream failed */
		break;
	}
	if (p.pid) {
		int ps = producer_wait(c, &p, early);

		if (!status)
			status = ps;
	}
	/* A failed feed is latched: end reports it, with its message, before any status. */
	rc = backup_stream_end(s, status, res, e);
fail:
	free(buf);
	return rc;
}

/* `backup --stdin` and `backup --stdin-from-command -- CMD [ARG...]`. */
static int backup_stream_cmd(struct cli *c, struct backup_opts *o, int level, bool from_stdin,
                             bool from_cmd, const char *name, int nargs, char **args)
{
	struct backup_ui *u = NULL;
	struct backup_result res;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int rc;

	if (from_stdin && from_cmd)
		return cli_fail(c, &e,
		                err_set(&e, -EINVAL,
		                        "backup: --stdin and "
		                        "--stdin-from-command exclude each other"));
	if (!from_stdin && !from_cmd)
		return cli_fail(c, &e,
		                err_set(&e, -EINVAL,
		                        "backup: --stdin-filename needs --stdin "
		                        "or --stdin-from-command"));
	if (from_stdin && nargs)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "backup: --stdin takes no paths"));
	if (from_cmd && !nargs)
		return cli_fail(c, &e,
		                err_set(&e, -EINVAL,
		                        "backup: --stdin-from-command needs a "
		                        "command after the flags"));
	if (o->n_excludes)
		return cli_fail(c, &e,
		                err_set(&e, -EINVAL,
		                        "backup: --exclude does not apply to "
		                        "a stream"));
	u = calloc(1, sizeof(*u));
	if (!u)
		return cli_fail(c, &e, err_set(&e, -ENOMEM, "out of memory"));
	u->c = c;
	cli_progress_init(&u->pr, c);
	o->ud = u;
	o->warn = on_warn;
	o->cancel = on_cancel;
	o->progress_ms = cli_progress_ms(&u->pr);
	if (o->progress_ms)
		o->progress = on_progress; /* no total: the size is known at the end */
	cli_catch_signals();
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0)
		rc = set_compression(r, level, &e);
	if (rc >= 0)
		rc = backup_stream_cli(c, r, o, name ? name : "stdin", from_cmd ? args : NULL, &res,
		                       &e);
	repo_free(r);
	if (rc >= 0)
		progress_final(u, &res);
	cli_progress_release(&u->pr, c);
	free(u);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	print_summary(c, &res);
	return EXIT_OK;
}

int cmd_backup(struct cli *c, int argc, char **argv)
{
	const char *tags[MAX_LIST], *excludes[MAX_LIST];
	struct backup_ui *u = NULL;
	struct backup_opts o = { .tags = tags, .excludes = excludes };
	struct backup_result res;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	const char *stream_name = NULL;
	bool from_stdin = false, from_cmd = false;
	int ch, rc, level = REPO_COMPRESS_AUTO;

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
			o.cross_mounts = false;
			break;
		case 'X':
			o.cross_mounts = true;
			break;
		case 'T':
			o.threads = (int)strtol(optarg, NULL, 10);
			break;
		case 'E':
			o.skip_empty = true;
			break;
		case 'I':
			from_stdin = true;
			break;
		case 'C':
			from_cmd = true;
			break;
		case 'N':
			stream_name = optarg;
			break;
		case 'z':
			if (parse_compression(optarg, &level, &e) < 0)
				return cli_fail(c, &e, -EINVAL);
			break;
		default:
			return cli_fail(c, &e, err_set(&e, -EINVAL, "backup: bad arguments"));
		}
	}
	if (from_stdin || from_cmd || stream_name)
		return backup_stream_cmd(c, &o, level, from_stdin, from_cmd, stream_name,
		                         argc - optind, argv + optind);
	if (optind >= argc)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "backup: no paths given"));
	o.paths = (const char *const *)argv + optind;
	o.n_paths = (size_t)(argc - optind);
	for (size_t i = 0; i < o.n_paths; i++)
		if (access(o.paths[i], F_OK) < 0)
			return cli_fail(
			    c, &e,
			    err_set(&e, -ENOENT, "%s: no such file or directory", o.paths[i]));
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
		u->scan.one_file_system = !o.cross_mounts;
	}
	cli_catch_signals();
	rc = cli_open_repo(c, &r, &e);
	/* The scanner starts with the backup, not before the password is checked. Without
	 * it the line shows counts without a total. */
	if (rc >= 0)
		rc = set_compression(r, level, &e);
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
