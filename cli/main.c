/* Owns argument dispatch: global options, help, the check of every flag against the
 * command table (cmdtab.c) before a command runs, then one cmd_<name>.c per command. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "s3/s3.h"
#include "util/log.h"

#include "util/banned.h"

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
};

static int cmd_help(struct cli *c, int argc, char **argv);

static const struct command commands[] = {
	{ "init", cmd_init },           { "backup", cmd_backup },   { "restore", cmd_restore },
	{ "snapshots", cmd_snapshots }, { "ls", cmd_ls },           { "cat", cmd_cat },
	{ "check", cmd_check },         { "mount", cmd_mount },     { "forget", cmd_forget },
	{ "prune", cmd_prune },         { "unlock", cmd_unlock },   { "restore-wait", cmd_restore_wait },   { "key", cmd_key },
	{ "stats", cmd_stats },         { "diff", cmd_diff },       { "repair", cmd_repair },
	{ "agent", cmd_agent },         { "controller", cmd_controller }, { "kube", cmd_kube },
	{ "version", cmd_version }, { "help", cmd_help },
};

/* One line naming the bad word and, when one is close, the word meant; exit 2. */
static int usage_error(struct cli *c, const char *where, const char *what, const char *bad,
                       const char *near, const char *prefix)
{
	struct err e = ERR_INIT;

	/* cli_fail escapes the message: the bad word cannot reach the terminal raw. */
	if (near)
		err_set(&e, -EINVAL, "%s%sunknown %s '%s'; did you mean %s%s?", where,
		        where[0] ? ": " : "", what, bad, prefix, near);
	else
		err_set(&e, -EINVAL, "%s%sunknown %s '%s' (see cairn %s%s--help)", where,
		        where[0] ? ": " : "", what, bad, where, where[0] ? " " : "");
	return cli_fail(c, &e, e.code);
}

static int unknown_command(struct cli *c, const char *word)
{
	const char *names[sizeof(commands) / sizeof(commands[0])];

	for (size_t i = 0; i < cmdtab_n && i < sizeof(names) / sizeof(names[0]); i++)
		names[i] = cmdtab[i].name;
	return usage_error(c, "", "command", word, cmdtab_nearest(word, names, cmdtab_n), "");
}

static int cmd_help(struct cli *c, int argc, char **argv)
{
	const struct cmd_doc *d;

	if (argc < 2) {
		cmdtab_usage(stdout);
		return EXIT_OK;
	}
	d = cmdtab_find(argv[1]);
	if (!d)
		return unknown_command(c, argv[1]);
	cmdtab_help(stdout, d);
	return EXIT_OK;
}

/* A global flag's effect; 1 when the program should stop with EXIT_OK (help shown),
 * negative for a bad value. */
static int apply_global(struct cli *c, int val, const char *arg, enum log_format *lf)
{
	switch (val) {
	case 'r':
		c->repo_url = arg;
		break;
	case 'p':
		c->password_file = arg;
		break;
	case 'j':
		c->json = true;
		break;
	case 'q':
		c->quiet = true;
		break;
	case 'v':
		c->verbose++;
		break;
	case 'o':
		if (c->n_options == CLI_MAX_OPTS)
			return -E2BIG;
		c->options[c->n_options++] = arg;
		break;
	case 'L':
		*lf = strcmp(arg, "json") == 0 ? LOG_JSON : LOG_TEXT;
		break;
	case 'h':
		cmdtab_usage(stdout);
		return 1;
	}
	return 0;
}

/* Every name a flag of cmd may be spelt with, for suggestions. */
static size_t flag_names(const struct cmd_doc *d, const char **v, size_t max)
{
	size_t n = 0;

	for (const struct cmd_flag *f = d->flags; f->name && n < max; f++)
		v[n++] = f->name;
	for (const struct cmd_flag *f = cmdtab_global; f->name && n < max; f++)
		v[n++] = f->name;
	return n;
}

