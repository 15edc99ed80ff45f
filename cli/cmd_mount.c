/* `cairn mount MOUNTPOINT`: serve the repository's snapshots read-only through FUSE, in the
 * foreground, until Ctrl-C, SIGTERM or `fusermount3 -u MOUNTPOINT` (docs/mount.md). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "cli/output.h"
#include "fuse/snapfs.h"
#include "util/banned.h"
#include "util/log.h"

#define USAGE                                                                   \
	"usage: cairn mount [--allow-other] [--cache-mib N] [--refresh-sec N] " \
	"[--threads N] [--foreground] [--debug-fuse] MOUNTPOINT"

static void report(void *ud, const struct err *e)
{
	char msg[sizeof(e->msg) * 4];

	(void)ud;
	/* Messages name paths inside snapshots: escaped before they reach the log. */
	log_warn("mount: %s", cli_esc(e->msg, msg, sizeof(msg)));
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse(struct cli *c, int argc, char **argv, struct snapfs_options *o, struct err *e)
{
	unsigned long long v;
	int opt;

	while ((opt = cli_getopt(c, argc, argv)) != -1) {
		switch (opt) {
		case 'a':
			o->allow_other = true;
			break;
		case 'c':
			/* At least 16 MiB: one maximal chunk per busy reader must fit. */
			if (parse_uint(optarg, 1ull << 20, &v) < 0 || v < 16)
				return err_set(e, -EINVAL, "--cache-mib wants 16..1048576");
			o->cache_bytes = (size_t)(v << 20);
			break;
		case 'R':
			if (parse_uint(optarg, 86400, &v) < 0)
				return err_set(e, -EINVAL, "--refresh-sec wants 0..86400");
			o->refresh_sec = (unsigned)v;
			break;
		case 't':
			if (parse_uint(optarg, 256, &v) < 0 || v < 1)
				return err_set(e, -EINVAL, "--threads wants 1..256");
			o->threads = (unsigned)v;
			break;
		case 'f':
			/* The mount always runs in the foreground; kept for fusermount habits. */
			break;
		case 'd':
			o->debug = true;
			break;
		default:
			return err_set(e, -EINVAL, USAGE);
		}
	}
	if (optind + 1 != argc)
		return err_set(e, -EINVAL, USAGE);
	o->mountpoint = argv[optind];
	return 0;
}

int cmd_mount(struct cli *c, int argc, char **argv)
{
	struct snapfs_options o;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	char where[CLI_ESC_MAX];
	struct repo_lock *l = NULL;
	int rc;

	snapfs_options_default(&o);
	o.report = report;
	rc = parse(c, argc, argv, &o, &e);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	rc = cli_open_repo(c, &r, &e);
	if (rc >= 0) /* shared, for as long as the mount serves: prune waits */
		rc = repo_lock_reader(r, &l, &e);
	if (rc < 0)
		goto out;
	cli_esc(o.mountpoint, where, sizeof(where));
	log_info("serving snapshots at %s; stop with Ctrl-C or `fusermount3 -u %s`", where, where);
	rc = snapfs_mount(r, &o, &e);
	if (rc >= 0)
		log_info("unmounted %s", where);
out:
	repo_unlock(l);
	repo_free(r);
	return rc < 0 ? cli_fail(c, &e, rc) : EXIT_OK;
}
