/* The scratch repository behind the pack-header, index and snapshot fuzz targets. */
#include "tests/fuzz/scratch-repo.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct repo *repo;
static char dir[4096];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	repo_free(repo);
	repo = NULL;
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct repo *fuzz_repo(void)
{
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct repo_create_params cp;
	struct err e = ERR_INIT;
	const char *tmp = getenv("TMPDIR");

	if (repo)
		return repo;
	if (sodium_init() < 0)
		return NULL;
	snprintf(dir, sizeof(dir), "%s/cairn-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		dir[0] = 0;
		return NULL;
	}
	atexit(cleanup);
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	o.url = dir;
	if (repo_create(&o, &cp, &repo, &e) < 0) {
		fprintf(stderr, "fuzz: scratch repository: %s\n", e.msg);
		repo = NULL;
	}
	return repo;
}
