/* State shared between the backup/ files: the run context, the bounded job queue that
 * feeds compress/seal workers, and the owner-name cache. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "backup/backup.h"
#include "util/wq.h"

/* Queued chunk bytes per worker (at least QUEUE_BYTES_MIN): enough to keep every worker
 * busy with average (1 MiB) chunks; more only costs RSS, as each queued chunk sits in a
 * buffer of up to 2 MiB: at 8 MiB, queued and spare chunk buffers made 31 of a first
 * backup's 52 MiB of heap, and 3 MiB instead of 4 on 2 cores cut the peak RSS of the 1 GiB
 * first backup from ~37 to ~35.5 MiB (3 runs each) at the same CPU time. */
#define QUEUE_BYTES_PER_WORKER (1536u * 1024)
#define QUEUE_BYTES_MIN        (3u * 1024 * 1024)
/* Small files' blobs hit this bound before the byte bound: 256 queued blobs of the bench
 * tree's 1-16 KiB files held ~2 MiB of heap, whose fragments stay after the small files
 * are done; 64 (~0.5 MiB) lowered the mean peak RSS of the 1 GiB first backup by ~0.6 MiB
 * (6 alternating runs each) at the same CPU time, on the 20 000 small files too. */
#define QUEUE_ITEMS_MAX        64
#define NAME_CACHE_SIZE        64

/* A new blob for the workers: the walker computed its id and claimed it. Its len bytes
 * start REPO_BLOB_ROOM_BEFORE into data, the room a raw blob is sealed in. */
struct job {
	enum blob_type type;
	uint8_t id[ID_BYTES];
	uint8_t *data;
	size_t len, cap;
};

#define SPARE_BUFS  8
#define SPARE_MIN   (256u * 1024)      /* below the mmap threshold malloc is cheap */
#define SPARE_BYTES (4u * 1024 * 1024) /* kept buffers in all; a max-size chunk is not kept */

struct spare {
	uint8_t *p;
	size_t cap;
};

/* One chunk to hash in a batch. */
struct htask {
	const uint8_t *p;
	size_t n;
	uint8_t id[ID_BYTES];
	bool queued; /* handed to the helpers by hashpool_add; else hashed when waited for */
	bool done;   /* id is filled (under hashpool.lock) */
};

/* Helpers that hash a batch together with the walker (util/wq.h, items are htask *). */
struct hashpool {
	struct wq *q;
	const struct key *key;
	/* Signals each finished task, so the walker can wait for one chunk, not the batch. */
	pthread_mutex_t lock;
	pthread_cond_t done;
};

#define HASH_BATCH 16

struct owner_name {
	uint32_t id;
	bool group;
	char name[64];
};

struct bk {
	struct repo *repo;
	const struct backup_opts *o;
	struct err *e;
	/* Claimed blobs on their way to the compress/seal workers; its error latch is the
	 * first worker failure, which the walker sees at its next check. */
	struct wq *q;
	struct hashpool hp;
	/* Freed chunk buffers kept for reuse: fresh megabyte buffers cost page faults. */
	pthread_mutex_t spare_lock;
	struct spare spare[SPARE_BUFS];
	size_t n_spare, spare_bytes;
	/* Bytes of the blobs handed to the workers and not yet done, bounded like the queue
	 * (under spare_lock; room is signalled when they drop): the walker waits for room
	 * before it copies a chunk, not with a filled buffer in hand (queue.c). */
	size_t inflight, inflight_max;
	pthread_cond_t room;

	atomic_uint_fast64_t bytes_added;
	struct snapshot_summary sum;
	struct backup_progress prog;
	struct timespec start, last_progress;
	dev_t root_dev;
	uint64_t root_mnt_id; /* 0: unknown (kernel before 5.8) */
	bool nonempty;        /* some root is not an empty directory */

	/* Walker-owned read buffer of chunker max + one read. */
	uint8_t *rbuf;
	size_t rcap;
	char path[8192]; /* the walker's current path, for messages and excludes */
	bool lost; /* the repository lost packs: check reused files' blobs (walk.c) */
	size_t path_len;
	struct owner_name names[NAME_CACHE_SIZE];
	size_t n_names;
};

/* queue.c */
int bk_workers_start(struct bk *b, int n) _must_check_;
/* Wait for all queued jobs, stop the workers. Returns the first worker error (its message
 * in b->e), -ECANCELED after a cancel. */
int bk_workers_stop(struct bk *b) _must_check_;
/* Hand a claimed blob to the workers (copies data). Blocks while the queue is full, but
 * returns -ECANCELED soon after a worker failed or the caller asked to cancel. */
int bk_submit(struct bk *b, enum blob_type t, const uint8_t id[ID_BYTES], const void *p,
              size_t n) _must_check_;
/* Hash, claim and submit: the dedup step. */
int bk_save_blob(struct bk *b, enum blob_type t, const void *p, size_t n,
                 uint8_t ret_id[ID_BYTES]) _must_check_;
