/* Placeholder for `cairn agent`, replaced by its module's work. */
#include "cli/cli.h"

#include <errno.h>

int cmd_agent(struct cli *c, int argc, char **argv)
{
	struct err e = ERR_INIT;

	return cli_fail(c, &e, err_set(&e, -EOPNOTSUPP, "'agent' is not available in this build"));
}
