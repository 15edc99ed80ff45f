/* The repository: config, keys, packs, index, trees and snapshots on a backend.
 * Thread-safety: blob_* calls may come from many threads at once; everything else is
 * called from one thread. Every fallible call reports through the caller's struct err. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chunker/chunker.h"
#include "crypto/crypto.h"
#include "repo/backend.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

/* The format init writes by default, and the oldest still read and written: a repository
 * keeps the version it was created with (docs/format.md). */
#define REPO_VERSION        2
#define REPO_VERSION_MIN    1
/* What a format 2 config names besides its id algorithm (crypto.h's key_id_alg_name). */
#define REPO_ALG_SEAL        "xchacha20-poly1305"
#define REPO_ALG_COMPRESSION "zstd"
#define REPO_PACK_DEFAULT   (16u * 1024 * 1024)
#define REPO_PACK_MIN       (1u * 1024 * 1024)
#define REPO_PACK_MAX       (512u * 1024 * 1024)
/* Largest blob plaintext we ever allocate for (a chunk or a tree segment). */
#define REPO_BLOB_MAX       (CHUNKER_MAX_LIMIT)
/* Small JSON objects (config, snapshots, locks, key files). */
#define REPO_SMALL_OBJ_MAX  (16u * 1024 * 1024)

enum blob_type { BLOB_DATA = 0, BLOB_TREE = 1, _BLOB_TYPE_MAX, _BLOB_TYPE_INVALID = -22 };

struct repo;

struct repo_create_params {
	struct chunker_params chunker;
	uint32_t pack_size;
	int zstd_level;
	struct keyfile_params kdf;
	int format_version; /* REPO_VERSION_MIN..REPO_VERSION; default REPO_VERSION */
};

void repo_create_params_default(struct repo_create_params *p);

struct repo_open_params {
	const char *url;
	const struct backend_options *options;
	const char *password; /* borrowed; never copied into messages */
	size_t password_len;
};

/* -EEXIST when a repository is already there. */
int repo_create(const struct repo_open_params *o, const struct repo_create_params *p,
		struct repo **ret, struct err *e) _must_check_;
/* -ENOENT not a repository, -EKEYREJECTED no key file opens with the password,
 * -EOPNOTSUPP unknown format version or algorithm. */
int repo_open(const struct repo_open_params *o, struct repo **ret, struct err *e) _must_check_;
/* Does not flush: call repo_flush first. NULL is fine. */
void repo_free(struct repo *r);

/* Borrowed getters, valid while r lives. */
struct backend *repo_backend(struct repo *r);
const struct key *repo_key(const struct repo *r);
const struct chunker *repo_chunker(const struct repo *r);
const char *repo_id_hex(const struct repo *r);
const char *repo_keyfile_name(const struct repo *r);
uint32_t repo_pack_size(const struct repo *r);
/* The decrypted config as JSON text (malloc'ed) for `cat config`. */
int repo_config_json(struct repo *r, char **ret, struct err *e) _must_check_;

/* ---- index: load, lookup ---- */

/* Read every index file (done lazily by calls that need it; explicit for progress). */
int repo_index_load(struct repo *r, struct err *e) _must_check_;
/* Read index files written since the last load (a long-lived reader such as the mount
 * sees new snapshots' blobs without reopening). Returns how many files were new. */
ssize_t repo_index_reload(struct repo *r, struct err *e) _must_check_;
/* Find packs in data/ that no index lists (a killed backup's uploads), read their headers
 * and index them, so a later backup reuses them. Returns the number of packs adopted. */
ssize_t repo_index_adopt_orphans(struct repo *r, struct err *e) _must_check_;
/* The same listing also finds packs the index lists but data/ does not hold, or holds
 * shorter than their entries reach (deleted or cut by hand, a failing disk, another node
 * writing the store). Their entries leave this process's index, never the index files, so
 * a backup stores those blobs again rather than refer to lost data. Returns how many packs
 * that was, with the blobs dropped and the first pack's id. */
size_t repo_lost_packs(const struct repo *r, size_t *ret_blobs, uint8_t first[ID_BYTES]);

struct blob_loc {
	uint8_t pack[ID_BYTES];
	uint32_t offset;
	uint32_t stored_len; /* sealed bytes in the pack */
	uint32_t raw_len;    /* plaintext length */
	uint8_t type;
	uint8_t compressed;
};

bool repo_blob_known(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES]);
int repo_blob_lookup(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
		     struct blob_loc *ret) _must_check_;