/* Claim and submit a blob whose id is already known. */
int bk_save_hashed(struct bk *b, enum blob_type t, const void *p, size_t n,
                   const uint8_t id[ID_BYTES]) _must_check_;
/* A worker failed or the caller cancelled; the latter also cancels the queue so queued
 * blobs are dropped instead of uploaded. */
bool bk_should_stop(struct bk *b);

/* hashpool.c */
/* helpers may be 0 (the walker hashes alone). All or nothing: no thread is left running
 * on failure. */
int hashpool_start(struct hashpool *h, const struct key *k, int helpers,
                   struct err *e) _must_check_;
/* Joins the helpers; a zeroed or stopped pool is fine. */
void hashpool_stop(struct hashpool *h);
/* Start hashing t on a helper now, so it overlaps the caller's reading and chunking; t and
 * its bytes must stay put until hashpool_wait. At most HASH_BATCH tasks between waits. */
void hashpool_add(struct hashpool *h, struct htask *t);
/* Fill t->id (added or not); returns when it is done. Runs queued tasks meanwhile. */
void hashpool_wait_one(struct hashpool *h, struct htask *t);
/* Fill tasks[i].id for every task (added or not); returns when all are done. */
void hashpool_wait(struct hashpool *h, struct htask *tasks, size_t n);
/* hashpool_add for each task, then hashpool_wait. */
void hashpool_run(struct hashpool *h, struct htask *tasks, size_t n);

/* meta.c */
/* Fill n's name and stat fields from st. -EINVAL for an unknown file type. */
int bk_node_stat(struct bk *b, const char *name, size_t name_len, const struct stat *st,
                 struct node *n) _must_check_;
/* Fill n's link target and xattrs: from parent when its inode is provably unchanged, else
 * through fd (bk_open_entry's), or by name without following for entries not opened
 * (fd -1). Warnings go to b. */
int bk_node_extra(struct bk *b, int dirfd, const char *name, int fd, const struct node *parent,
                  struct node *n) _must_check_;

/* open.c */
/* Open dirfd/name, stat'ed as st, checking it is still that inode: a regular file for
 * reading, a directory for listing, a symlink as an O_PATH descriptor (readlinkat with "").
 * FIFOs, devices and sockets are never opened (*ret_fd = -1). 0 and *ret_fd; 1 when the
 * name now leads to another inode or type (swapped under us); or -errno. */
int bk_open_entry(int dirfd, const char *name, const struct stat *st, int *ret_fd) _must_check_;

/* file.c */
/* Read, chunk and store the file open at fd (from bk_open_entry); fills n->content and
 * n->flags. -errno of an unreadable file is returned for the caller to warn about;
 * repository failures come via b->e. */
int bk_file_content(struct bk *b, int fd, const struct stat *st, struct node *n) _must_check_;

/* Tests only (tests/unit/test-walk.c): called between an entry's stat and its open, so a
 * test can swap the entry deterministically. NULL in every real run. */
extern void (*bk_test_before_open)(int dirfd, const char *name);

/* walk.c */
/* Back up the directory open at fd into tree segments listed in n->content.
 * parent: the same directory in the parent snapshot, or NULL. */
int bk_walk_dir(struct bk *b, int fd, const struct node *parent, struct node *n) _must_check_;
/* Process one entry (stat, meta, content or recursion) into out. 0 ok, 1 skipped. */
int bk_entry(struct bk *b, int dirfd, const char *name, size_t name_len, const struct node *parent,
             struct node *out) _must_check_;
void bk_warn(struct bk *b, int code, const char *fmt, ...) _printf_(3, 4);
/* After repo_index_adopt_orphans: warn once of lost packs and check reused files. */
void bk_lost_packs(struct bk *b);
void bk_progress(struct bk *b, bool force);

/* rootname.c: the root folder's name for each of n paths (see there), in a malloc'd array
 * the caller frees. */
#define BK_NAME_MAX 255 /* NAME_MAX, without <limits.h> here (meta.c has its own limits) */
int bk_root_names(char *const *paths, size_t n, char (**ret)[BK_NAME_MAX + 1],
		  struct err *e) _must_check_;

/* backup.c, shared with the stream (stdin.c) */
/* Explicit id, else newest with all parent_tags, else newest with the same host and
 * paths. 1 found (*ret filled), 0 none, or -errno. */
int bk_find_parent(struct bk *b, const char *host, char **paths, size_t n_paths,
                   struct snapshot *ret) _must_check_;
/* The root entry of snapshot p named name: 1 found (*ret filled), 0 none, or -errno. */
int bk_parent_root_node(struct bk *b, const struct snapshot *p, const char *name,
                        struct node *ret) _must_check_;
/* Time, host, user, version, tags; takes paths (o->n_paths of them) even on failure. */
int bk_snapshot_fill(struct snapshot *s, const struct backup_opts *o, const char *host,
                     char **paths) _must_check_;
