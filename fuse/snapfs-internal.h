/* State shared between the files of the fuse module: the extent map, the blob cache, the
 * layout naming, the inode table, directory listings and the mounted filesystem. */
#pragma once
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fuse/snapfs.h"
#include "repo/repo.h"

/* ---- extmap.c: file offset -> extent ---- */
struct extmap {
	uint64_t *end; /* end[i]: cumulative length of extents 0..i */
	size_t n;
};
/* -EOVERFLOW when the lengths sum past 2^64. */
int extmap_build(const struct extent *ext, size_t n, struct extmap *ret) _must_check_;
void extmap_release(struct extmap *m);
/* Index of the extent holding byte off; m->n when off is at or past the end. */
size_t extmap_find(const struct extmap *m, uint64_t off);
uint64_t extmap_start(const struct extmap *m, size_t i);
uint64_t extmap_total(const struct extmap *m);

/* ---- blobcache.c: bounded, shared, single-flight blob cache with prefetch ---- */
#define BLOBCACHE_MAX_WORKERS 8
/* Appends the plaintext of blob id to out. Called from many threads at once. */
typedef int (*blobcache_fetch_fn)(void *ud, const uint8_t id[ID_BYTES], struct buf *out,
                                  struct err *e);
struct blobcache;
struct cblob;
struct blobcache_stats {
	uint64_t hits, misses, evictions, prefetches;
	size_t bytes, entries;
};
int blobcache_new(size_t max_bytes, size_t workers, blobcache_fetch_fn fetch, void *ud,
                  struct blobcache **ret) _must_check_;
/* Joins the prefetch workers; every blob must have been put back. NULL is fine. */
void blobcache_free(struct blobcache *c);
/* A referenced blob: its bytes stay valid until blobcache_put. */
int blobcache_get(struct blobcache *c, const uint8_t id[ID_BYTES], struct cblob **ret,
                  struct err *e) _must_check_;
void blobcache_put(struct blobcache *c, struct cblob *b);
/* Hint that id will be read soon; dropped when the queue is full or it is cached. */
void blobcache_prefetch(struct blobcache *c, const uint8_t id[ID_BYTES]);
void blobcache_stats(struct blobcache *c, struct blobcache_stats *ret);
const uint8_t *cblob_data(const struct cblob *b);
size_t cblob_len(const struct cblob *b);

/* ---- layout.c: which virtual path shows which snapshot ---- */
#define LAYOUT_NAME_MAX 256
enum layout_kind {
	LAYOUT_DIR,
	LAYOUT_SNAP,
	LAYOUT_LINK,
	_LAYOUT_KIND_MAX,
	_LAYOUT_KIND_INVALID = -22
};
struct layout_entry {
	char *path; /* relative to the mount root, components joined by '/' */
	enum layout_kind kind;
	size_t snap;  /* LAYOUT_SNAP and LAYOUT_LINK: index into the snapshot array */
	char *target; /* LAYOUT_LINK */
};
struct layout {
	struct layout_entry *e;
	size_t n, cap;
};
/* The top directories, then every view of every snapshot, then snapshots/latest. */
int layout_build(const struct snapshot *s, size_t n, struct layout *ret) _must_check_;
void layout_release(struct layout *l);
/* One safe path component from arbitrary bytes (tags, host names) into out. */
int layout_name(const char *s, size_t len, char *out, size_t out_size) _must_check_;

/* ---- inode.c: the inode table ---- */
enum snode_kind { SN_VDIR, SN_VLINK, SN_ROOT, SN_REAL, _SN_KIND_MAX, _SN_KIND_INVALID = -22 };

struct snode {
	uint64_t ino;
	uint64_t nlookup; /* the kernel's references (lookup, readdirplus minus forget) */
	unsigned pins;    /* our own short-lived references (open files, loads in progress) */
	enum snode_kind kind;
	uint64_t scope;      /* SN_ROOT, SN_REAL: ino of the snapshot root (hardlinks meet there) */
	char *name;          /* virtual nodes */
	char *target;        /* SN_VLINK */
	struct extent *segs; /* SN_ROOT: the snapshot's tree segments */
	size_t n_segs;
	int64_t time_sec; /* SN_ROOT */
	uint32_t time_nsec;
	struct node node; /* SN_REAL */
	bool has_node;
	uint64_t blocks; /* SN_REAL: 512-byte units really stored (holes excluded) */
	/* virtual nodes */
	bool top;            /* listing or looking up in it refreshes the snapshot list */
	uint64_t gen;        /* refresh generation that last placed it in the layout */
	struct snode **kids; /* SN_VDIR, sorted by name */
	size_t n_kids, cap_kids;
	struct snode *vnext;
	/* directories: the loaded listing and its place in the listing LRU */
	struct dirlist *dl;
	struct snode *dl_prev, *dl_next;
	bool streamed;       /* its listing is over the per-folder limit: read through dirstream */
	struct dirindex *dx; /* streamed: built at the first lookup */
	bool dx_failed;      /* too large to build: lookups walk the folder */
	/* table links */
	uint8_t *key;
	size_t key_len;
	struct snode *inext, *knext;
};