/* Iterate all index entries (check, prune, cat index). */
typedef int (*repo_blob_fn)(void *ud, const uint8_t id[ID_BYTES], const struct blob_loc *loc);
int repo_blob_foreach(struct repo *r, repo_blob_fn fn, void *ud) _must_check_;
size_t repo_blob_count(struct repo *r);

/* ---- blobs: write and read ---- */

/* Atomically claim an id for upload. true: the caller must repo_blob_put it (no one else
 * will); false: it is stored already or another thread is storing it. */
bool repo_blob_claim(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES]);
/* Compress, seal and append to the open pack; full packs are uploaded from the calling
 * thread. Returns the number of bytes the blob added to the repository. */
ssize_t repo_blob_put(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
		      const void *p, size_t n, struct err *e) _must_check_;
/* repo_blob_put for a caller that gives up its buffer: room holds REPO_BLOB_ROOM_BEFORE
 * spare bytes, the n bytes of the blob, then REPO_BLOB_ROOM_AFTER spare bytes, and a blob
 * stored raw is sealed there in place (room is clobbered). Incompressible chunks then never
 * touch a second chunk-sized buffer: two workers' copies cost ~4 MiB of a first backup's
 * peak RSS. */
#define REPO_BLOB_ROOM_BEFORE KEY_NONCE_BYTES
#define REPO_BLOB_ROOM_AFTER  KEY_TAG_BYTES
ssize_t repo_blob_put_room(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
			   uint8_t *room, size_t n, struct err *e) _must_check_;
/* How repo_blob_put compresses from now on through r (backup --compression):
 * REPO_COMPRESS_AUTO is the repository's level (init --compression) with the probe that
 * stores incompressible chunks raw; REPO_COMPRESS_OFF stores every blob raw; any other
 * value is a zstd level (ZSTD_minCLevel() to ZSTD_maxCLevel(); 0 is zstd's default, 3),
 * also with the probe. -EINVAL for a level zstd does not have. */
enum { REPO_COMPRESS_AUTO = -1000000, REPO_COMPRESS_OFF = -1000001 }; /* below zstd's levels */
int repo_set_compression(struct repo *r, int level) _must_check_;
/* Claim + put; a known blob costs nothing. Computes the id into ret_id when non-NULL. */
ssize_t repo_blob_save(struct repo *r, enum blob_type t, const void *p, size_t n,
		       uint8_t ret_id[ID_BYTES], struct err *e) _must_check_;
/* Upload open packs and write an index file for everything new. After this, every blob
 * put so far is durable and findable. */
int repo_flush(struct repo *r, struct err *e) _must_check_;
/* Fetch, open, decompress and check a blob against its id; appends to out.
 * -ENOENT not indexed, -EBADMSG corrupt or forged (the message names pack and blob). */
int repo_blob_get(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES], struct buf *out,
		  struct err *e) _must_check_;
/* Read and fully verify one pack (check --read-data): header vs index, every blob. */
typedef void (*repo_pack_problem_fn)(void *ud, const uint8_t pack[ID_BYTES],
				     const uint8_t *blob, const char *msg);
int repo_pack_verify(struct repo *r, const uint8_t pack[ID_BYTES], repo_pack_problem_fn fn,
		     void *ud, struct err *e) _must_check_;
/* List all packs in data/ with their sizes. */
typedef int (*repo_pack_fn)(void *ud, const uint8_t pack[ID_BYTES], uint64_t size);
int repo_pack_list(struct repo *r, repo_pack_fn fn, void *ud, struct err *e) _must_check_;

/* ---- trees ---- */

enum node_type {
	NODE_FILE,
	NODE_DIR,
	NODE_SYMLINK,
	NODE_FIFO,
	NODE_CHR,
	NODE_BLK,
	NODE_SOCK,
	_NODE_TYPE_MAX,
	_NODE_TYPE_INVALID = -22,
};

enum node_flags {
	NODE_CHANGED_DURING_READ = 1 << 0, /* content may be inconsistent */
	NODE_UNREADABLE = 1 << 1,          /* metadata only; content missing */
	NODE_SPARSE = 1 << 2,              /* has hole extents */
};

/* One piece of a file: a data blob, or a hole of len zero bytes (id unused).
 * For a directory, the content lists its tree segment blobs (len = entry count). */
struct extent {
	uint8_t id[ID_BYTES];
	uint64_t len;
	bool hole;
};

struct xattr {
	char *name;
	uint8_t *value;
	size_t len;
};

/* Names and link targets are byte strings, length-counted. A name is one path component
 * (not empty, ".", ".."; no NUL or '/'): decoding refuses any other. */
