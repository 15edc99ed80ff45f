/* `cairn forget [--keep-* N] [--keep-within D] [--keep-tag T] [--group-by G] [--dry-run]
 * [--prune] [ID...]`: apply a retention policy per group (or forget the given ids). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/output.h"
#include "maint/maint.h"
#include "util/banned.h"

#define MAX_KEEP_TAGS 32

struct forget_args {
	struct repo_forget_policy pol;
	const char *tags[MAX_KEEP_TAGS];
	unsigned by;
	bool dry_run, prune;
	double max_unused;
};

static int parse_count(const char *s, int *ret)
{
	char *end;
	long v;

	if (!strcmp(s, "unlimited")) {
		*ret = -1;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < -1 || v > 1000000)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

static int parse_args(struct cli *c, struct forget_args *a, int argc, char **argv,
		      struct err *e)
{
	int ch, *count;

	a->by = REPO_GROUP_HOST | REPO_GROUP_PATHS | REPO_GROUP_TAGS;
	a->max_unused = 5;
	a->pol.tags = a->tags;
	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		count = ch == 'l' ? &a->pol.last : ch == 'H' ? &a->pol.hourly
			: ch == 'd' ? &a->pol.daily : ch == 'w' ? &a->pol.weekly
			: ch == 'm' ? &a->pol.monthly : ch == 'y' ? &a->pol.yearly : NULL;
		if (count) {
			if (parse_count(optarg, count) < 0)
				return err_set(e, -EINVAL, "bad count '%s' (N, -1 or unlimited)",
					       optarg);
		} else if (ch == 'W') {
			if (repo_duration_parse(optarg, &a->pol.within) < 0)
				return err_set(e, -EINVAL, "bad duration '%s' (like 2d, 3w, 1y6m, 12h)",
					       optarg);
			a->pol.has_within = true;
		} else if (ch == 't') {
			if (a->pol.n_tags == MAX_KEEP_TAGS)
				return err_set(e, -EINVAL, "too many --keep-tag");
			a->tags[a->pol.n_tags++] = optarg;
		} else if (ch == 'g') {
			if (repo_group_by_parse(optarg, &a->by) < 0)
				return err_set(e, -EINVAL,
					       "bad --group-by '%s' (host,paths,tags or volume)", optarg);
		} else if (ch == 'n') {
			a->dry_run = true;
		} else if (ch == 'p') {
			a->prune = true;
		} else if (ch == 'u') {
			char *end;

			a->max_unused = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%")) || a->max_unused < 0 ||
			    a->max_unused > 100)
				return err_set(e, -EINVAL, "bad --max-unused '%s' (a percentage)",
					       optarg);
		} else {
			return err_set(e, -EINVAL, "unknown option (see docs/maintenance.md)");
		}
	}
	return 0;
}

static json_t *reasons_json(uint32_t why)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < _REPO_KEEP_MAX; i++)
		if (why & (1u << i))
			json_array_append_new(a, json_string(repo_keep_reason_name(1u << i)));
	return a;
}

static void show(const struct cli *c, const struct snapshot *v, size_t n, const uint32_t *why,
		 const size_t *group, unsigned by, bool dry_run)
{
	json_t *groups = c->json ? json_array() : NULL;
	size_t n_groups = 0, kept = 0, removed = 0;

	for (size_t i = 0; i < n; i++)
		if (group[i] + 1 > n_groups)
			n_groups = group[i] + 1;
	for (size_t g = 0; g < n_groups; g++) {
		json_t *keep = json_array(), *rm = json_array();
		/* The group names hosts, paths and tags: escaped like every name shown. */
		char *key = NULL, esc[CLI_ESC_MAX] = "";

		for (size_t i = n; i-- > 0;) {
			char id[ID_HEX], t[32];
			time_t secs = (time_t)v[i].time_sec;
			struct tm tm;

			if (group[i] != g)
				continue;
			if (!key && repo_forget_group_key(&v[i], by, &key) < 0)
				key = NULL;
			if (key && !esc[0])
				cli_esc(key, esc, sizeof(esc));
			hex_encode(v[i].id, ID_BYTES, id);
			localtime_r(&secs, &tm);
			strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
			json_array_append_new(why[i] ? keep : rm,
					      json_pack("{s:s, s:s, s:o}", "id", id, "time", t,
							"reasons", reasons_json(why[i])));
			if (why[i])
				kept++;
			else
				removed++;
		}
		if (groups) {
			json_array_append_new(groups, json_pack("{s:s, s:o, s:o}", "group", esc,
								"keep", keep, "remove", rm));
		} else {
			size_t k;
			json_t *o;

			printf("group %s: keep %zu, remove %zu\n", esc,
			       json_array_size(keep), json_array_size(rm));
			json_array_foreach(keep, k, o) {
				json_t *r;
				size_t j;

				printf("  keep   %.8s  %s ", json_string_value(json_object_get(o, "id")),
				       json_string_value(json_object_get(o, "time")));
				json_array_foreach(json_object_get(o, "reasons"), j, r)
					printf("%s%s", j ? "," : "", json_string_value(r));
				printf("\n");
			}
			json_array_foreach(rm, k, o)
				printf("  remove %.8s  %s\n",
				       json_string_value(json_object_get(o, "id")),
				       json_string_value(json_object_get(o, "time")));
			json_decref(keep);
			json_decref(rm);
		}
		free(key);
	}
	if (groups)
		cli_print_json(json_pack("{s:s, s:b, s:I, s:I, s:o}", "message_type", "forget",
					 "dry_run", dry_run, "kept", (json_int_t)kept, "removed",
					 (json_int_t)removed, "groups", groups));
	else
		printf("%s%zu snapshot%s removed, %zu kept\n", dry_run ? "would be: " : "", removed,
		       removed == 1 ? "" : "s", kept);
}

