/* Owns lookups in the command table: commands and flags by name, the nearest name to a
 * typo, and the getopt_long tables each command parses with. */
#include "cli/cmdtab.h"

#include <stdint.h>
#include <string.h>

#include "util/banned.h"

const struct cmd_doc *cmdtab_find(const char *name)
{
	for (size_t i = 0; i < cmdtab_n; i++)
		if (!strcmp(cmdtab[i].name, name))
			return &cmdtab[i];
	return NULL;
}

const struct cmd_flag *cmdtab_flag(const struct cmd_flag *flags, const char *name, size_t len,
                                   bool *ambiguous)
{
	const struct cmd_flag *hit = NULL;

	*ambiguous = false;
	for (const struct cmd_flag *f = flags; f->name; f++) {
		if (strncmp(f->name, name, len))
			continue;
		if (!f->name[len])
			return f; /* exact beats any prefix */
		if (hit)
			*ambiguous = true;
		hit = f;
	}
	return *ambiguous ? NULL : hit;
}

const struct cmd_flag *cmdtab_short(const struct cmd_flag *flags, char ch)
{
	for (const struct cmd_flag *f = flags; f->name; f++)
		if (f->short_name && f->short_name == ch)
			return f;
	return NULL;
}

const char *cmdtab_env_help(const char *name)
{
	for (const struct cmd_env *v = cmdtab_env; v->name; v++)
		if (!strcmp(v->name, name))
			return v->help;
	return "";
}

const char *cmdtab_exit_help(int code)
{
	for (const struct cmd_exit *x = cmdtab_exits; x->help; x++)
		if (x->code == code)
			return x->help;
	return "";
}

/* Optimal string alignment distance (a swap of two neighbours is one edit, the most
 * common typo), capped: words longer than 63 bytes are never "near". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64][64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *cmdtab_nearest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), limit = len / 3, best = SIZE_MAX;
	const char *hit = NULL;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, cands[i]);

		/* A word that starts a candidate is its abbreviation gone wrong: near too. */
		if (d > limit && len >= 3 && !strncmp(cands[i], word, len))
			d = limit;
		if (d <= limit && d < best) {
			best = d;
			hit = cands[i];
		}
	}
	return hit;
}

void cmdtab_getopt(const struct cmd_doc *cmd, struct option *out, char *shortopts, size_t max)
{
	size_t n = 0, s = 0;

	/* Flags may follow operands (getopt permutes), as restic and kubectl allow. */
	for (const struct cmd_flag *f = cmd->flags; f->name && n < CMDTAB_MAX_FLAGS; f++) {
		out[n++] = (struct option){ f->name, f->arg ? required_argument : no_argument, NULL,
			                    f->val };
		if (f->short_name && s + 3 < max) {
			shortopts[s++] = f->short_name;
			if (f->arg)
				shortopts[s++] = ':';
		}
	}
	out[n] = (struct option){ 0 };
	shortopts[s] = 0;
}
