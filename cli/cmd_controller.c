/* `cairn controller`: the cluster controller's flags and its log lines; the work is
 * ctl_run's (controller/controller.h). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "util/banned.h"
#include "util/log.h"

static void note(void *ud, enum ctl_note_level l, const char *msg)
{
	(void)ud;
	switch (l) {
	case CTL_NOTE_ERROR:
		log_error("%s", msg);
		break;
	case CTL_NOTE_WARN:
		log_warn("%s", msg);
		break;
	case CTL_NOTE_INFO:
		log_info("%s", msg);
		break;
	default:
		log_debug("%s", msg);
		break;
	}
}

#ifdef CAIRN_TEST_HOOKS
/* Tests move the controller's clock: CAIRN_TEST_CLOCK_FILE names a file holding Unix
 * seconds, read on every look at the clock (a missing or empty file means real time). Only
 * in builds configured with --enable-test-hooks: elsewhere a stray variable in a pod's
 * environment could expire every Backup at once. */
static time_t test_clock(void *ud)
{
	const char *path = ud;
	char buf[32] = "";
	FILE *f = fopen(path, "re");
	long long v;

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return sscanf(buf, "%lld", &v) == 1 ? (time_t)v : time(NULL);
}
#endif

int cmd_controller(struct cli *c, int argc, char **argv)
{
	struct ctl_config cfg = { .agent_selector = "name=cairn-node-agent",
		                  .metrics_address = ":8085",
		                  .resync_ms = 2000,
		                  .default_ttl_sec = CTL_DEFAULT_TTL_SEC,
		                  .backup_timeout_sec = CTL_DEFAULT_TIMEOUT_SEC,
		                  .maintenance_sec = 24 * 3600,
		                  .validation_sec = 60,
		                  .sync_sec = 60,
		                  .note = note };
#ifdef CAIRN_TEST_HOOKS
	const char *clock_file = getenv("CAIRN_TEST_CLOCK_FILE");
#endif
	char *end;
	unsigned long n;
	struct err e = ERR_INIT;
	char *pw = NULL;
	size_t pw_len = 0;
	int64_t v;
	int o, r;

	while ((o = cli_getopt(c, argc, argv)) != -1) {
		switch (o) {
		case 'N':
			cfg.ns = optarg;
			break;
		case 'k':
			cfg.kubeconfig = optarg;
			break;
		case 'm':
			cfg.metrics_address = optarg;
			break;
		case 'a':
			cfg.agent_selector = optarg;
			break;
		case 'H':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > CTL_HOOK_WORKERS_MAX)
				return cli_fail(
				    c, &e,
				    err_set(&e, -EINVAL,
				            "controller: --hook-concurrency '%s' is not "
				            "a number from 1 to %u",
				            optarg, CTL_HOOK_WORKERS_MAX));
			cfg.hook_workers = (unsigned)n;
			break;
		case 'R':
		case 'T':
		case 't':
		case 'M':
		case 'V':
		case 'S':
			if (ctl_duration_parse(optarg, &v) < 0 &&
			    !(o == 'R' && strcmp(optarg, "0") == 0)) {
				return cli_fail(
				    c, &e,
				    err_set(&e, -EINVAL,
				            "controller: bad duration '%s' (like 90s, 4h, "
				            "1h30m)",
				            optarg));
			}
			if (o == 'R') {
				/* sub-second resyncs for tests: "200ms" */
				double ms = strtod(optarg, NULL);

				cfg.resync_ms =
				    strstr(optarg, "ms") ? (unsigned)ms : (unsigned)(v * 1000);
				if (cfg.resync_ms < 50)
					cfg.resync_ms = 50;
			} else if (o == 'T') {
				cfg.default_ttl_sec = v;
			} else if (o == 't') {
				cfg.backup_timeout_sec = v > 0 ? v : CTL_DEFAULT_TIMEOUT_SEC;
			} else if (o == 'M') {
				cfg.maintenance_sec = v;
			} else if (o == 'V') {
				cfg.validation_sec = v;
			} else {
				cfg.sync_sec = v;
			}
			break;
		default:
			return cli_fail(c, &e, err_set(&e, -EINVAL, "controller: bad arguments"));
		}
	}
	if (optind != argc)
		return cli_fail(
		    c, &e,
		    err_set(&e, -EINVAL, "controller: unexpected argument '%s'", argv[optind]));
#ifdef CAIRN_TEST_HOOKS
	if (clock_file && *clock_file) {
		cfg.clock = test_clock;
		cfg.clock_ud = (void *)clock_file;
	}
#endif
	cfg.repo_url = c->repo_url ? c->repo_url : getenv("CAIRN_REPOSITORY");
	if (cfg.repo_url && !cfg.repo_url[0])
		cfg.repo_url = NULL;
	cfg.bopts = &c->bopts;
	r = cli_password(c, false, &pw, &pw_len, &e);
	if (r < 0)
		return cli_fail(c, &e, r);
	cfg.password = pw;
	cfg.password_len = pw_len;
	r = ctl_run(&cfg, &e);
	cli_password_free(pw, pw_len);
	if (r < 0)
		return cli_fail(c, &e, r);
	return EXIT_OK;
}
