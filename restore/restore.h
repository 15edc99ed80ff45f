/* Restoring a snapshot (or a subtree) into a folder: content with holes kept as holes,
 * then metadata (owners, modes, xattrs/ACLs, times) in an order that cannot be undone
 * by later writes. Blobs are fetched in runs: one ranged read per run of adjacent blobs of
 * a pack (at most 20 MiB, a default pack whole, also across batches of files), several
 * packs in parallel; memory is bounded by the runs in flight and a batch plan of at most
 * 64 Ki blobs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "util/attr.h"
#include "util/err.h"

struct restore_progress {
	uint64_t files_done, dirs_done, bytes_done, bytes_total, errors;
	double elapsed;
};

typedef void (*restore_progress_fn)(void *ud, const struct restore_progress *p);
/* Called from the restore workers, one call at a time. */
typedef void (*restore_warn_fn)(void *ud, const char *path, int code, const char *msg);
/* Polled between entries and between blobs, from the calling thread and from the restore
 * workers: it must be thread-safe and cheap (read an atomic flag). true stops the restore
 * within one range read per worker; restore_run then returns -ECANCELED. */
typedef bool (*restore_cancel_fn)(void *ud);

/* The free-space check made before anything is written (restore/space.c). needed counts
 * the data bytes of the files to write (holes left out unless no_sparse, a hard-linked
 * inode once, an extent no more than its blob in the index holds) plus 4 KiB per entry
 * (inode, directory entry, last partial block), less the blocks of the single-link files
 * at the target that the restore replaces (but the largest: it coexists with its new copy
 * while in flight). When the snapshot summary's upper bound (apparent sizes plus 4 KiB per
 * file and folder) already fits, no tree is walked and needed is that bound. free is
 * f_bavail * f_frsize of the target's filesystem (its nearest existing parent's). */
struct restore_space {
	bool checked;      /* false: no_space_check, or a tree could not be read (the restore
	                    * names it) */
	bool from_summary; /* needed is the summary's bound, not a walk of the trees */
	uint64_t needed, free;
	uint64_t replaced; /* bytes of files at the target counted as freed */
};

struct restore_opts {
	const char *snapshot; /* id, unique prefix or "latest" */
	/* Path inside the snapshot ("/data/sub"); its contents go straight into target.
	 * NULL or "/" restores every top-level entry as target/<name>. */
	const char *subdir;
	const char *target;
	const char *const *includes; /* fnmatch globs on the snapshot path; any must match */
	size_t n_includes;
	const char *const *excludes;
	size_t n_excludes;
	bool verify; /* re-read every restored file and compare with the repository */
	/* A file whose content cannot be fetched or written is never left behind (it is
	 * removed and named through warn). By default the first such file stops the restore
	 * and restore_run returns its error; keep_going restores everything else and
	 * returns 0 with result.errors counting what was named. */
	bool keep_going;
	/* Overwrite only what changed: a file already in the target with the recorded size,
	 * mtime, mode (and owners when restored) and content (each extent's blob id computed
	 * from the target file) is left as it is, not even its metadata re-applied; so are
	 * symlinks with the same target and hard links that already share the inode. */
	bool skip_identical;
	/* Write the snapshot's holes as zeros, so the file owns all its blocks (storage that
	 * must be allocated up front). false, the default, keeps holes as holes. */
	bool no_sparse;
	/* After the walk, remove the temporary files an earlier, killed restore into this
	 * target left (names the snapshot does not hold there). */
	bool clear_partials;
	/* Restore what grants privileges as the snapshot holds it: character and block
	 * devices, the setuid and setgid bits of anything but a folder, and xattrs outside
	 * user.* and system.posix_acl_* (security.capability, security.selinux, trusted.*).
	 * false, the default: every node can write the repository, and a forged snapshot must
	 * not plant the host's disk, a setuid-root program or a file capability in a restore.
	 * Each device is then named in a warning (counted in errors); the bits and xattrs are
	 * left off, the first of each kind named in a note and all counted in
	 * result.privileges_dropped. A folder's setgid bit only passes its group on (volumes
	 * with an fsGroup carry it) and is always restored. */
	bool keep_privileges;
	/* Skip the free-space check: by default a restore that needs more than the target's
	 * filesystem has free fails with -ENOSPC before it creates anything. */
	bool no_space_check;
	/* Optional: the check's figures, written when it ran, also when it refused. */
	struct restore_space *space;
	int owners;  /* 1 restore uid/gid, 0 not, -1 only when running as root */
	int threads; /* 0 = number of CPUs */
	unsigned progress_ms;
	restore_progress_fn progress;
	restore_warn_fn warn;
	restore_cancel_fn cancel;
	void *ud;
};

struct restore_result {
	uint64_t files, dirs, others, bytes, errors, verified_files;
	uint64_t skipped; /* skip_identical: files (counted in files too) left as they were */
	uint64_t partials_removed; /* clear_partials: leftovers removed */
	uint64_t privileges_dropped; /* !keep_privileges: setid bits and xattrs left off */
	/* Ranged pack reads of file content, one per run of adjacent blobs (a GET on S3);
	 * a run's stored bytes and its plaintext are both capped (restore/fetch.c). */
	uint64_t runs;
};

/* -ENOSPC (nothing written, not even the target folder) when the free-space check
 * refuses; see struct restore_space. */
int restore_run(struct repo *r, const struct restore_opts *o, struct restore_result *ret,
                struct err *e) _must_check_;

