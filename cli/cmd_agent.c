/* `cairn agent`: the node agent's flags; the work is agent_run's (agent/agent.h). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "util/banned.h"
#include "util/log.h"

static const char usage[] =
    "usage: cairn [-r REPO] agent --node NAME [--host-pods DIR | --kubelet-root DIR]\n"
    "       [--namespace NS] [--concurrency N] [--metrics-address [HOST]:PORT]\n"
    "       [--uploader-types cairn[,kopia]] [--kubeconfig FILE] [--progress-interval SEC]\n"
    "       [--threads N]\n";

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cmd_agent(struct cli *c, int argc, char **argv)
{
	struct agent_config cfg = { .node = getenv("NODE_NAME"),
		                    .host_pods = "/host_pods",
		                    .uploader_types = "cairn",
		                    .metrics_address = ":8085",
		                    .concurrency = 1,
		                    .progress_sec = 5 };
	const char *kubelet_root = NULL, *host_pods = NULL;
	char pods[4096], *pw = NULL;
	struct err e = ERR_INIT;
	unsigned long v;
	size_t pw_len = 0;
	int o, r;

	optind = 1;
	while ((o = cli_getopt(c, argc, argv)) != -1) {
		switch (o) {
		case 'n':
			cfg.node = optarg;
			break;
		case 'K':
			kubelet_root = optarg;
			break;
		case 'H':
			host_pods = optarg;
			break;
		case 'N':
			cfg.ns = optarg;
			break;
		case 'm':
			cfg.metrics_address = optarg;
			break;
		case 'u':
			cfg.uploader_types = optarg;
			break;
		case 'k':
			cfg.kubeconfig = optarg;
			break;
		case 'c':
		case 'p':
		case 't':
			if (parse_uint(optarg, o == 't' ? 256 : 3600, &v) < 0 ||
			    (o != 't' && v == 0)) {
				fprintf(stderr, "cairn agent: bad number '%s'\n%s", optarg, usage);
				return EXIT_USAGE;
			}
			if (o == 'c')
				cfg.concurrency = (int)v;
			else if (o == 'p')
				cfg.progress_sec = (unsigned)v;
			else
				cfg.threads = (int)v;
			break;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !cfg.node || !cfg.node[0]) {
		fprintf(stderr, "cairn agent: %s\n%s",
		        optind != argc ? "unexpected argument"
		                       : "no node name: give --node or set NODE_NAME",
		        usage);
		return EXIT_USAGE;
	}
	/* The DaemonSet mounts <kubelet-root>/pods at /host_pods; without that mount, the
	 * pods folder is read in place. */
	if (host_pods) {
		cfg.host_pods = host_pods;
	} else if (kubelet_root) {
		if ((size_t)snprintf(pods, sizeof(pods), "%s/pods", kubelet_root) >= sizeof(pods))
			return cli_fail(c, &e,
			                err_set(&e, -ENAMETOOLONG, "--kubelet-root too long"));
		cfg.host_pods = pods;
	}
	cfg.repo_url = c->repo_url ? c->repo_url : getenv("CAIRN_REPOSITORY");
	if (cfg.repo_url && !cfg.repo_url[0])
		cfg.repo_url = NULL;
	cfg.bopts = &c->bopts;
	r = cli_password(c, false, &pw, &pw_len, &e);
	if (r < 0)
		return cli_fail(c, &e, r);
	cfg.password = pw;
	cfg.password_len = pw_len;
	r = agent_run(&cfg, &e);
	cli_password_free(pw, pw_len);
	if (r < 0)
		return cli_fail(c, &e, r);
	return EXIT_OK;
}
