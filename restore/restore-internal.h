/* State shared between the restore/ files. */
#pragma once
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "restore/restore.h"
#include "util/wq.h"

/* A folder that files are being finished in. The walker holds one reference while it is
 * inside, each unfinished file one more: the last to let go applies the folder's metadata,
 * so a late rename cannot move its mtime and a read-only mode cannot block the rename. */
struct rdir {
	int fd;
	atomic_int refs;
	struct node meta;       /* type NODE_DIR when metadata is to be applied, content freed */
	char *path;             /* for messages */
	struct rdir *next_dead; /* on rs.dead_dirs once put for the last time */
};

/* A file whose content is being written by the workers under a temporary name; the last
 * job applies its metadata and renames it into place, or removes it when a blob failed. */
struct rfile {
	int fd;
	atomic_int pending;
	atomic_bool bad;         /* some content is missing: the file must not appear */
	struct err why;          /* the first reason, guarded by the rs lock */
	struct rdir *dir;        /* a reference, dropped when the file is finished */
	struct rfile *next_dead; /* on rs.dead once finished (restore/reap.c) */
	struct node meta;        /* content freed; metadata to apply at the end */
	char *path;              /* relative to the target, for messages (the worker's own copy) */
	char tmp[NAME_MAX + 1];
};

/* One blob wanted at one place of one file (restore/fetch.c). */
struct rneed {
	struct blob_loc loc;
	uint8_t id[ID_BYTES];
	struct rfile *f; /* holds one pending reference until the blob is written or failed */
	uint64_t off, len;
};

/* The needs of a group of files, planned together: sorted by pack and offset, cut into
 * runs of adjacent blobs, one ranged read each. Freed when its last run is done. */
struct rbatch {
	struct rneed *v;
	size_t n, cap, files;
	uint64_t bytes;
	atomic_size_t refs;
	struct rbatch *next_dead; /* on rs.dead_batches once its last run is done */
};

/* A folder's entries, read through the walker's tree-pack cache (restore/trees.c). */
struct rs_tree_iter {
	struct rs *s;
	const struct extent *segs;
	size_t n_segs, seg;
	struct buf blob;
	struct tree_rd rd;
	bool open;
};

/* The names restored at the snapshot root so far (restore/rootnames.c). */
#define RS_ROOT_MAX_NAMES (1u << 20) /* a backup's root holds one entry per path it was given */
struct rs_roots {
	struct rs_root_slot {
		uint64_t lo, hi; /* a seeded 128-bit digest of the name; 0, 0: free */
	} * v;
	size_t cap, n;
	uint64_t seed;
	bool seeded;
};

struct hardlinks {
	struct hl_entry {
		uint64_t dev, inode;
		uint64_t size, content; /* what the first name holds (a fingerprint) */
		char *path;             /* relative to the target */
	} * v;
	size_t cap, n;
};

struct rs {
	struct repo *repo;
	const struct restore_opts *o;
	struct err *e;
	struct restore_result *res;
	int target_fd;
	bool owners;

	pthread_mutex_t lock;      /* guards fail, live and every rfile's why */
	pthread_mutex_t warn_lock; /* one o->warn call at a time, from whichever thread */
	pthread_cond_t idle;       /* live went down */
	struct rtrees *trees;      /* NULL: each tree blob is read on its own */
	struct wq *q;              /* runs of blobs, fetched and written by the workers */
	struct rbatch *batch;      /* being filled by the walker */
	size_t live;               /* files not yet finished: each holds an fd */
	/* Finished files and folders, freed by the walker that allocated them (reap.c). */
	_Atomic(struct rfile *) dead;
	_Atomic(struct rdir *) dead_dirs;
	_Atomic(struct rbatch *) dead_batches;
	size_t max_live;    /* from RLIMIT_NOFILE: a file and its folder hold one fd each */
	struct err fail;    /* the first fatal error */
	atomic_bool failed; /* stop: a fatal error or a cancel; workers skip what is left */
	atomic_uint_fast64_t bytes, files, dirs, errors, runs;
	/* !keep_privileges: setid bits and xattrs left off; whether each kind was noted. */
	atomic_uint_fast64_t dropped;
	atomic_bool noted_setid, noted_xattr;
	/* Files the restore stopped in the middle of (after a fatal error or a cancel): named
	 * in the restore's own error, as many as fit in stopped (", "-separated), the rest
	 * counted in stopped_more; both guarded by lock. */
	char stopped[640];
	size_t stopped_len;
	uint64_t stopped_more;
	/* The sizes of files that were not restored (guarded by lock): the summary's bytes
	 * are those of the files restored, not of every file begun. */
	uint64_t bytes_lost;
	atomic_uint seq;   /* temporary names for files whose own name is too long */
	char temp_tag[17]; /* in every temporary name, random per restore (rs_temp_name) */
	/* Run buffers between runs (restore/fetch.c), guarded by lock: at most one per
	 * worker, each handed to the run it fits best. */
	struct buf *run_bufs;
	size_t n_run_bufs;
	uint64_t run_cap; /* a run's span: RUN_CAP, or RUN_CAP_LOCAL from a local folder */