/* Explicit ids: mark exactly those for removal. */
static int pick_ids(struct snapshot *v, size_t n, char **ids, int n_ids, uint32_t *why,
		    struct err *e)
{
	for (size_t i = 0; i < n; i++)
		why[i] = REPO_KEEP_LAST;
	for (int k = 0; k < n_ids; k++) {
		size_t l = strlen(ids[k]), hit = SIZE_MAX;

		for (size_t i = 0; i < n; i++) {
			char id[ID_HEX];

			hex_encode(v[i].id, ID_BYTES, id);
			if (l < 4 || strncmp(id, ids[k], l))
				continue;
			if (hit != SIZE_MAX)
				return err_set(e, -EINVAL, "snapshot id '%s' is ambiguous", ids[k]);
			hit = i;
		}
		if (hit == SIZE_MAX)
			return err_set(e, -ENOENT, "no snapshot with id %s", ids[k]);
		why[hit] = 0;
	}
	return 0;
}

int cmd_forget(struct cli *c, int argc, char **argv)
{
	struct forget_args a = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct repo_lock *l = NULL;
	struct snapshot *v = NULL;
	uint32_t *why = NULL;
	size_t n = 0, *group = NULL;
	int rc;

	rc = parse_args(c, &a, argc, argv, &e);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (optind == argc && repo_forget_policy_empty(&a.pol))
		return cli_fail(c, &e, err_set(&e, -EINVAL, "no policy given: nothing would be "
							 "removed (see --keep-*)"));
	rc = cli_open_repo(c, &r, &e);
	/* Forget only deletes snapshot objects, but it shares prune's lock so that the two
	 * never interleave. */
	if (rc >= 0 && !a.dry_run)
		rc = repo_lock(r, REPO_LOCK_EXCLUSIVE, &l, &e);
	if (rc >= 0)
		rc = repo_snapshot_list(r, &v, &n, &e);
	if (rc < 0)
		goto fail;
	why = calloc(n ? n : 1, sizeof(*why));
	group = calloc(n ? n : 1, sizeof(*group));
	if (!why || !group) {
		rc = err_set(&e, -ENOMEM, "out of memory");
		goto fail;
	}
	if (optind < argc)
		rc = pick_ids(v, n, argv + optind, argc - optind, why, &e);
	else
		rc = repo_forget_plan(v, n, &a.pol, a.by, why, group);
	if (rc < 0)
		goto fail;
	show(c, v, n, why, group, optind < argc ? 0 : a.by, a.dry_run);
	for (size_t i = 0; !a.dry_run && i < n; i++)
		if (!why[i]) {
			rc = repo_snapshot_delete(r, v[i].id, &e);
			if (rc < 0)
				goto fail;
		}
fail:
	free(why);
	free(group);
	snapshot_list_free(v, n);
	repo_unlock(l);
	repo_free(r);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (a.prune) {
		/* Prune takes its own exclusive lock, as `cairn prune` would. */
		char pct[32], *pargv[5] = { "prune", "--max-unused", pct, NULL, NULL };

		snprintf(pct, sizeof(pct), "%g", a.max_unused);
		if (a.dry_run)
			pargv[3] = "--dry-run";
		optind = 0;
		return cmd_prune(c, a.dry_run ? 4 : 3, pargv);
	}
	return EXIT_OK;
}
