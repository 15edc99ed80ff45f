/* `cairn init`: create a repository (chunker and pack sizes and the format version settable
 * only here). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "util/log.h"

#include "util/banned.h"

static int parse_size(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int cmd_init(struct cli *c, int argc, char **argv)
{
	struct repo_create_params p;
	struct repo_open_params o = { .url = c->repo_url, .options = &c->bopts };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	char *pw = NULL, where[CLI_ESC_MAX];
	size_t n = 0;
	int ch, rc;

	repo_create_params_default(&p);
	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		uint32_t v = 0;

		if (ch == '?' || parse_size(optarg, &v) < 0)
			return cli_fail(c, &e, err_set(&e, -EINVAL, "init: bad argument"));
		if (ch == 'm')
			p.chunker.min = v;
		else if (ch == 'a')
			p.chunker.avg = v;
		else if (ch == 'M')
			p.chunker.max = v;
		else if (ch == 'P')
			p.pack_size = v;
		else if (ch == 'z')
			p.zstd_level = (int)v;
		else if (ch == 'K')
			p.kdf.memlimit = (uint64_t)v << 20;
		else if (ch == 'I')
			p.kdf.opslimit = v;
		else if (ch == 'F')
			p.format_version = v > 99 ? 0 : (int)v; /* repo_create names the range */
	}
	if (!o.url)
		o.url = getenv("CAIRN_REPOSITORY");
	if (!o.url)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "no repository given: use -r"));
	rc = cli_password(c, true, &pw, &n, &e);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	o.password = pw;
	o.password_len = n;
	rc = repo_create(&o, &p, &r, &e);
	cli_password_free(pw, n);
	if (rc >= 0 && repo_backend(r)->caution[0])
		log_warn("%s", repo_backend(r)->caution);
	if (rc == -EEXIST)
		return cli_fail(c, &e, rc);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	cli_esc(o.url, where, sizeof(where));
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "message_type", "initialized", "id",
					 repo_id_hex(r), "repository", where));
	else
		printf("created cairn repository %.10s at %s\n", repo_id_hex(r), where);
	repo_free(r);
	return EXIT_OK;
}
