/* `cairn stats [--mode restore-size|raw-data] [ID...]`: what a restore would write, or
 * the unique stored data the snapshots need. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "maint/maint.h"
#include "util/banned.h"

static int load(struct repo *r, int argc, char **argv, struct snapshot **ret, size_t *ret_n,
		struct err *e)
{
	struct snapshot *v;
	int rc = 0, n = 0;

	if (!argc)
		return repo_snapshot_list(r, ret, ret_n, e);
	v = calloc((size_t)argc, sizeof(*v));
	if (!v)
		return err_set(e, -ENOMEM, "out of memory");
	for (; n < argc && rc >= 0; n++)
		rc = repo_snapshot_load(r, argv[n], &v[n], e);
	if (rc < 0) {
		snapshot_list_free(v, (size_t)n);
		return rc;
	}
	*ret = v;
	*ret_n = (size_t)n;
	return 0;
}

int cmd_stats(struct cli *c, int argc, char **argv)
{
	enum repo_stats_mode m = REPO_STATS_RESTORE_SIZE;
	struct repo_stats st = { 0 };
	struct snapshot *v = NULL;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	size_t n = 0;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch != 'm')
			return EXIT_USAGE;
		if (!strcmp(optarg, "restore-size"))
			m = REPO_STATS_RESTORE_SIZE;
		else if (!strcmp(optarg, "raw-data"))
			m = REPO_STATS_RAW_DATA;
		else
			return cli_fail(c, &e, err_set(&e, -EINVAL,
						       "bad --mode '%s' (restore-size or raw-data)",
						       optarg));
	}
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0)
		rc = load(r, argc - optind, argv + optind, &v, &n, &e);
	if (rc >= 0)
		rc = repo_stats_compute(r, m, v, n, &st, &e);
	snapshot_list_free(v, n);
	repo_free(r);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (c->json) {
		cli_print_json(json_pack(
		    "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "mode",
		    m == REPO_STATS_RAW_DATA ? "raw-data" : "restore-size", "snapshots",
		    cli_json_count(st.snapshots), "total_file_count", cli_json_count(st.files),
		    "dirs", cli_json_count(st.dirs), "total_size",
		    cli_json_count(m == REPO_STATS_RAW_DATA ? st.raw_bytes : st.bytes),
		    "total_blob_count", cli_json_count(st.blobs), "stored_size",
		    cli_json_count(st.stored_bytes), "packs", cli_json_count(st.packs),
		    "pack_bytes", cli_json_count(st.pack_bytes)));
		return EXIT_OK;
	}
	printf("stats in %s mode over %llu snapshots\n",
	       m == REPO_STATS_RAW_DATA ? "raw-data" : "restore-size",
	       (unsigned long long)st.snapshots);
	if (m == REPO_STATS_RAW_DATA)
		printf("  blobs: %llu, raw size: %.1f MiB, stored: %.1f MiB\n",
		       (unsigned long long)st.blobs, (double)st.raw_bytes / 1048576.0,
		       (double)st.stored_bytes / 1048576.0);
	else
		printf("  files: %llu, folders: %llu, total size: %.1f MiB\n",
		       (unsigned long long)st.files, (unsigned long long)st.dirs,
		       (double)st.bytes / 1048576.0);
	printf("  repository: %llu packs, %.1f MiB\n", (unsigned long long)st.packs,
	       (double)st.pack_bytes / 1048576.0);
	return EXIT_OK;
}
