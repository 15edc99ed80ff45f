/* State shared between the repo/ files: the repository context, the in-memory index,
 * pack writers and the compression-context pool. */
#pragma once
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <zstd.h>

#include "repo/repo.h"

#define PACK_HEADER_MAGIC   0x314b5043u /* "CPK1" */
#define INDEX_MAGIC         0x31584449u /* "IDX1" */
#define TREE_MAGIC          0x31525443u /* "CTR1" */
#define PACK_MAX_BLOBS      (1u << 20)
#define PACK_HEADER_MAX     (PACK_MAX_BLOBS * 48u)
/* A pack we write is finished at this many blobs even below pack_size: a pack of tiny
 * blobs (12-16 byte files) otherwise holds ~300 000, and its writer's list (44 B per blob,
 * doubled to 23 MB), its 12 MB header (read whole by check, prune and adoption) and the
 * index file that lists it (12 MB, held whole by every index load) all scale with that.
 * Readers still accept up to PACK_MAX_BLOBS (older packs, other writers). */
#define PACK_WRITE_BLOBS    65536u
#define INDEX_FILE_MAX      (256u * 1024 * 1024)
#define INDEX_PACKS_PER_FILE 64   /* write an index file after this many new packs */
#define CCTX_POOL_MAX       16

/* One blob as the index's callers see it (48 bytes). The index stores it packed (idx.c):
 * a shard's sorted array holds records of 31 id bytes (the shard implies the first) and
 * the fields at the bit widths that shard needs, about 37 bytes for a repository of small
 * files; only the small tables of recent puts hold this struct. pack == IDX_PENDING marks
 * a claimed, unwritten blob. */
struct idx_entry {
	uint8_t id[ID_BYTES];
	uint32_t pack;
	uint32_t offset;
	uint32_t stored_len;
	uint32_t raw_len : 30;
	uint32_t type : 1;
	uint32_t compressed : 1;
};

#define IDX_PENDING UINT32_MAX
#define IDX_SHARDS  4096u /* by the id's first 12 bits */

/* The layout of a shard's packed records (idx.c): ID_BYTES - 1 id bytes, then
 * little-endian bits: type, compressed, pack + 1 (so IDX_PENDING costs no bits), offset,
 * stored_len, raw_len, each in as many bits as the widest value the shard holds needs. */
struct idx_fmt {
	uint8_t w_pack, w_offset, w_stored, w_raw;
	uint8_t stride; /* bytes per record: ID_BYTES - 1 + the bits rounded up to bytes */
	/* The widths the values need; the layout's may be wider (idx_fmt_widen). */
	uint8_t need_pack, need_offset, need_stored, need_raw;
};
#define IDX_REC_MAX (ID_BYTES - 1 + 16)

/* One shard: a sorted array of packed records (by id, then type) with no slack, and an
 * open-addressing table of whole entries (linear probing, all-zero id = empty slot) for
 * recent puts, merged into the array once it holds an eighth as many entries. */
struct idx_shard {
	uint8_t *base; /* n_base records of fmt.stride bytes */
	struct idx_entry *slots;
	uint32_t n_base;
	uint32_t cap, n;
	struct idx_fmt fmt;
};

struct idx {
	struct idx_shard *shards; /* IDX_SHARDS of them, allocated at the first put */
	size_t n;                 /* entries in all shards */
	uint8_t (*packs)[ID_BYTES]; /* pack number -> pack id */
	size_t n_packs, cap_packs;
	uint32_t *pack_slots; /* pack id -> number + 1 (open addressing, 0 = empty) */
	size_t pack_slots_cap;
	uint8_t (*files)[ID_BYTES]; /* index files read so far, sorted */
	size_t n_files, cap_files;
	bool loaded;
	/* Every copy of the blobs indexed in more than one place (idx_dup.c); NULL while no
	 * blob is. [0, dups_sorted) is sorted; dups_new: copies not yet checked against
	 * their packs (index_dup.c). */
	struct idx_entry *dups;
	size_t n_dups, cap_dups, dups_sorted;
	bool dups_new;
};

