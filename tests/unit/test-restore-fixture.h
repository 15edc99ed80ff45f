/* Shared by the restore unit tests: a scratch repository holding one backup of a source
 * folder the test filled, and a warning recorder. Header-only, included once per test. */
#pragma once
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/backup.h"
#include "repo/repo.h"
#include "restore/restore.h"

#define FX_PW "pw"

struct fx {
	char dir[64];  /* scratch root */
	char repo[96]; /* dir/repo */
	char src[96];  /* dir/src, filled by the test before fx_backup */
};

struct fx_warns {
	size_t n, mismatched; /* warnings; those whose path argument is not in the message */
	char paths[256][128];
};

static int fx_init(struct fx *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-test-restore-XXXXXX");
	if (sodium_init() < 0 || !mkdtemp(f->dir))
		return -1;
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	return mkdir(f->src, 0755);
}

static int fx_open(struct fx *f, struct repo **ret, struct err *e)
{
	struct repo_open_params o = { .url = f->repo, .password = FX_PW, .password_len = 2 };

	return repo_open(&o, ret, e);
}

/* Open the fixture's repository, restore with o into res, close it. */
static inline int fx_restore(struct fx *f, const struct restore_opts *o,
                             struct restore_result *res, struct err *e)
{
	struct repo *r = NULL;
	int rc = fx_open(f, &r, e);

	if (rc >= 0)
		rc = restore_run(r, o, res, e);
	repo_free(r);
	return rc;
}

/* Create the repository with packs of pack_size bytes and back up f->src into it. */
static int fx_backup_packs(struct fx *f, uint32_t pack_size, struct err *e)
{
	struct repo_open_params o = { .url = f->repo, .password = FX_PW, .password_len = 2 };
	const char *paths[] = { f->src };
	struct backup_opts bo = { .paths = paths, .n_paths = 1, .threads = 2 };
	struct repo_create_params cp;
	struct backup_result br;
	struct repo *r = NULL;
	int rc;

	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	cp.pack_size = pack_size;
	rc = repo_create(&o, &cp, &r, e);
	if (rc >= 0)
		rc = backup_run(r, &bo, &br, e);
	repo_free(r);
	return rc;
}

/* The same with 1 MiB packs: many packs from little data. */
static inline int fx_backup(struct fx *f, struct err *e)
{
	return fx_backup_packs(f, 1u << 20, e);
}

static void fx_warn(void *ud, const char *path, int code, const char *msg)
{
	struct fx_warns *w = ud;

	(void)code;
	if (!path || !strstr(msg, path))
		w->mismatched++;
	if (w->n < 256)
		snprintf(w->paths[w->n], sizeof(w->paths[0]), "%s", path ? path : "");
	w->n++;
}

static void fx_cleanup(struct fx *f)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", f->dir);
}
