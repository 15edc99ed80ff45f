/* Storage backend interface: a flat key-value store of immutable named objects.
 * Implementations: backend_local.c (a directory) here, s3/ (S3 over libcurl) above.
 * Every operation is thread-safe and reports failures through the caller's err. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/attr.h"
#include "util/buf.h"
#include "util/err.h"

enum obj_type {
	OBJ_CONFIG,   /* "config" (name ignored) */
	OBJ_KEY,      /* keys/<name> */
	OBJ_DATA,     /* data/<name[0..1]>/<name>: packs */
	OBJ_INDEX,    /* index/<name> */
	OBJ_SNAPSHOT, /* snapshots/<name> */
	OBJ_LOCK,     /* locks/<name> */
	_OBJ_TYPE_MAX,
	_OBJ_TYPE_INVALID = -22,
};

/* Name of the folder of a type ("data", "keys", ...); "" for OBJ_CONFIG. */
const char *obj_type_dir(enum obj_type t);

/* Called once per object; a negative return stops the listing and is returned. */
typedef int (*backend_list_fn)(void *ud, const char *name, uint64_t size);
/* Told (when not NULL) as a ranged read's bytes arrive: out holds, from where it stood when the read
 * began, the bytes of the range come so far (fewer than at the last call when a retry
 * starts over). Called on the reading thread; it may use out's bytes, never change out. */
typedef void (*backend_watch_fn)(void *ud, const struct buf *out);
/* An entry set aside by list_aside: its name and where it went (relative to the store). */
typedef int (*backend_aside_fn)(void *ud, const char *name, const char *where);

struct backend;

struct backend_ops {
	const char *scheme;
	/* Create the layout (folders / bucket). -EEXIST if a config object is already there. */
	int (*create)(struct backend *be, struct err *e);
	/* Store an object atomically: readers see all of it or nothing, never a partial object
	 * (temp+fsync+rename locally; one PUT or a completed multipart upload on S3). Replaces
	 * an existing object of the same name. */
	int (*put)(struct backend *be, enum obj_type t, const char *name, const void *p, size_t n,
		   struct err *e);
	/* Same, from the first n bytes of fd (read with pread; the fd's offset is untouched). */
	int (*put_fd)(struct backend *be, enum obj_type t, const char *name, int fd, uint64_t n,
		      struct err *e);
	/* An anonymous read-write temp file for spooling an object before put_fd (the local
	 * backend makes it on the repository's own filesystem so put_fd can link it in). */
	int (*tmpfile)(struct backend *be, int *ret_fd, struct err *e);
	/* Append bytes [off, off+n) of the object to out; n == 0 means to the end.
	 * -ENOENT missing; -EBADMSG when the object is shorter than asked; -EFBIG past out->max. */
	int (*get)(struct backend *be, enum obj_type t, const char *name, uint64_t off, uint64_t n,
		   struct buf *out, struct err *e);
	/* -ENOENT when missing. */
	int (*stat)(struct backend *be, enum obj_type t, const char *name, uint64_t *ret_size,
		    struct err *e);
	/* Deleting a missing object succeeds. */
	int (*del)(struct backend *be, enum obj_type t, const char *name, struct err *e);
	/* n objects of one type at once (S3: one DeleteObjects per 1000). 0 only when every
	 * one is gone; on failure some may be gone, none is reported gone that is not. */
	int (*del_many)(struct backend *be, enum obj_type t, const char *const *names, size_t n,
			struct err *e);
	/* Every object of a type, in no particular order; names without folder or shard. */
	int (*list)(struct backend *be, enum obj_type t, backend_list_fn fn, void *ud,
		    struct err *e);
	void (*free)(struct backend *be);
	/* Optional (NULL: the store cannot tell): when the object was stored, in seconds since
	 * the epoch. Prune keeps unindexed packs younger than the lock stale age by it. */
	int (*mtime)(struct backend *be, enum obj_type t, const char *name, int64_t *ret_sec,
		     struct err *e);
	/* Optional (NULL: the store has no conditional create): store an object only if none
	 * of that name exists, atomically; -EEXIST otherwise. Init creates the config with it,
	 * so of two concurrent inits exactly one wins. */
	int (*put_new)(struct backend *be, enum obj_type t, const char *name, const void *p,
		       size_t n, struct err *e);
	/* Optional (NULL: the store writes objects whole): remove the temp files of writers
	 * killed before their rename, those last modified before `before` (seconds since the
	 * epoch). Best effort; returns how many were removed. Prune calls it. */
	ssize_t (*sweep_tmp)(struct backend *be, int64_t before);
	/* Optional (NULL: the store's listing never stops at a stranger, as S3's skips keys
	 * below a folder): list as `list` does, but an entry that carries an object's name and
	 * is no object (a folder or a device where an index file should be, at which `list`
	 * fails) is moved out of the type's folder to aside/<folder>/<name> (or <name>.N when
	 * that is taken), never deleted, and given to aside(); with dry_run it stays where it
	 * is and `where` is "". For `repair index`, the one command that must get past it. */
	int (*list_aside)(struct backend *be, enum obj_type t, bool dry_run, backend_list_fn fn,
			  backend_aside_fn aside, void *ud, struct err *e);
	/* Optional (NULL: `get`, then one call of watch): `get`, calling watch as the bytes
	 * arrive, so a caller can work on the head of a long range while its tail is still on
	 * the wire (a restore opens a run's first blobs while S3 sends the rest). */
	int (*get_watch)(struct backend *be, enum obj_type t, const char *name, uint64_t off,
			 uint64_t n, struct buf *out, backend_watch_fn watch, void *ud,
			 struct err *e);
};