	struct hardlinks links;
	struct rs_roots roots;
	struct timespec start, last;
	char path[16384]; /* relative path of the entry being restored (walker thread only) */
	size_t path_len;
};

/* fetch.c */
/* Start the workers that fetch runs of blobs (one ranged read each) and write them. */
int rs_fetch_start(struct rs *s, int workers) _must_check_;
/* Wait until one more file may be opened (the fd budget), sending the batch on first
 * when it holds unfinished files. Polls cancel. */
void rs_room(struct rs *s);
/* Want the data blob x at offset off of f: takes a pending reference on f that the worker
 * writing it drops. A blob the index lacks makes f bad. -ENOMEM only. */
int rs_need(struct rs *s, struct rfile *f, uint64_t off, const struct extent *x) _must_check_;
/* Plan the batch and queue its runs (or, when stopping, fail its files at once). */
void rs_flush(struct rs *s);
/* Flush, let the workers finish everything queued, join them; the first fatal error. */
int rs_fetch_stop(struct rs *s) _must_check_;

/* trees.c */
struct rtrees *rs_trees_new(void);
void rs_trees_free(struct rtrees *t);
/* dir must outlive the iterator; errors go to s->e. */
void rs_tree_iter_init(struct rs_tree_iter *it, struct rs *s, const struct node *dir);
/* 1 with *ret filled (caller releases), 0 at the end, or a negative errno. */
int rs_tree_iter_next(struct rs_tree_iter *it, struct node *ret) _must_check_;
void rs_tree_iter_release(struct rs_tree_iter *it);

/* file.c */
/* Wait on cond with the lock held for at most a poll interval, polling cancel. */
void rs_wait_polling(struct rs *s, pthread_cond_t *cond);
/* Wait until no file is unfinished (a hardlink to one that is). */
void rs_drain(struct rs *s);
bool rs_stopping(struct rs *s);
void rs_file_done(struct rs *s, struct rfile *f);
void rs_file_bad(struct rs *s, struct rfile *f, int code, const char *fmt, ...) _printf_(4, 5);
/* Latch the first fatal error; the restore stops unless keep_going. */
void rs_fail(struct rs *s, int code, const char *fmt, ...) _printf_(3, 4);
/* A warning about path (relative to the target; never the walker's live buffer from a
 * worker). Counted as an error. */
void rs_warn(struct rs *s, const char *path, int code, const char *fmt, ...) _printf_(4, 5);
/* A notice (code 0): said once, not counted as a failed file. */
void rs_note(struct rs *s, const char *path, const char *fmt, ...) _printf_(3, 4);
/* The permission bits to give n: without keep_privileges, a non-folder's setuid and
 * setgid bits are left off (counted, the first noted under path; path NULL: only
 * computed, as the comparisons of skip_identical need). */
mode_t rs_mode(struct rs *s, const struct node *n, const char *path);
/* Names a folder may hold twice or out of order before the rest of it is left out
 * (restore.c, and space.c's walk alike). A backup writes none; a forged folder that
 * repeats one tree segment thousands of times made one warning per entry (2*10^8 lines,
 * hours of walking) before this bound. */
#define RS_REFUSED_MAX 16
/* restore_run's free-space check (restore/space.c): 0 when the restore fits (or could not
 * be measured), -ENOSPC with s->e set when it needs more than is free; *ret is written
 * either way. */
int rs_space_check(struct rs *s, const struct snapshot *snap, const struct node *start,
                   struct restore_space *ret) _must_check_;

