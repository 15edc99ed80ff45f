/* `cairn snapshots [--tag T] [--host H]`: list snapshots, oldest first. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

static bool wanted(const struct snapshot *s, const char *tag, const char *host)
{
	bool tag_ok = !tag;

	for (size_t i = 0; tag && i < s->n_tags; i++)
		if (!strcmp(s->tags[i], tag))
			tag_ok = true;
	return tag_ok && (!host || !strcmp(s->hostname, host));
}

int cmd_snapshots(struct cli *c, int argc, char **argv)
{
	const char *tag = NULL, *host = NULL;
	struct snapshot *v = NULL;
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
	rc = cli_open_repo(c, &e, &r);
	if (rc >= 0)
		rc = repo_snapshot_list(r, &v, &n, &e);
	if (rc < 0) {
		repo_free(r);
		return cli_fail(c, &e, rc);
	}
	if (c->json)
		arr = json_array();
	else
		printf("%-10s %-20s %-16s %-24s %s\n", "ID", "Time", "Host", "Tags", "Paths");
	for (size_t i = 0; i < n; i++) {
		char id[ID_HEX], t[32], tags[256] = "";
		time_t secs = (time_t)v[i].time_sec;
		struct tm tm;

		if (!wanted(&v[i], tag, host))
			continue;
		hex_encode(v[i].id, ID_BYTES, id);
		if (arr) {
			json_t *o = snapshot_to_json(&v[i]);

			json_object_set_new(o, "id", json_string(id));
			json_object_set_new(o, "short_id", json_stringn(id, 8));
			json_array_append_new(arr, o);
			continue;
		}
		localtime_r(&secs, &tm);
		strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
		for (size_t j = 0; j < v[i].n_tags; j++) {
			size_t l = strlen(tags);

			snprintf(tags + l, sizeof(tags) - l, "%s%s", j ? "," : "", v[i].tags[j]);
		}
		printf("%.8s   %-20s %-16s %-24s %s%s\n", id, t, v[i].hostname, tags,
		       v[i].n_paths ? v[i].paths[0] : "", v[i].n_paths > 1 ? " ..." : "");
	}
	if (arr)
		cli_print_json(arr);
	else
		printf("%zu snapshot%s\n", n, n == 1 ? "" : "s");
	snapshot_list_free(v, n);
	repo_free(r);
	return EXIT_OK;
}
