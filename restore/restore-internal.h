/* State shared between the restore/ files. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "restore/restore.h"

/* A file whose content is being written by the workers; the last job applies its
 * metadata and closes it. */
struct rfile {
	int fd;
	atomic_int pending;
	struct node meta; /* content freed; metadata to apply at the end */
	char *path;       /* for messages */
};

struct rjob {
	struct rfile *f;
	uint64_t off;
	uint8_t id[ID_BYTES];
	uint64_t len;
};

struct hardlinks {
	struct hl_entry {
		uint64_t dev, inode;
		char *path; /* relative to the target */
	} *v;
	size_t cap, n;
};

struct rs {
	struct repo *repo;
	const struct restore_opts *o;
	struct err *e;
	struct restore_result *res;
	int target_fd;
	bool owners;

	pthread_mutex_t lock; /* guards ring, n, head, err */
	pthread_cond_t not_full, not_empty;
	struct rjob *ring;
	size_t cap, head, n;
	bool closed;
	pthread_t *workers;
	int n_workers;
	struct err fail;
	atomic_bool failed;
	atomic_uint_fast64_t bytes, files, errors;

	struct hardlinks links;
	struct timespec start, last;
	char path[16384]; /* relative path of the entry being restored */
	size_t path_len;
};

/* pool.c */
int rs_workers_start(struct rs *s, int n) _must_check_;
int rs_workers_stop(struct rs *s) _must_check_;
int rs_submit(struct rs *s, const struct rjob *j) _must_check_;
void rs_file_done(struct rs *s, struct rfile *f);
void rs_fail(struct rs *s, int code, const char *fmt, ...) _printf_(3, 4);
void rs_warn(struct rs *s, int code, const char *fmt, ...) _printf_(3, 4);

/* meta.c */
/* Apply owner, mode, xattrs and times to an open fd (files) or dirfd/name (others). */
void rs_apply_fd(struct rs *s, int fd, const struct node *n, const char *path);
void rs_apply_at(struct rs *s, int dirfd, const char *name, const struct node *n,
		 const char *path);

/* hardlink.c */
/* Path of the first restored link of (dev, inode), or NULL after recording path. */
const char *rs_link_seen(struct hardlinks *h, const struct node *n, const char *path);
void rs_links_release(struct hardlinks *h);

/* verify.c */
int rs_verify(struct rs *s, const struct node *dir, int dirfd) _must_check_;
