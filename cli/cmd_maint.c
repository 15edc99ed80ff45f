/* Placeholders for the maintenance commands, replaced by their own cmd_<name>.c files. */
#include "cli/cli.h"

#include <errno.h>

#define STUB(name)                                                                            \
	int cmd_##name(struct cli *c, int argc, char **argv)                                  \
	{                                                                                     \
		struct err e = ERR_INIT;                                                      \
		return cli_fail(c, &e,                                                        \
				err_set(&e, -EOPNOTSUPP, "'%s' is not available in this build", \
					#name));                                              \
	}
STUB(stats)
STUB(diff)
STUB(repair)
