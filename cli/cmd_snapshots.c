/* `cairn snapshots [--tag T] [--host H]`: snapshots oldest first, as an aligned table with
 * human sizes, or one JSON array with --json. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/output.h"
#include "cli/progress.h"
#include "util/banned.h"

static bool wanted(const struct snapshot *s, const char *tag, const char *host)
{
	bool tag_ok = !tag;

	for (size_t i = 0; tag && i < s->n_tags; i++)
		if (!strcmp(s->tags[i], tag))
			tag_ok = true;
	return tag_ok && (!host || !strcmp(s->hostname, host));
}

/* One table row, every field already escaped (host names, tags and paths come from the
 * repository and may hold any byte). */
struct row {
	char id[9], time[32], host[256], size[32], tags[512];
};

enum { COL_ID, COL_TIME, COL_HOST, COL_SIZE, COL_TAGS, COL_MAX };

static void fill_row(const struct snapshot *s, struct row *r)
{
	char id[ID_HEX], tags[256] = "";
	time_t secs = (time_t)s->time_sec;
	struct tm tm;

	hex_encode(s->id, ID_BYTES, id);
	snprintf(r->id, sizeof(r->id), "%.8s", id);
	localtime_r(&secs, &tm);
	strftime(r->time, sizeof(r->time), "%Y-%m-%d %H:%M:%S", &tm);
	cli_esc(s->hostname ? s->hostname : "", r->host, sizeof(r->host));
	cli_human_bytes(s->summary.total_bytes, r->size, sizeof(r->size));
	for (size_t j = 0; j < s->n_tags; j++) {
		size_t l = strlen(tags);

		snprintf(tags + l, sizeof(tags) - l, "%s%s", j ? "," : "", s->tags[j]);
	}
	cli_esc(tags, r->tags, sizeof(r->tags));
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void cell(const char *s, size_t w)
{
	size_t n = width(s);

	fputs(s, stdout);
	printf("%*s", (int)(w - n + 2), "");
}

static void table(const struct snapshot *v, const bool *shown, size_t n, struct row *rows)
{
	static const char *const head[COL_MAX] = { "ID", "Time", "Host", "Size", "Tags" };
	size_t w[COL_MAX], count = 0, total = 0;
	char esc[CLI_ESC_MAX], sum[32];

	for (size_t k = 0; k < COL_MAX; k++)
		w[k] = strlen(head[k]);
	for (size_t i = 0; i < n; i++) {
		const char *f[COL_MAX] = { rows[i].id, rows[i].time, rows[i].host, rows[i].size,
			                   rows[i].tags };

		if (!shown[i])
			continue;
		for (size_t k = 0; k < COL_MAX; k++)
			if (width(f[k]) > w[k])
				w[k] = width(f[k]);
	}
	for (size_t k = 0; k < COL_MAX; k++)
		cell(head[k], w[k]);
	printf("Paths\n");
	for (size_t i = 0; i < n; i++) {
		const char *f[COL_MAX] = { rows[i].id, rows[i].time, rows[i].host, rows[i].size,
			                   rows[i].tags };

		if (!shown[i])
			continue;
		count++;
		total += v[i].summary.total_bytes;
		for (size_t k = 0; k < COL_MAX; k++) {
			/* Sizes line up on the right, like numbers do. */
			if (k == COL_SIZE)
				printf("%*s", (int)(w[k] - width(f[k])), "");
			cell(f[k], k == COL_SIZE ? width(f[k]) : w[k]);
		}
		/* More paths go on lines of their own under the first, as restic does. */
		for (size_t j = 0; j < v[i].n_paths || j == 0; j++) {
			size_t pad = 0;

			if (j) {
				for (size_t k = 0; k < COL_MAX; k++)
					pad += w[k] + 2;
				printf("%*s", (int)pad, "");
			}
			printf("%s\n",
			       j < v[i].n_paths ? cli_esc(v[i].paths[j], esc, sizeof(esc)) : "");
		}
	}
	cli_human_bytes(total, sum, sizeof(sum));
	printf("%zu snapshot%s, %s\n", count, count == 1 ? "" : "s", sum);
}

int cmd_snapshots(struct cli *c, int argc, char **argv)
{
	const char *tag = NULL, *host = NULL;
	struct snapshot *v = NULL;
	struct row *rows = NULL;
	bool *shown = NULL;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	json_t *arr = NULL;
	size_t n = 0;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch == 't')
			tag = optarg;
		else if (ch == 'H')
			host = optarg;
		else
			return EXIT_USAGE;
	}
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0)
		rc = repo_snapshot_list(r, &v, &n, &e);
	if (rc >= 0 && !c->json) {
		rows = calloc(n ? n : 1, sizeof(*rows));
		shown = calloc(n ? n : 1, sizeof(*shown));
		if (!rows || !shown)
			rc = err_set(&e, -ENOMEM, "out of memory");
	}
	if (rc < 0)
		goto out;
	if (c->json)
		arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char id[ID_HEX];
		json_t *o;

		if (!wanted(&v[i], tag, host))
			continue;
		if (!arr) {
			fill_row(&v[i], &rows[i]);
			shown[i] = true;
			continue;
		}
		hex_encode(v[i].id, ID_BYTES, id);
		o = snapshot_to_json(&v[i]);

		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "short_id", json_stringn(id, 8));
		json_array_append_new(arr, o);
	}
	if (arr)
		cli_print_json(arr);
	else
		table(v, shown, n, rows);
out:
	free(rows);
	free(shown);
	snapshot_list_free(v, n);
	repo_free(r);
	return rc < 0 ? cli_fail(c, &e, rc) : EXIT_OK;
}