struct node {
	enum node_type type;
	uint32_t flags;
	char *name;
	size_t name_len;
	uint32_t mode; /* full st_mode permission and type bits */
	uint32_t uid, gid;
	char *user, *group;
	int64_t mtime_sec, atime_sec, ctime_sec;
	uint32_t mtime_nsec, atime_nsec, ctime_nsec;
	uint64_t size, inode, dev, nlink, rdev;
	char *target;
	size_t target_len;
	struct xattr *xattrs;
	size_t n_xattrs;
	struct extent *content;
	size_t n_content;
};

/* Releases the node's allocations; the struct itself is the caller's. */
void node_release(struct node *n);
/* Deep copy. */
int node_copy(const struct node *src, struct node *dst) _must_check_;
/* Append one node in tree encoding. */
int tree_encode_node(struct buf *b, const struct node *n) _must_check_;
/* The header that opens a tree segment blob. */
int tree_encode_header(struct buf *b) _must_check_;
/* Decoding: a segment is header + nodes; the reader hands out nodes one by one. */
struct tree_rd {
	struct rd rd;
	bool bad_name; /* the last -EBADMSG was an invalid entry name */
};
int tree_rd_init(struct tree_rd *t, const void *p, size_t n) _must_check_;
/* 1 with *ret filled (caller releases), 0 at the end, -EBADMSG when malformed, including a
 * name that is not one path component (empty, ".", "..", holding '/' or NUL). */
int tree_rd_next(struct tree_rd *t, struct node *ret) _must_check_;

/* Streaming iterator over a directory: walks its tree segments in order.
 * The node under it must outlive the iterator. */
struct tree_iter {
	struct repo *repo;
	const struct extent *segs;
	size_t n_segs, seg;
	struct buf blob;
	struct tree_rd rd;
	bool open;
};
void tree_iter_init(struct tree_iter *it, struct repo *r, const struct node *dir);
/* The root of a snapshot is a directory whose content is the tree id list. */
void tree_iter_init_root(struct tree_iter *it, struct repo *r, const struct extent *segs,
			 size_t n_segs);
int tree_iter_next(struct tree_iter *it, struct node *ret, struct err *e) _must_check_;
void tree_iter_release(struct tree_iter *it);

/* Byte order of entry names, the order a folder's entries are stored in: memcmp, then the
 * shorter first. */
int repo_name_cmp(const char *a, size_t al, const char *b, size_t bl);
/* Whether an entry name is one component a restore may create: not empty, ".", "..", no
 * '/' or NUL, at most NAME_MAX bytes. A backup writes no other; a forged tree may. */
bool repo_name_ok(const char *name, size_t len);

struct snapshot;
/* Resolve "/a/b" inside a snapshot ("" or "/" is the root, returned as a directory node
 * named "/" whose content is the snapshot's root segments). -ENOENT when missing. Below the
 * root an entry repeated or out of order is not found, as restore and the mount leave it
 * out; at the root the first copy of a name is. */
int repo_tree_lookup(struct repo *r, const struct snapshot *s, const char *path,
		     struct node *ret, struct err *e) _must_check_;

/* Segments are cut at this many encoded bytes so a directory of a million entries
 * never needs one huge blob in memory. */
#define TREE_SEGMENT_TARGET (1u * 1024 * 1024)

/* ---- snapshots ---- */

struct snapshot_summary {
	uint64_t files_new, files_changed, files_unmodified;
	uint64_t dirs_new, dirs_changed, dirs_unmodified;
	uint64_t data_blobs, tree_blobs;
	uint64_t bytes_added;     /* stored bytes added to the repository */
	uint64_t bytes_processed; /* file bytes read or reused */
	uint64_t total_files, total_bytes;
	uint64_t errors;
	double duration;
};

struct snapshot {
	uint8_t id[ID_BYTES];
	int64_t time_sec;
	uint32_t time_nsec;
	char *hostname;
	char *username;
	char **paths;
	size_t n_paths;
	char **tags;
	size_t n_tags;
	/* The root: a list of tree segment ids holding one entry per backed-up path. */
	struct extent *tree;
	size_t n_tree;
	bool has_parent;
	uint8_t parent[ID_BYTES];
	char *program_version;
	struct snapshot_summary summary;
};

void snapshot_release(struct snapshot *s);
/* Writes s->id. */
int repo_snapshot_save(struct repo *r, struct snapshot *s, struct err *e) _must_check_;
/* id may be a unique hex prefix or "latest". -ENOENT unknown, -EINVAL ambiguous. */
int repo_snapshot_load(struct repo *r, const char *id, struct snapshot *ret,
		       struct err *e) _must_check_;
