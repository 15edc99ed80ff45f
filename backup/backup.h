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

/* One regular file streamed into a snapshot (stdin, or a command's output in a pod) with
 * no temporary file: bytes pushed through backup_stream_feed are cut by the chunker,
 * deduplicated and queued like a file's, in a buffer of the chunker's maximum plus 8 MiB.
 * The snapshot holds the file NAME at the root (path "/NAME"), mode 0644, the caller's
 * owner, mtime the end of the stream. Dedup against earlier dumps is by chunk; the parent
 * (found as for backup_run, o->paths ignored) is recorded, not used as a files cache. */
struct backup_stream;

/* Lock the repository, find the parent and start the workers. name is one path component
 * (no '/', not "." or ".."): -EINVAL otherwise. o->paths, excludes, cross_mounts and
 * skip_empty are ignored; the rest of o must outlive the stream. */
int backup_stream_begin(struct repo *r, const struct backup_opts *o, const char *name,
                        struct backup_stream **ret, struct err *e) _must_check_;
/* Append n bytes. Blocks while the workers are behind (bounded memory). After a failure
 * (a worker's, the lock's refresh, or -ECANCELED from o->cancel) every later call returns
 * the same error and end reports it again, so a kube_data_fn wrapper may pass a scratch
 * e and return the code (which stops kube_exec). One thread at a time per stream. */
int backup_stream_feed(struct backup_stream *s, const void *p, size_t n,
                       struct err *e) _must_check_;
/* Finish and free s. status is the producer's verdict: 0 when it delivered everything
 * (exit status 0), a positive exit status (128 + N for signal N), or a negative errno
 * (a read or transport error). Only status 0 after no failure writes a snapshot; any
 * other ends without one and returns -EPIPE for a positive status, the status itself
 * when negative, or the stream's own error. No snapshot rather than one tagged partial:
 * a truncated dump must never be what `restore latest` or a keep-last policy picks. The
 * whole chunks fed before a failure (not after a cancel) are still stored and indexed,
 * so a retry that delivers the same bytes uploads only what differs. */
int backup_stream_end(struct backup_stream *s, int status, struct backup_result *ret,
                      struct err *e) _must_check_;
