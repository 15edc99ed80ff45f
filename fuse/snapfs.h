/* Read-only libfuse3 view of a repository's snapshots (`cairn mount`).
 * The mount lays snapshots out as snapshots/<time>/, ids/<short-id>/, tags/<tag>/<time>/,
 * hosts/<host>/<time>/ and volumes/<namespace>/<pvc or pod-volume>/<time>/ (docs/mount.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Declared before repo.h, which names it in a prototype ahead of its definition. */
struct snapshot;
#include "repo/repo.h"
#include "util/attr.h"
#include "util/err.h"

#define SNAPFS_CACHE_DEFAULT   (256u * 1024 * 1024)
#define SNAPFS_REFRESH_DEFAULT 5

/* Called from FUSE worker threads, one call at a time, when something goes wrong that the
 * kernel only sees as an errno (a corrupt blob, a failed refresh): the caller prints it. */
typedef void (*snapfs_report_fn)(void *ud, const struct err *e);

struct snapfs_options {
	const char *mountpoint;
	size_t cache_bytes;      /* blob cache budget shared by all readers */
	unsigned refresh_sec;    /* minimum seconds between two snapshot list reloads */
	unsigned threads;        /* maximum FUSE worker threads (0: libfuse's default) */
	bool allow_other;        /* let other users see the mount (needs user_allow_other) */
	bool debug;              /* libfuse request tracing on stderr */
	snapfs_report_fn report; /* may be NULL */
	void *report_ud;
};

void snapfs_options_default(struct snapfs_options *o);

/* Mount the repository at o->mountpoint and serve requests until SIGINT, SIGTERM or SIGHUP
 * arrives or someone runs `fusermount3 -u`; then unmount. Runs in the foreground.
 * r is borrowed and must stay open until this returns; the mount takes no repository lock
 * (it only reads immutable objects).
 * -ENOTCONN: the mountpoint is a stale FUSE mount (the message says how to clear it);
 * -ENOENT/-ENOTDIR: no such directory; other errors from the repository or libfuse. */
int snapfs_mount(struct repo *r, const struct snapfs_options *o, struct err *e) _must_check_;
