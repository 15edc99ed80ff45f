/* Owns argument dispatch: global options, then one subcommand per cmd_<name>.c. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "s3/s3.h"
#include "util/log.h"

#include "util/banned.h"

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "init", cmd_init, "create a repository" },
	{ "backup", cmd_backup, "back up files and folders" },
	{ "restore", cmd_restore, "restore a snapshot into a folder" },
	{ "snapshots", cmd_snapshots, "list snapshots" },
	{ "ls", cmd_ls, "list files in a snapshot" },
	{ "cat", cmd_cat, "print a repository object as JSON" },
	{ "check", cmd_check, "verify the repository" },
	{ "mount", cmd_mount, "browse snapshots through FUSE" },
	{ "forget", cmd_forget, "remove snapshots by policy" },
	{ "prune", cmd_prune, "remove unreferenced data" },
	{ "unlock", cmd_unlock, "remove stale locks" },
	{ "key", cmd_key, "manage passwords" },
	{ "stats", cmd_stats, "repository statistics" },
	{ "diff", cmd_diff, "compare two snapshots" },
	{ "repair", cmd_repair, "rebuild index or snapshots" },
	{ "agent", cmd_agent, "run the Kubernetes node agent" },
	{ "version", cmd_version, "print the version" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: cairn [-r REPO] [--password-file F] [--json] [-o key=value] COMMAND "
		   "[ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nThe password comes from --password-file, CAIRN_PASSWORD_FILE or "
		   "CAIRN_PASSWORD (never from the command line).\nExit codes: see docs/cli.md.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "option", required_argument, NULL, 'o' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli c = { .argv0 = argv[0] };
	enum log_format lf = LOG_TEXT;
	int ch;

	/* The stores reachable by URL; repo/ itself knows only local folders. */
	if (s3_register() < 0)
		return 1;

	/* --json and --quiet are accepted after the subcommand too (restic users expect it):
	 * take them out before the subcommand parses its own flags. */
	{
		int w = 1;

		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--")) {
				while (i < argc)
					argv[w++] = argv[i++];
				break;
			}
			if (!strcmp(argv[i], "--json"))
				c.json = true;
			else if (!strcmp(argv[i], "--quiet"))
				c.quiet = true;
			else
				argv[w++] = argv[i];
		}
		argv[w] = NULL;
		argc = w;
	}
	/* A fixed mmap threshold stops glibc from raising it after the first freed chunk
	 * buffer, so megabyte buffers go back to the kernel when freed: RSS falls after a
	 * backup instead of staying at its peak. Few arenas: the workers are few. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 4);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0) {
		fprintf(stderr, "cairn: libsodium failed to initialise\n");
		return EXIT_FAILURE_;
	}
	while ((ch = getopt_long(argc, argv, "+r:p:jqvo:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			c.repo_url = optarg;
			break;
		case 'p':
			c.password_file = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'q':
			c.quiet = true;
			break;
		case 'v':
			c.verbose++;
			break;
		case 'o':
			if (c.n_options == CLI_MAX_OPTS) {
				fprintf(stderr, "cairn: too many --option flags\n");
				return EXIT_USAGE;
			}
			c.options[c.n_options++] = optarg;
			break;
		case 'L':
			lf = strcmp(optarg, "json") == 0 ? LOG_JSON : LOG_TEXT;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	c.bopts.kv = c.options;
	c.bopts.n = c.n_options;
	log_setup(c.verbose > 1 ? LOG_DEBUG : c.quiet ? LOG_WARN : LOG_INFO, lf);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			/* Reset getopt for the subcommand's own parse. */
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0;
			return commands[i].fn(&c, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "cairn: unknown command '%s' (see cairn --help)\n", argv[optind]);
	return EXIT_USAGE;
}
