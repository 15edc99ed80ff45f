/* Owns the text of `cairn --help` and `cairn COMMAND --help`, rendered from the command
 * table. The man pages (docgen.c) carry the same words in the same order: a test checks. */
#include "cli/cmdtab.h"

#include <string.h>

#include "util/banned.h"

#define WIDTH 80
#define COL   28 /* where a flag's help starts when the flag fits before it */

/* Print text word by word from column at, wrapping to indent; ends the line. */
static void wrap(FILE *f, const char *text, size_t at, size_t indent)
{
	size_t col = at;
	bool first = true;

	while (*text) {
		size_t n = strcspn(text, " ");

		if (!first && col + 1 + n > WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		first = false;
		fwrite(text, 1, n, f);
		col += n;
		text += n;
		while (*text == ' ')
			text++;
	}
	fputc('\n', f);
}

static void flag_line(FILE *f, const struct cmd_flag *fl)
{
	char head[96], help[512];
	int n;

	n = snprintf(head, sizeof(head), "  %c%c%s--%s%s%s", fl->short_name ? '-' : ' ',
	             fl->short_name ? fl->short_name : ' ', fl->short_name ? ", " : "  ", fl->name,
	             fl->arg ? " " : "", fl->arg ? fl->arg : "");
	snprintf(help, sizeof(help), "%s%s%s%s%s", fl->help, fl->repeat ? " (repeatable)" : "",
	         fl->def ? " (default: " : "", fl->def ? fl->def : "", fl->def ? ")" : "");
	fputs(head, f);
	if (n < 0 || (size_t)n + 2 > COL) {
		fprintf(f, "\n%*s", COL, "");
		wrap(f, help, COL, COL);
	} else {
		fprintf(f, "%*s", COL - n, "");
		wrap(f, help, COL, COL);
	}
}

static void env_and_exits(FILE *f, const char *const *env, const int *exits)
{
	if (env && env[0]) {
		fputs("\nEnvironment:\n", f);
		for (size_t i = 0; env[i]; i++) {
			int n = fprintf(f, "  %s", env[i]);

			if (n + 2 > COL)
				fprintf(f, "\n%*s", COL, "");
			else
				fprintf(f, "%*s", COL - n, "");
			wrap(f, cmdtab_env_help(env[i]), COL, COL);
		}
	}
	fputs("\nExit codes:\n", f);
	for (size_t i = 0; exits[i] >= 0; i++) {
		fprintf(f, "  %-6d", exits[i]);
		wrap(f, cmdtab_exit_help(exits[i]), 8, 8);
	}
}

void cmdtab_help(FILE *f, const struct cmd_doc *cmd)
{
	fprintf(f, "cairn %s - %s\n\nUsage:\n  cairn [global flags] %s%s%s\n\n", cmd->name,
	        cmd->summary, cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis);
	wrap(f, cmd->description, 0, 0);
	if (cmd->flags[0].name) {
		fputs("\nFlags:\n", f);
		for (const struct cmd_flag *fl = cmd->flags; fl->name; fl++)
			flag_line(f, fl);
	}
	fputs("\nGlobal flags (-r, --password-file, --json, --quiet, -v, -o): see cairn --help.\n",
	      f);
	if (cmd->examples[0].what) {
		fputs("\nExamples:\n", f);
		for (const struct cmd_example *x = cmd->examples; x->what; x++)
			fprintf(f, "  %s:\n    $ %s\n", x->what, x->line);
	}
	env_and_exits(f, cmd->env, cmd->exits);
}

void cmdtab_usage(FILE *f)
{
	static const char *const env[] = { "CAIRN_REPOSITORY", "CAIRN_PASSWORD_FILE",
		                           "CAIRN_PASSWORD", NULL };
	static const int exits[] = { 0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 130, -1 };

	fputs("cairn - back up Kubernetes pod volumes and folders into an encrypted, "
	      "deduplicated repository\n\nUsage:\n  cairn [global flags] COMMAND [flags] "
	      "[ARGS]\n\nCommands:\n",
	      f);
	for (size_t i = 0; i < cmdtab_n; i++)
		fprintf(f, "  %-14s%s\n", cmdtab[i].name, cmdtab[i].summary);
	fputs("\nGlobal flags:\n", f);
	for (const struct cmd_flag *fl = cmdtab_global; fl->name; fl++)
		flag_line(f, fl);
	fputs("\nThe password is never taken from the command line. Run cairn help COMMAND for "
	      "a command's flags, examples and exit codes.\n",
	      f);
	env_and_exits(f, env, exits);
}
