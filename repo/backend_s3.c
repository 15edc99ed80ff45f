/* Placeholder until the S3 backend lands: says so clearly instead of failing oddly. */
#include "repo/backend.h"

#include <errno.h>

int backend_s3_open(const char *spec, const struct backend_options *o, struct err *e,
		    struct backend **ret)
{
	return err_set(e, -EOPNOTSUPP, "S3 repositories are not supported by this build");
}