/* A header entry as written into a pack. */
struct pack_blob {
	uint8_t id[ID_BYTES];
	uint8_t type, compressed;
	uint32_t stored_len, raw_len;
};

/* A pack being filled: blobs are spooled to a temp file, hashed as they go. */
struct pack_writer {
	int fd;
	uint64_t size;
	struct name_hash *hash; /* of the size bytes written so far */
	struct pack_blob *blobs;
	size_t n_blobs, cap_blobs;
};

/* Packs uploaded but not yet in an index file written by us. */
struct pack_done {
	uint8_t id[ID_BYTES];
	struct pack_blob *blobs;
	size_t n_blobs;
};

struct repo {
	struct backend *be;
	struct key *key;
	struct chunker chunker;
	uint32_t pack_size;
	int zstd_level;
	/* blob.c: the level blobs are compressed at (zstd_level unless backup --compression
	 * chose another), or REPO_COMPRESS_OFF; 0 until set (repo_set_compression). */
	int compress_level;
	enum key_name_alg name_alg; /* config's; BLAKE2b-256 until it is read */
	char id_hex[ID_HEX];
	char keyfile[ID_HEX];

	pthread_mutex_t idx_lock; /* guards idx and done */
	struct idx idx;
	struct pack_done *done;
	size_t n_done, cap_done;
	/* The loaded index was released by repo_index_drop (maint/prune): packs finished
	 * meanwhile are not put into it (their own index files list them), and the next
	 * repo_index_reload starts from nothing. Guarded by idx_lock. */
	bool idx_dropped;
	/* Packs the index lists that data/ lacks or holds too short (index_file.c). */
	size_t lost_packs, lost_blobs;
	uint8_t lost_first[ID_BYTES];

	pthread_mutex_t pack_lock[_BLOB_TYPE_MAX];
	struct pack_writer *open_pack[_BLOB_TYPE_MAX];

	/* Entries set aside from index/ (aside.c), the first REPO_ASIDE_KEPT of them. */
	struct repo_aside *aside;
	size_t n_aside, cap_aside, n_aside_total;

	pthread_mutex_t held_mu; /* guards held */
	struct repo_lock *held;  /* locks taken through r (lock.c) */

	pthread_mutex_t cctx_lock;
	/* Two size classes: zstd resizes a context's tables to each input, so one context
	 * fed small files and big chunks alternately would reallocate all the time. */
	struct sealer *sealers[2][CCTX_POOL_MAX];
	size_t n_sealers[2];
	struct opener *openers[CCTX_POOL_MAX];
	size_t n_openers;
};

/* aside.c */
void repo_aside_release(struct repo *r);

/* idx.c */
void idx_release(struct idx *x);
/* Whether (type, id) is indexed; its entry is copied to ret (may be NULL). Caller holds
 * idx_lock. To change an entry, idx_put it. */
bool idx_find(struct idx *x, unsigned type, const uint8_t id[ID_BYTES], struct idx_entry *ret);
/* As idx_find, and the entry's place in its shard: its number in the sorted array, or
 * n_base + its slot in the table (valid until the next put or remove). */
bool idx_locate(struct idx *x, unsigned type, const uint8_t id[ID_BYTES], struct idx_entry *ret,
		uint32_t *ret_pos);
/* Insert or overwrite the entry of (e->type, e->id). Caller holds idx_lock. -EINVAL for
 * the all-zero id (it marks empty slots); -ENOMEM leaves the index as it was. */
int idx_put(struct idx *x, const struct idx_entry *e) _must_check_;
/* Pack id -> pack number (added when new). Caller holds idx_lock. */
int idx_pack_number(struct idx *x, const uint8_t pack[ID_BYTES], uint32_t *ret) _must_check_;
void idx_remove(struct idx *x, unsigned type, const uint8_t id[ID_BYTES]);
/* Calls fn for every entry (in no particular order) until it returns < 0, which is
 * returned. fn must not put or remove. */
