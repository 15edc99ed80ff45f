/* Shared by the repository unit tests: a scratch directory under /tmp, the parameters that
 * open it with the test password and those that create it with the cheapest KDF (a create
 * then costs milliseconds, not the real KDF's work). Header-only, included once per test. */
#pragma once
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "repo/repo.h"

#define RFX_PW "pw"

struct rfx {
	char dir[64]; /* /tmp/cairn-test-NAME-XXXXXX, made by rfx_init */
	struct repo_open_params o;
	struct repo_create_params cp; /* a test may change pack_size before rfx_create */
};

/* Start libsodium, make the scratch directory for the test NAME (the name is in it, so that
 * a leftover says whose it is) and fill in the parameters. 0, or -1 when libsodium or the
 * directory fails. */
static inline int rfx_init(struct rfx *f, const char *name)
{
	int n = snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-%s-XXXXXX", name);

	if (n < 0 || (size_t)n >= sizeof(f->dir) || sodium_init() < 0 || !mkdtemp(f->dir))
		return -1;
	f->o = (struct repo_open_params){ .url = f->dir, .password = RFX_PW, .password_len = 2 };
	repo_create_params_default(&f->cp);
	f->cp.kdf.opslimit = 1;
	f->cp.kdf.memlimit = 8192;
	return 0;
}

static inline int rfx_create(struct rfx *f, struct repo **ret, struct err *e)
{
	return repo_create(&f->o, &f->cp, ret, e);
}

/* Delete every index file, for a test that writes its own: system()'s status, 0 when done. */
static inline int rfx_clear_index(const struct rfx *f)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/index/*", f->dir);
	return system(cmd);
}

/* Remove the scratch directory: system()'s status, 0 when it is gone. */
static inline int rfx_cleanup(const struct rfx *f)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	return system(cmd);
}
