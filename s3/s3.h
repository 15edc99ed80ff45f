/* The S3 object store: "s3:" repository URLs (docs/s3.md) behind repo/backend.h. It sees
 * sealed bytes and object names only, never packs, trees or keys. */
#pragma once
#include "repo/backend.h"
#include "util/attr.h"

/* The "s3:" scheme, for backend_register(). */
extern const struct backend_scheme s3_scheme;

/* Open the store named by spec (the URL after "s3:"). Errors: -EINVAL bad location or
 * option, -EACCES no credentials, -ENOMEM. */
int s3_open(const char *spec, const struct backend_options *o, struct backend **ret,
            struct err *e) _must_check_;

/* Register s3_scheme (idempotent); call once at start-up. */
int s3_register(void) _must_check_;