/* Check argv (argv[0] the command) against the table before the command parses it:
 * --help/-h show help (returns 1), unknown flags and missing values are usage errors
 * (returns the exit code, negated), global flags given after the command are applied
 * and taken out. *argc shrinks accordingly. */
static int check_args(struct cli *c, const struct cmd_doc *d, int *argc, char **argv,
                      enum log_format *lf)
{
	int w = 1, i;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i], *eq, *arg = NULL;
		const struct cmd_flag *f, *g = NULL;
		size_t len;
		bool amb, amb2;

		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cmdtab_help(stdout, d);
			return 1;
		}
		if (a[0] != '-' || !a[1]) {
			argv[w++] = argv[i];
			continue;
		}
		if (a[1] == '-') {
			eq = strchr(a + 2, '=');
			len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			f = cmdtab_flag(d->flags, a + 2, len, &amb);
			if (!f && !amb)
				g = cmdtab_flag(cmdtab_global, a + 2, len, &amb2);
			if (!f && !g) {
				const char *names[2 * CMDTAB_MAX_FLAGS];
				char word[128];

				snprintf(word, sizeof(word), "%.*s", (int)len, a + 2);
				return -usage_error(
				    c, d->name, "flag", a,
				    cmdtab_nearest(word, names,
				                   flag_names(d, names, 2 * CMDTAB_MAX_FLAGS)),
				    "--");
			}
			arg = eq ? eq + 1 : NULL;
		} else {
			/* Short flags: a cluster like -xv, or -tDIR. Only a lone global short
			 * flag is moved; the command's getopt parses the rest. */
			f = cmdtab_short(d->flags, a[1]);
			if (!f)
				g = cmdtab_short(cmdtab_global, a[1]);
			if (!f && !g) {
				char word[3] = { '-', a[1], 0 };

				return -usage_error(c, d->name, "flag", word, NULL, "");
			}
			arg = a[2] && (f ? f : g)->arg ? a + 2 : NULL;
			for (size_t k = 2; !(f ? f : g)->arg && a[k]; k++) {
				const struct cmd_flag *h = cmdtab_short(d->flags, a[k]);

				if (!h) {
					char word[3] = { '-', a[k], 0 };

					return -usage_error(c, d->name, "flag", word, NULL, "");
				}
				/* -xe GLOB: the last flag of the cluster takes the next word. */
				if (h->arg && !a[k + 1] && i + 1 < *argc) {
					argv[w++] = argv[i++];
					break;
				}
				if (h->arg)
					break;
			}
		}
		if ((f ? f : g)->arg && !arg) {
			if (i + 1 >= *argc) {
				struct err e = ERR_INIT;

				err_set(&e, -EINVAL, "%s: %s needs a value (%s)", d->name, a,
				        (f ? f : g)->arg);
				return -cli_fail(c, &e, e.code);
			}
			arg = argv[i + 1];
			if (f)
				argv[w++] = argv[i++];
			else
				i++;
		}
		if (f) {
			argv[w++] = argv[i];
			continue;
		}
		if (apply_global(c, g->val, arg, lf) == 1)
			return 1;
	}
	while (i < *argc)
		argv[w++] = argv[i++];
	argv[w] = NULL;
	*argc = w;
	return 0;
}

int cli_getopt(struct cli *c, int argc, char **argv)
{
	const struct cmd_doc *d = cmdtab_find(argv[0]);

	if (!d)
		return -1;
	if (c->opts_for != d) {
		/* forget runs prune: the tables follow the command being parsed. */
		cmdtab_getopt(d, c->longopts, c->shortopts, sizeof(c->shortopts));
		c->opts_for = d;
	}
	opterr = 0;
	return getopt_long(argc, argv, c->shortopts, c->longopts, NULL);
}