struct itable {
	struct snode **by_ino, **by_key;
	size_t n_bucket, count;
	uint64_t next_ino;
};
int itable_init(struct itable *t) _must_check_;
/* Frees the buckets only; the nodes are the caller's. */
void itable_release(struct itable *t);
struct snode *itable_get(const struct itable *t, uint64_t ino);
struct snode *itable_find(const struct itable *t, const void *key, size_t len);
/* Assigns n->ino (the next free number) unless it is set, and indexes n by ino and key. */
int itable_add(struct itable *t, struct snode *n) _must_check_;
void itable_del(struct itable *t, struct snode *n);

/* ---- dirlist.c: one directory's entries, sorted by name for lookup ---- */
#define DIRLIST_MAX_ENTRIES (16u * 1024 * 1024)
struct dirlist {
	struct node *ent;
	size_t n;
	unsigned refs; /* guarded by the filesystem lock */
	/* Entries a forged or corrupt tree holds twice or out of order, left out so that each
	 * name shows once (rule in dirlist.c): how many, and the first one's name. */
	size_t n_dropped;
	char *dropped;
	/* Below the root: DIRLIST_DROPS_MAX were left out and the rest of the folder was not
	 * read (a forged folder repeating one segment thousands of times took minutes). */
	bool rest_dropped;
	/* Entries whose name is longer than NAME_MAX (no lookup reaches them; restore does
	 * not write them), left out: how many, and the first one's name. */
	size_t n_too_long;
	char *too_long;
	/* The root only: the listing stopped at the byte limit given to dirlist_load. */
	bool cut;
	size_t bytes; /* memory held, counted as dirlist.c's node_bytes */
};
#define DIRLIST_DROPS_MAX 16
/* Read a directory (root: a snapshot's tree segments) through tree_iter, each name once:
 * repeats and entries out of order are left out and counted in n_dropped, names longer
 * than NAME_MAX in n_too_long, not failed. At most max_bytes are held, counted entry by
 * entry as decoded (never from the counts the tree claims): past them a folder fails with
 * -EFBIG (then read it through dirstream), the root stops there and sets cut. */
int dirlist_load(struct repo *r, const struct extent *segs, size_t n_segs, const struct node *dir,
                 size_t max_bytes, struct dirlist **ret, struct err *e) _must_check_;
/* Take ownership of ent[0..n) and sort it. */
int dirlist_adopt(struct node *ent, size_t n, struct dirlist **ret) _must_check_;
const struct node *dirlist_find(const struct dirlist *d, const char *name, size_t len);
void dirlist_free(struct dirlist *d);

/* ---- dirstream.c: a folder read from its tree without holding its entries ---- */
/* For a folder whose listing is over the per-folder limit: readdir walks its tree from the
 * start and resumes where the last call stopped; lookup walks to the name. Entries are
 * kept by dirlist.c's rule (each name once, in order; none longer than NAME_MAX). Memory:
 * one tree segment and one entry. The caller holds the repository read lock around each
 * call, and dir (borrowed) outlives the stream. */
struct dirstream {
	struct repo *repo;
	const struct node *dir;
	struct tree_iter it;
	bool started;
	struct node cur; /* the entry at index pos, when has_cur */
	bool has_cur;
	uint64_t pos;
	char last[NAME_MAX]; /* the last name kept, when has_last */
	size_t last_len;
	bool has_last;
};
void dirstream_init(struct dirstream *s, struct repo *r, const struct node *dir);
void dirstream_release(struct dirstream *s);
/* 1 with *ret the entry at index pos (borrowed until the next call), 0 past the end. An
 * index before the last one asked restarts the walk. */
int dirstream_at(struct dirstream *s, uint64_t pos, const struct node **ret,
                 struct err *e) _must_check_;
/* 1 with *ret (the caller releases it) the entry named (name, len) of dir, 0 when dir has
 * none. Walks until the name or the first kept name past it: with x (dir's index, or
 * NULL), in the one segment that can hold it. */
struct dirindex;
int dirstream_find(struct repo *r, const struct node *dir, const struct dirindex *x,
                   const char *name, size_t len, struct node *ret, struct err *e) _must_check_;

/* ---- dirindex.c: per tree segment of a streamed folder, the greatest name kept ---- */
struct dirindex {
	char *names; /* segment s's name: names[off[s]..off[s + 1]), empty when none yet */
	size_t *off; /* n + 1 offsets */
	size_t n, cap, names_cap;
	size_t bytes; /* memory held */
};
/* Reads every segment of dir once; -EFBIG when the index would pass max_bytes (a forged
 * folder of very many segments: lookups then walk the folder). */
