/* The command table: the one source of every command's synopsis, flags, defaults,
 * environment, examples and exit codes. `--help`, the man pages, docs/cli.md's reference
 * and the shell completions are all rendered from it, and each command's getopt options
 * are built from it, so a flag cannot exist in one and be missing from another. Pure data
 * and renderers: no repository code, so the build-time generator links only this. */
#pragma once
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Enough for the longest flag list (forget) plus the end marker. */
#define CMDTAB_MAX_FLAGS 24

struct cmd_flag {
	const char *name; /* long name, without "--" */
	char short_name;  /* 0: none */
	int val;          /* what getopt_long returns for it */
	const char *arg;  /* metavariable, NULL for a switch */
	const char *def;  /* default shown in help, NULL: none */
	const char *help;
	/* Completion of the value: "file", "dir", or a word list "a b c"; NULL: none. */
	const char *complete;
	bool repeat; /* may be given more than once */
};

struct cmd_example {
	const char *what;
	const char *line; /* after "$ " */
};

struct cmd_doc {
	const char *name;
	const char *summary;
	const char *synopsis; /* arguments after "cairn NAME" */
	const char *description;
	const struct cmd_flag *flags;       /* ends with a zero entry */
	const char *const *env;             /* names from cmdtab_env, NULL-terminated */
	const struct cmd_example *examples; /* ends with a zero entry */
	const int *exits;                   /* codes from cmdtab_exits, -1 terminated */
	/* Completion of positional words: "file", "dir", "snapshot" or a word list. */
	const char *complete_args;
};

struct cmd_env {
	const char *name;
	const char *help;
};

struct cmd_exit {
	int code;
	const char *help;
};

extern const struct cmd_doc cmdtab[];
extern const size_t cmdtab_n;
extern const struct cmd_flag cmdtab_global[]; /* ends with a zero entry */
extern const struct cmd_env cmdtab_env[];     /* ends with a zero entry */
extern const struct cmd_exit cmdtab_exits[];  /* ends with a zero entry (code -1) */

/* NULL when name is not a command (exact match only). */
const struct cmd_doc *cmdtab_find(const char *name);
/* The flag named by a long name (exact, or a unique prefix as getopt_long takes it);
 * NULL when unknown. *ambiguous is set when a prefix matches several. */
const struct cmd_flag *cmdtab_flag(const struct cmd_flag *flags, const char *name, size_t len,
                                   bool *ambiguous);
const struct cmd_flag *cmdtab_short(const struct cmd_flag *flags, char ch);
const char *cmdtab_env_help(const char *name);
const char *cmdtab_exit_help(int code);
/* The closest candidate to word by edit distance, or NULL when none is close enough to be
 * a plausible typo (at most a third of the word's length, at least 1, at most 3 edits). */
const char *cmdtab_nearest(const char *word, const char *const *cands, size_t n);

/* getopt_long tables for cmd: out gets CMDTAB_MAX_FLAGS + 1 entries at most, shortopts
 * at most 2 * CMDTAB_MAX_FLAGS + 2 bytes. */
void cmdtab_getopt(const struct cmd_doc *cmd, struct option *out, char *shortopts, size_t max);

/* Renderers (cli/help.c, cli/docgen.c). */
void cmdtab_help(FILE *f, const struct cmd_doc *cmd); /* `cairn CMD --help` */
void cmdtab_usage(FILE *f);                           /* `cairn --help` */
/* Shell completion scripts (cli/complete.c); 0 or -EIO. */
int cmdtab_bash(FILE *f);
int cmdtab_zsh(FILE *f);
