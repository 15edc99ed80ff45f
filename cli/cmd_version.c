/* `cairn version`. */
#include "cli/cli.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <zstd.h>

#include "util/banned.h"

int cmd_version(struct cli *c, int argc, char **argv)
{
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s, s:i}", "version", CAIRN_VERSION,
					 "libsodium", sodium_version_string(), "zstd",
					 ZSTD_versionString(), "format", REPO_VERSION));
	else
		printf("cairn %s (repository format %d, libsodium %s, zstd %s)\n", CAIRN_VERSION,
		       REPO_VERSION, sodium_version_string(), ZSTD_versionString());
	return EXIT_OK;
}