int dirindex_build(struct repo *r, const struct node *dir, size_t max_bytes, struct dirindex **ret,
                   struct err *e) _must_check_;
/* The first segment whose greatest name is not below (name, len): the only one that can
 * hold it; x->n when none. */
size_t dirindex_seg(const struct dirindex *x, const char *name, size_t len);
void dirindex_free(struct dirindex *x);

/* ---- forged.c: forged folders already named in the log ---- */
#define FORGED_MAX 1024 /* 16 KiB of digests */
struct forged {
	struct {
		uint64_t lo, hi; /* a seeded digest of the folder's tree segment ids */
	} seen[FORGED_MAX];
	size_t n, max; /* max: FORGED_MAX, lower in tests */
	uint64_t seed;
	bool full_said;
};
enum forged_say {
	FORGED_NEW,  /* name it */
	FORGED_SEEN, /* named already, or the set is full and that was said */
	FORGED_FULL, /* the set is full: say that further forged folders are not named */
	_FORGED_SAY_MAX,
	_FORGED_SAY_INVALID = -22
};
void forged_init(struct forged *f);
/* Whether the forged entry known by tag (NULL, 0 for a folder) and segs[0..n) (a folder's
 * tree segments, a file's extents) is to be named; the caller serializes. */
enum forged_say forged_note(struct forged *f, const void *tag, size_t tag_len,
                            const struct extent *segs, size_t n);

/* ---- fs.c: the mounted filesystem ---- */
struct snapfs {
	struct repo *repo;
	struct snapfs_options opt;
	pthread_mutex_t lock;         /* inode table, layout, listings */
	pthread_rwlock_t repo_lock;   /* read: blob and tree reads; write: refresh */
	pthread_mutex_t refresh_lock; /* one refresh at a time */
	pthread_mutex_t report_lock;  /* one report at a time; guards forged */
	struct forged forged;
	struct itable it;
	struct snode *root;
	struct snode *vnodes;
	uint64_t gen;
	struct snode dl_lru; /* ring of directories holding a listing */
	size_t dl_entries, dl_max;
	/* Bytes of every listing alive (in the LRU or held by an open directory) and of the
	 * loads under way, within dl_budget; one listing holds at most dl_folder_max. */
	size_t dl_bytes, dl_budget, dl_folder_max;
	uint8_t (*known)[ID_BYTES]; /* sorted ids of the snapshots of the last refresh */
	size_t n_known;
	struct blobcache *cache;
	int64_t last_refresh; /* CLOCK_MONOTONIC seconds; 0 never */
	uid_t uid;
	gid_t gid;
	struct timespec started;
	struct fuse_session *se;
};

int fs_init(struct snapfs *fs, struct repo *r, const struct snapfs_options *o,
            struct err *e) _must_check_;
void fs_release(struct snapfs *fs);
/* Reload the snapshot list when it is older than refresh_sec (always when force). */
int fs_refresh(struct snapfs *fs, bool force, struct err *e) _must_check_;
void fs_report(struct snapfs *fs, const struct err *e);
/* Report e about a forged entry (forged_note's arguments) once per mount, or the one line
 * saying the set is full. May be called with fs->lock held. */
void fs_report_forged(struct snapfs *fs, const struct err *e, const void *tag, size_t tag_len,
                      const struct extent *segs, size_t n);
/* With fs->lock held: */
void fs_stat(const struct snapfs *fs, const struct snode *n, struct stat *st);
struct snode *fs_child(struct snapfs *fs, struct snode *dir, const struct node *src);
struct snode *fs_vfind(const struct snode *dir, const char *name);
/* Takes a reference to dir's listing, loading it (the lock is dropped meanwhile). *ret is
 * NULL for a folder too large to hold: read it with fs_stream_find and dirstream. */
int fs_dirlist(struct snapfs *fs, struct snode *dir, struct dirlist **ret,
               struct err *e) _must_check_;
/* dirstream_find in dir (the lock is dropped meanwhile). */
int fs_stream_find(struct snapfs *fs, struct snode *dir, const char *name, struct node *ret,
                   struct err *e) _must_check_;
void fs_dirlist_put(struct snapfs *fs, struct dirlist *d);
void fs_unpin(struct snapfs *fs, struct snode *n);
void fs_forget(struct snapfs *fs, struct snode *n, uint64_t nlookup);
bool fs_is_dir(const struct snode *n);

/* ---- ops.c, read.c: the libfuse callbacks ---- */
extern const struct fuse_lowlevel_ops snapfs_ops;
void read_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void read_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void read_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void read_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
