/* Placeholder for `cairn mount`, replaced by its module's work. */
#include "cli/cli.h"

#include <errno.h>

int cmd_mount(struct cli *c, int argc, char **argv)
{
	struct err e = ERR_INIT;

	return cli_fail(c, &e, err_set(&e, -EOPNOTSUPP, "'mount' is not available in this build"));
}
