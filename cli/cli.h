/* The command-line front end: global options, repository opening, output helpers and
 * the documented exit codes (docs/cli.md). Only cli/ prints. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "cli/cmdtab.h"
#include "repo/repo.h"
#include "util/err.h"

enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1,     /* anything not listed below */
	EXIT_USAGE = 2,        /* bad flags or arguments */
	EXIT_PARTIAL = 3,      /* backup done, some files unreadable (listed) */
	EXIT_NO_REPO = 10,     /* no repository at the location */
	EXIT_LOCKED = 11,      /* a conflicting lock is held */
	EXIT_WRONG_PASSWORD = 12,
	EXIT_NOT_FOUND = 13,   /* unknown snapshot, path or object */
	EXIT_CORRUPT = 14,     /* integrity failure (check found problems) */
	EXIT_READ_ONLY = 15,   /* the location is read-only */
	EXIT_NO_SPACE = 16,
	EXIT_REMOTE = 17,      /* server or network failure after retries */
	EXIT_CANCELED = 130,
};

#define CLI_MAX_OPTS 64

struct cli {
	const char *repo_url;
	const char *password_file;
	bool json;
	bool quiet;
	int verbose;
	const char *options[CLI_MAX_OPTS]; /* --option key=value */
	size_t n_options;
	struct backend_options bopts;
	const char *argv0;
	unsigned warnings_shown; /* check: warnings printed so far */
	struct cli_progress *progress; /* backup, restore, check, prune: the line to clear */
	/* getopt tables built from the command table for opts_for (cli_getopt). */
	const struct cmd_doc *opts_for;
	struct option longopts[CMDTAB_MAX_FLAGS + 1];
	char shortopts[2 * CMDTAB_MAX_FLAGS + 2];
};

/* getopt_long over the flags the command table gives the command argv[0]; errors are
 * not printed (main checked every flag before the command ran). */
int cli_getopt(struct cli *c, int argc, char **argv);

/* Open the repository named by -r/CAIRN_REPOSITORY with the password from
 * --password-file / CAIRN_PASSWORD_FILE / CAIRN_PASSWORD (never argv). */
int cli_open_repo(struct cli *c, struct repo **ret, struct err *e) _must_check_;
/* Read the password into sodium memory; caller frees with cli_password_free. */
int cli_password(struct cli *c, bool confirm_new, char **ret, size_t *ret_len,
		 struct err *e) _must_check_;
void cli_password_free(char *p, size_t n);
/* Print one error line for err and map its code to an exit status. */
int cli_fail(const struct cli *c, const struct err *e, int code);
int cli_exit_code(int code);
/* Print a json_t (as void* to keep jansson out of this header) as one line; decrefs it. */
void cli_print_json(json_t *json);
/* SIGINT/SIGTERM set a flag that cli_cancelled reports (backup/restore cancel callbacks):
 * the engine stops cleanly and keeps what it uploaded. */
void cli_catch_signals(void);
bool cli_cancelled(void *ud);
/* End a progress line on the terminal (if one is drawn) before printing over it. */
void cli_progress_clear(struct cli *c);
/* Warning callback for backup/restore: one line on stderr, or a JSON line (ud: struct cli). */
void cli_warn(void *ud, const char *path, int code, const char *msg);

/* Subcommands: argv[0] is the subcommand name; getopt_long from index 1. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_backup(struct cli *c, int argc, char **argv);
int cmd_restore(struct cli *c, int argc, char **argv);
int cmd_snapshots(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_cat(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_version(struct cli *c, int argc, char **argv);
int cmd_unlock(struct cli *c, int argc, char **argv);
int cmd_restore_wait(struct cli *c, int argc, char **argv);
int cmd_mount(struct cli *c, int argc, char **argv);       /* fuse/ work */
int cmd_agent(struct cli *c, int argc, char **argv);       /* agent/ work */
int cmd_controller(struct cli *c, int argc, char **argv);  /* controller/ work */
int cmd_kube(struct cli *c, int argc, char **argv);
int cmd_forget(struct cli *c, int argc, char **argv);      /* maintenance work */
int cmd_prune(struct cli *c, int argc, char **argv);
int cmd_key(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);
int cmd_repair(struct cli *c, int argc, char **argv);