/* By exact object name (64 hex digits), without listing: -EBADMSG when the object does not
 * match its name or is malformed. */
int repo_snapshot_read(struct repo *r, const char *name, struct snapshot *ret,
		       struct err *e) _must_check_;
int repo_snapshot_delete(struct repo *r, const uint8_t id[ID_BYTES], struct err *e) _must_check_;
/* All snapshots sorted by time (oldest first). Caller frees with snapshot_list_free. */
int repo_snapshot_list(struct repo *r, struct snapshot **ret, size_t *ret_n,
		       struct err *e) _must_check_;
void snapshot_list_free(struct snapshot *s, size_t n);
/* JSON form (for --json and cat snapshot; caller decrefs). */
json_t *snapshot_to_json(const struct snapshot *s);
/* Value of tag "key=value", borrowed; NULL when absent. */
const char *snapshot_tag(const struct snapshot *s, const char *key);

/* The decoded content of index file `name` as JSON (json_t*, caller decrefs). */
int repo_index_file_json(struct repo *r, const char *name, json_t **ret, struct err *e)
	_must_check_;

/* ---- locks ---- */

enum repo_lock_kind { REPO_LOCK_SHARED, REPO_LOCK_EXCLUSIVE, _REPO_LOCK_MAX,
		      _REPO_LOCK_INVALID = -22 };
/* Locks go stale when not refreshed for this long (the holder refreshes every 5 min), or at
 * once when their holder ran on this host, boot and pid namespace and is gone. */
#define REPO_LOCK_STALE_SEC (30 * 60)

struct repo_lock;
/* -EBUSY when a conflicting live lock exists (message names host and pid). The lock
 * refreshes itself from its own thread until repo_unlock. */
int repo_lock(struct repo *r, enum repo_lock_kind kind, struct repo_lock **ret,
	      struct err *e) _must_check_;
/* A shared lock for readers (restore, check, mount): as repo_lock, but where the store
 * refuses the lock write (read-only location, no locks folder) it returns 0 with *ret =
 * NULL and the reader goes on unlocked. */
int repo_lock_reader(struct repo *r, struct repo_lock **ret, struct err *e) _must_check_;
/* -ENOLCK once l is lost (its refresh failed for longer than the lease, or its object was
 * removed): the holder must stop. Cheap to call often. */
int repo_lock_refresh(struct repo_lock *l, struct err *e) _must_check_;
/* The same over every lock r holds (0 when none): the repository calls it before every
 * pack, index and snapshot write, engines may poll it. */
int repo_lock_check(struct repo *r, struct err *e) _must_check_;
void repo_unlock(struct repo_lock *l);
/* Remove stale locks (or all); returns how many. */
ssize_t repo_locks_remove(struct repo *r, bool all, struct err *e) _must_check_;
/* The stale age in force (REPO_LOCK_STALE_SEC, shorter in test builds when asked). */
long repo_lock_stale_sec(void);

/* ---- pack ranges (repo/packread.c) ---- */

/* Append bytes [off, off+n) of a pack to out (n > 0): one ranged read for a run of
 * adjacent blobs. -ENOENT missing; -EBADMSG when the pack is shorter; -EFBIG past
 * out->max. The message names the pack. */
int repo_pack_read(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t off, uint64_t n,
		   struct buf *out, struct err *e) _must_check_;
/* repo_pack_read, calling watch (NULL: none) as the bytes arrive (once at the end on a
 * store that reads whole ranges at once): see backend_watch_fn. */
int repo_pack_read_watch(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t off, uint64_t n,
			 struct buf *out, backend_watch_fn watch, void *ud,
			 struct err *e) _must_check_;
/* repo_blob_open without the other copies and without a message: for a caller that may
 * not start another read now (inside a watch), and tries repo_blob_open later. */
int repo_blob_open_here(struct repo *r, const uint8_t id[ID_BYTES], const struct blob_loc *loc,
			const uint8_t *sealed, size_t n, struct buf *out) _must_check_;
/* Open, decompress and check one blob whose sealed bytes (n of them, as loc says) were
 * read with repo_pack_read; appends the plaintext to out. -EBADMSG when corrupt or forged
 * (the message names pack and blob). Either way another copy of the blob, if the
 * repository holds one, is read in their place when they do not open; sealed NULL (the
 * run could not be read) asks for that copy alone. */
int repo_blob_open(struct repo *r, const uint8_t id[ID_BYTES], const struct blob_loc *loc,
		   const uint8_t *sealed, size_t n, struct buf *out, struct err *e) _must_check_;