typedef int (*idx_fn)(void *ud, const struct idx_entry *e);
int idx_foreach(struct idx *x, idx_fn fn, void *ud) _must_check_;
/* Merge every shard's table of recent puts into its array (between index files). */
void idx_settle(struct idx *x);
/* Bytes held by the blob tables (for tests and benchmarks). */
size_t idx_table_bytes(const struct idx *x);
/* The packed record (exposed for tests): idx_fmt_widen makes f fit e and every entry f's
 * needs cover (the needs only grow; the layout gives its rounding bits to pack and offset);
 * idx_rec_put needs idx_fmt_fits(f, e); id0 is the id's first byte, which the shard
 * implies and the record omits. */
void idx_fmt_widen(struct idx_fmt *f, const struct idx_entry *e);
bool idx_fmt_fits(const struct idx_fmt *f, const struct idx_entry *e);
void idx_rec_put(const struct idx_fmt *f, const struct idx_entry *e, uint8_t *rec);
void idx_rec_get(const struct idx_fmt *f, const uint8_t *rec, uint8_t id0, struct idx_entry *ret);
/* Pack id -> pack number when known (-ENOENT otherwise); adds nothing. */
int idx_pack_find(const struct idx *x, const uint8_t pack[ID_BYTES], uint32_t *ret) _must_check_;

/* idx_dup.c: blobs indexed in more than one place. Callers hold idx_lock. */
/* Same pack, offset, lengths and flags. */
bool idx_same_place(const struct idx_entry *a, const struct idx_entry *b);
/* As idx_put (the copy put last is the one idx_find returns), but when (type, id) is
 * indexed at another place already, both places go into the side table. */
int idx_put_copy(struct idx *x, const struct idx_entry *e) _must_check_;
/* Sort the side table and drop places recorded twice (done by the calls below). */
void idx_dup_sort(struct idx *x);
/* The copies of (type, id), the one idx_find returns among them: up to max into ret;
 * returns how many there are (0 for a blob indexed once). */
size_t idx_dup_copies(struct idx *x, unsigned type, const uint8_t id[ID_BYTES],
		      struct idx_entry *ret, size_t max);
/* fn for every copy idx_foreach does not give (those idx_find does not return). */
int idx_dup_foreach(struct idx *x, idx_fn fn, void *ud) _must_check_;
void idx_dup_release(struct idx *x);

/* index_file.c: encode packs and their blobs into a sealed index object and back. */
int index_file_write(struct repo *r, const struct pack_done *packs, size_t n, struct err *e)
	_must_check_;
int index_file_read(struct repo *r, const char *name, struct err *e) _must_check_;
/* One decoded index entry; pack and id point into the decoded file (valid during the
 * callback; all blobs of one pack come together with the same pack pointer). */
struct ix_entry {
	const uint8_t *pack, *id;
	uint8_t type, compressed;
	uint64_t offset, stored_len, raw_len;
};
typedef int (*ix_fn)(void *ud, const struct ix_entry *x);
/* The one index-file parser: fetch, open and decode `name`, bounds-checking every field,
 * calling fn per blob in file order. */
int index_walk(struct repo *r, const char *name, ix_fn fn, void *ud, struct err *e)
	_must_check_;
/* Maintenance's index files (repo_ixw_*) hold at most IX_PACKS_PER_FILE packs and start a
 * new file before a pack that would pass IX_BLOBS_PER_FILE blobs: every reader holds a
 * whole file twice while opening it (a million small blobs in one 42 MB file cost 84 MB at
 * every load; 65 536 blobs encode to about 2.6 MB). */
#define IX_PACKS_PER_FILE 2048
#define IX_BLOBS_PER_FILE 65536
/* Add a pack's blobs to the in-memory index (takes idx_lock). copies: a blob indexed
 * elsewhere already keeps both places (idx_put_copy: an adopted pack); otherwise the new
 * place replaces the old (our own uploads, a repack). */
int index_add_pack(struct repo *r, const uint8_t pack[ID_BYTES], const struct pack_blob *b,
		   size_t n, bool copies) _must_check_;