/* reap.c */
/* Hand a finished file or folder (fd closed, metadata applied) to the walker to free:
 * any thread. */
void rs_file_bury(struct rs *s, struct rfile *f);
void rs_dir_bury(struct rs *s, struct rdir *d);
void rs_batch_bury(struct rs *s, struct rbatch *b);
/* Free what was handed back: the walker only, or any thread once the workers stopped. */
void rs_reap(struct rs *s);

/* dir.c */
struct rdir *rs_dir_new(struct rs *s, int fd, const struct node *meta, const char *path);
void rs_dir_put(struct rs *s, struct rdir *d);

/* name.c */
/* A name a tree may hold: not empty, not "." or "..", no '/' and no NUL inside. */
bool rs_name_ok(const struct node *n);
/* Whether n may follow the last entry kept in a folder (prev): it sorts strictly after. */
bool rs_name_after(const char *prev, size_t prev_len, const struct node *n);
/* Whether dir is the snapshot root, whose entries keep the order of the backed-up paths. */
bool rs_is_root(const struct node *dir);
/* The name with control bytes, '\' and non-ASCII escaped as \xNN, for messages. */
void rs_name_show(const char *p, size_t n, char *out, size_t max);
/* Open path (relative, validated components) beneath dirfd without following any symlink
 * or magic link: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 * or a component-by-component O_NOFOLLOW walk where openat2 is missing. fd or -errno. */
int rs_open_beneath(int dirfd, const char *path, int flags);
/* ".name.TAG.cairn-partial" for attempt 0, else (or when too long)
 * ".cairn-partial.TAG.N": created with O_EXCL, so a name that exists moves on to the next.
 * TAG is random per restore: a sibling in the snapshot named like a temporary name (a
 * leftover, or forged) would otherwise be renamed over one in flight, or cleared by a
 * special file's restore, and its content land under the other's name. */
void rs_temp_init(struct rs *s);
void rs_temp_name(struct rs *s, const struct node *n, int attempt, char out[NAME_MAX + 1]);

/* meta.c */
/* Apply owner, mode, xattrs and times to an open regular file or folder. */
void rs_apply_fd(struct rs *s, int fd, const struct node *n, const char *path);
/* The same for the special file or symlink just made at dirfd/name, through an O_PATH fd
 * after checking that name is still what was made (not a swapped-in symlink). */
void rs_apply_at(struct rs *s, int dirfd, const char *name, const struct node *n, const char *path);

/* hardlink.c */
/* Path of the first restored link of (dev, inode), or NULL after recording path. Also
 * NULL, with *ret_differs set, when the first name of (dev, inode) holds other content: a
 * forged snapshot may claim one inode for two different files, and linking the second
 * name would make it look restored with the first one's bytes. */
const char *rs_link_seen(struct hardlinks *h, const struct node *n, const char *path,
                         bool *ret_differs);
/* Link dirfd/name to first (a path from rs_link_seen), resolved beneath the target. */
int rs_link_make(struct rs *s, const char *first, int dirfd, const char *name) _must_check_;
void rs_links_release(struct hardlinks *h);

/* rootnames.c */
/* 1 when name is new at the snapshot root (now remembered), 0 when an earlier entry of the
 * root had it; -EFBIG past RS_ROOT_MAX_NAMES names, -ENOMEM. */
int rs_roots_add(struct rs_roots *r, const char *name, size_t len) _must_check_;
void rs_roots_release(struct rs_roots *r);

/* verify.c */
int rs_verify(struct rs *s, const struct node *dir, int dirfd) _must_check_;

/* same.c (skip_identical) */
/* 1 when dirfd/name is a regular file with n's size, mtime, mode (and owners when they are
 * restored) whose every extent hashes to the snapshot's blob id; 0 otherwise. */
int rs_same_file(struct rs *s, int dirfd, const struct node *n) _must_check_;
/* 1 when dirfd/name is a symlink to n's target with n's mtime. */
int rs_same_symlink(int dirfd, const struct node *n) _must_check_;
/* hardlink.c: 1 when dirfd/name is already a link of first (same inode). */
int rs_link_same(struct rs *s, const char *first, int dirfd, const char *name) _must_check_;

/* partials.c: remove what a killed restore left under temporary names (clear_partials). */
void rs_clear_partials(struct rs *s, const struct snapshot *snap);
