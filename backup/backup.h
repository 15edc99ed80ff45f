/* Backing up file trees into a repository: walk, files cache against the parent
 * snapshot, chunk, dedup, and a parallel compress/seal/pack stage; bounded memory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "util/attr.h"
#include "util/err.h"

struct backup_progress {
	uint64_t files_done;
	uint64_t dirs_done;
	uint64_t bytes_done;  /* file bytes read or reused from the parent */
	uint64_t bytes_total; /* 0 until known (estimated from the parent or a pre-scan) */
	uint64_t bytes_added; /* stored bytes added to the repository */
	uint64_t errors;
	double elapsed;
	const char *current; /* borrowed for the duration of the callback; may be NULL */
};

/* Called from the walking thread at most every progress_ms and once at the end. */
typedef void (*backup_progress_fn)(void *ud, const struct backup_progress *p);
/* A file that could not be read, or changed while read: the backup goes on. code 0 is a
 * notice that is not counted as an error (a mount point that was not crossed). */
typedef void (*backup_warn_fn)(void *ud, const char *path, int code, const char *msg);
/* Polled often; returning true stops the backup with -ECANCELED (nothing is lost: what
 * was uploaded is indexed so a later run reuses it). */
typedef bool (*backup_cancel_fn)(void *ud);

struct backup_opts {
	const char *const *paths;
	size_t n_paths;
	const char *const *tags; /* "key=value" or plain words */
	size_t n_tags;
	const char *hostname;        /* NULL: gethostname() */
	const char *const *excludes; /* fnmatch globs against the full path or the name */
	size_t n_excludes;
	/* Parent selection: an explicit id (hex, prefix or "latest"), else the newest snapshot
	 * whose tags contain every parent_tags entry (volume identity, used by the agent), else
	 * the newest one with the same host and paths. no_parent disables the files cache. */
	const char *parent;
	const char *const *parent_tags;
	size_t n_parent_tags;
	bool no_parent;
	/* Enter directories mounted inside the tree. By default (false, so a zeroed options
	 * struct stays on one filesystem) a mount point is recorded as an empty directory
	 * with its own metadata, and reported once through warn with code 0. */
	bool cross_mounts;
	/* Deprecated and ignored: staying on one filesystem is the default (cross_mounts).
	 * Kept until cli/ stops setting it. */
	bool one_file_system;
	/* When every path is an empty directory, write no snapshot (result.empty is set):
	 * what the agent reports as "volume was empty so no snapshot was taken". */
	bool skip_empty;
	int threads; /* compress/seal workers; 0 = number of CPUs */
	unsigned progress_ms;
	backup_progress_fn progress;
	backup_warn_fn warn;
	backup_cancel_fn cancel;
	void *ud;
};

struct backup_result {
	uint8_t snapshot_id[ID_BYTES];
	bool has_parent;
	uint8_t parent_id[ID_BYTES];
	/* Every path was an empty directory. With skip_empty no snapshot was written and
	 * snapshot_id is all zero. */
	bool empty;
	struct snapshot_summary summary;
};

/* 0 on success (warnings are counted in summary.errors), -ECANCELED when cancelled,
 * -ENOENT when a path does not exist, other negative errno on failure (message in e). */
int backup_run(struct repo *r, const struct backup_opts *o, struct backup_result *ret,
               struct err *e) _must_check_;