struct backend {
	const struct backend_ops *ops;
	/* Human-readable location for messages, never holding credentials. */
	char where[512];
	/* "" or one line the program shows once when it opens the store: a choice that
	 * weakens security (TLS not verified, plain HTTP). */
	char caution[256];
};

/* Calls through the vtable, so callers name the store once. */
static inline int backend_get(struct backend *be, enum obj_type t, const char *name, uint64_t off,
			      uint64_t n, struct buf *out, struct err *e)
{
	return be->ops->get(be, t, name, off, n, out, e);
}
static inline int backend_get_watch(struct backend *be, enum obj_type t, const char *name,
				    uint64_t off, uint64_t n, struct buf *out,
				    backend_watch_fn watch, void *ud, struct err *e)
{
	int rc;

	if (be->ops->get_watch)
		return be->ops->get_watch(be, t, name, off, n, out, watch, ud, e);
	rc = be->ops->get(be, t, name, off, n, out, e);
	if (rc >= 0 && watch)
		watch(ud, out);
	return rc;
}
static inline int backend_put(struct backend *be, enum obj_type t, const char *name,
			      const void *p, size_t n, struct err *e)
{
	return be->ops->put(be, t, name, p, n, e);
}
static inline int backend_stat(struct backend *be, enum obj_type t, const char *name,
			       uint64_t *ret_size, struct err *e)
{
	return be->ops->stat(be, t, name, ret_size, e);
}
static inline int backend_del(struct backend *be, enum obj_type t, const char *name,
			      struct err *e)
{
	return be->ops->del(be, t, name, e);
}
static inline int backend_del_many(struct backend *be, enum obj_type t,
				   const char *const *names, size_t n, struct err *e)
{
	return be->ops->del_many(be, t, names, n, e);
}
static inline int backend_list(struct backend *be, enum obj_type t, backend_list_fn fn, void *ud,
			       struct err *e)
{
	return be->ops->list(be, t, fn, ud, e);
}

static inline ssize_t backend_sweep_tmp(struct backend *be, int64_t before)
{
	return be->ops->sweep_tmp ? be->ops->sweep_tmp(be, before) : 0;
}

/* Options are "key=value" strings from --option (e.g. "s3.region=eu-west-1"). */
struct backend_options {
	const char *const *kv;
	size_t n;
};

/* Look up an option; NULL when absent. */
const char *backend_option(const struct backend_options *o, const char *key);

/* A store reached through a URL scheme ("s3:"): the object-store modules above repo/
 * provide one and the program registers it before any thread starts (repo/ itself knows
 * only the local directory store, so it never links against a network client). */
struct backend_scheme {
	const char *prefix; /* "s3:" */
	int (*open)(const char *spec, const struct backend_options *o, struct backend **ret,
		    struct err *e);
};
#define BACKEND_SCHEMES_MAX 4
/* -EEXIST when the prefix is taken, -ENOSPC past BACKEND_SCHEMES_MAX. Not thread-safe:
 * call at start-up only. */
int backend_register(const struct backend_scheme *s) _must_check_;

/* A registered scheme's prefix selects it; "local:PATH" or a plain path the directory
 * store. */
int backend_open(const char *url, const struct backend_options *o, struct backend **ret,
		 struct err *e) _must_check_;
int backend_local_open(const char *path, const struct backend_options *o, struct backend **ret,
		       struct err *e) _must_check_;
void backend_free(struct backend *be);