/* index_dup.c: after index files were read, each blob indexed in more than one place is
 * found at a copy whose pack exists and is long enough (a HEAD per pack involved, or one
 * listing of data/ when there are many). Only -ENOMEM fails: a store that does not answer
 * leaves the copies as they were. */
int index_dups_resolve(struct repo *r, struct err *e) _must_check_;
/* A read of (type, id) at `failed` did not give the blob: each other copy in turn is
 * fetched and opened into out, and the first that opens becomes the one lookups find.
 * -ENOENT when there is no other copy, else the last copy's error. */
int index_dup_read(struct repo *r, unsigned type, const uint8_t id[ID_BYTES],
		   const struct blob_loc *failed, struct buf *out) _must_check_;

/* packhdr.c: a pack's whole header as an array (adopting an orphan pack); readers that
 * only walk it use repo_pack_hdr_* (admin.h). */
int pack_read_header(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t size,
		     struct pack_blob **ret, size_t *ret_n, struct err *e) _must_check_;

/* pack.c */
int pack_append(struct repo *r, enum blob_type t, const uint8_t id[ID_BYTES],
		const void *sealed, size_t n, uint32_t raw_len, bool compressed,
		struct err *e) _must_check_;
/* Finish and upload the open pack of type t, if any. */
int pack_flush(struct repo *r, enum blob_type t, struct err *e) _must_check_;
void pack_writer_free(struct pack_writer *w);

/* blob.c: per-thread compression state, pooled so steady-state puts neither allocate
 * nor fault in fresh pages. */
struct sealer {
	ZSTD_CCtx *cctx;
	int level;
	uint8_t *out;
	size_t cap;
};
struct sealer *sealer_take(struct repo *r, size_t n);
void sealer_give(struct repo *r, size_t n, struct sealer *s);
void sealer_free(struct sealer *s);
/* The read side's reusable state: the sealed bytes, the decrypted (compressed) bytes and a
 * decompression context, pooled like sealers. */
struct opener {
	ZSTD_DCtx *dctx;
	struct buf raw, plain;
};
struct opener *opener_take(struct repo *r);
void opener_give(struct repo *r, struct opener *o);
void opener_free(struct opener *o);
/* Open, decompress and check one sealed blob against id; appends the plaintext to out.
 * -EBADMSG when it fails authentication, decompression or the id check. */
int blob_decode(struct repo *r, const uint8_t id[ID_BYTES], const uint8_t *sealed, size_t sn,
		uint32_t raw_len, bool compressed, struct buf *out) _must_check_;

/* object.c: small sealed objects (config, snapshots, locks) */
/* repo.c: check and apply the opened config object (the repository's parameters, which
 * anyone who can write the repository may have forged); -EBADMSG, -EOPNOTSUPP. */
int repo_config_apply(struct repo *r, const char *json, size_t n, struct err *e) _must_check_;

/* lock.c: a lock object's content, as any writer of the repository may have forged it. */
struct lock_info {
	bool exclusive;
	int64_t time, pid, start;
	char host[128], boot[64], pidns[64];
};
/* Decode a lock object's opened JSON; -EBADMSG when a field is missing or mistyped. */
int lock_decode(const void *p, size_t n, struct lock_info *ret) _must_check_;
/* now - t, saturated to the int64_t range; negative for a lock dated in the future. */
int64_t lock_age_at(int64_t now, int64_t t);

int obj_seal_put(struct repo *r, enum obj_type t, enum key_domain d, const void *p, size_t n,
		 char ret_name[ID_HEX], struct err *e) _must_check_;
/* Create-only (the config): -EEXIST when an object of that name exists, through the
 * store's conditional create or, without one, a write that is read back. */
int obj_seal_put_new(struct repo *r, enum obj_type t, enum key_domain d, const void *p, size_t n,
		     struct err *e) _must_check_;
int obj_get_open(struct repo *r, enum obj_type t, enum key_domain d, const char *name,
		 struct buf *out, struct err *e) _must_check_;