/* getopt refused a global flag: unknown (with the nearest name) or missing its value. */
static int global_error(struct cli *c, const char *word)
{
	const char *names[16];
	char bad[128], shortw[3] = { '-', (char)optopt, 0 };
	struct err e = ERR_INIT;
	size_t n = 0;

	for (const struct cmd_flag *f = cmdtab_global; f->name && n < 16; f++) {
		names[n++] = f->name;
		if (optopt && f->val == optopt) {
			err_set(&e, -EINVAL, "%s needs a value (%s)", word, f->arg);
			return cli_fail(c, &e, e.code);
		}
	}
	if (optopt || strncmp(word, "--", 2))
		return usage_error(c, "", "flag", optopt ? shortw : word, NULL, "");
	snprintf(bad, sizeof(bad), "%.*s", (int)strcspn(word + 2, "="), word + 2);
	return usage_error(c, "", "flag", word, cmdtab_nearest(bad, names, n), "--");
}

static int parse_globals(struct cli *c, int argc, char **argv, enum log_format *lf)
{
	struct option opts[16];
	char shorts[32];
	int ch, r;

	/* "+" first: stop at the command; its flags are its own. */
	shorts[0] = '+';
	cmdtab_getopt(&(struct cmd_doc){ .flags = cmdtab_global }, opts, shorts + 1,
	              sizeof(shorts) - 1);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (ch == '?')
			return global_error(c, argv[optind - 1]);
		r = apply_global(c, ch, optarg, lf);
		if (r == 1)
			return EXIT_OK;
		if (r < 0) {
			fprintf(stderr, "cairn: too many --option flags\n");
			return EXIT_USAGE;
		}
	}
	return -1;
}

/* The walkers hold one descriptor per folder level (openat from the parent keeps every
 * open race-free), and a pod may nest folders thousands deep. Container runtimes often
 * start us with a soft limit of 1024 under a far higher hard one: at the soft limit the
 * rest of the volume would be skipped and the other jobs of the agent starve. Our own
 * code polls; libmicrohttpd's select(2) refuses descriptors past FD_SETSIZE by itself. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the old limit still works */
}

int main(int argc, char **argv)
{
	struct cli c = { .argv0 = argv[0] };
	enum log_format lf = LOG_TEXT;
	const struct cmd_doc *d;
	int rc, sub_argc;
	char **sub_argv;

	/* The stores reachable by URL; repo/ itself knows only local folders. */
	if (s3_register() < 0)
		return 1;
	/* A fixed mmap threshold stops glibc from raising it after the first freed chunk
	 * buffer, so megabyte buffers go back to the kernel when freed: RSS falls after a
	 * backup instead of staying at its peak. Few arenas: the workers are few. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 4);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (sodium_init() < 0) {
		fprintf(stderr, "cairn: libsodium failed to initialise\n");
		return EXIT_FAILURE_;
	}
	rc = parse_globals(&c, argc, argv, &lf);
	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		struct err e = ERR_INIT;

		/* Under --json a caller parses stderr: one JSON error line, not the usage. */
		if (c.json)
			return cli_fail(
			    &c, &e, err_set(&e, -EINVAL, "no command given (see cairn --help)"));
		cmdtab_usage(stderr);
		return EXIT_USAGE;
	}
	sub_argc = argc - optind;
	sub_argv = argv + optind;
	d = cmdtab_find(sub_argv[0]);
	if (!d)
		return unknown_command(&c, sub_argv[0]);
	rc = check_args(&c, d, &sub_argc, sub_argv, &lf);
	if (rc)
		return rc > 0 ? EXIT_OK : -rc;
	c.bopts.kv = c.options;
	c.bopts.n = c.n_options;
	log_setup(c.verbose > 1 ? LOG_DEBUG : c.quiet ? LOG_WARN : LOG_INFO, lf);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(sub_argv[0], commands[i].name) == 0) {
			/* Reset getopt for the subcommand's own parse. */
			optind = 0;
			return commands[i].fn(&c, sub_argc, sub_argv);
		}
	}
	return unknown_command(&c, sub_argv[0]);
}
