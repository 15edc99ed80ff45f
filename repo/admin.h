/* The narrow administrative interface of a repository, for maint/ (check, prune, repair,
 * keys): the store, pack headers and index files as decoded records, and the primitives a
 * repack needs. Nothing here exposes struct repo's layout or the in-memory index. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "repo/repo.h"

/* A blob as a pack header or an index file describes it (offset within its pack). */
struct repo_ix_blob {
	uint8_t id[ID_BYTES];
	uint8_t type, compressed;
	uint32_t offset, stored_len, raw_len;
};

struct repo_ix_pack {
	uint8_t id[ID_BYTES];
	struct repo_ix_blob *blobs;
	size_t n_blobs;
};

/* Release r's loaded index: until the next repo_index_load or repo_index_reload, lookups
 * find nothing and packs written meanwhile are indexed only by the index files written for
 * them. For prune, whose sweep needs no lookup: the repack's new packs re-laid every shard
 * of an index nothing reads (34 MB at a million blobs). */
void repo_index_drop(struct repo *r);

/* repo.h gives the store (repo_backend), the master key (repo_key) and the key file
 * that opened r (repo_keyfile_name). */
/* Record that r is now opened through key file `name` (after a password change). */
void repo_keyfile_switch(struct repo *r, const char name[ID_HEX]);

/* The header of pack `pack` (size bytes long), read entry by entry: open fetches it,
 * authenticates it and checks every entry (its blob within the pack, offsets computed),
 * so a damaged header is -EBADMSG (message in e) before any entry is seen; -ENOENT when
 * the pack is gone. It holds the header's sealed size and nothing per entry. */
struct repo_pack_hdr;
int repo_pack_hdr_open(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t size,
                       struct repo_pack_hdr **ret, struct err *e) _must_check_;
/* The sealed header's length from the pack's last four bytes (one small read), checked
 * against size: what an open will hold, for a caller that budgets memory. */
int repo_pack_hdr_len(struct repo *r, const uint8_t pack[ID_BYTES], uint64_t size,
                      uint32_t *ret, struct err *e) _must_check_;
/* The next entry in header order: 1 and *ret, 0 after the last. */
int repo_pack_hdr_next(struct repo_pack_hdr *h, struct repo_ix_blob *ret) _must_check_;
/* Back to the first entry. */
void repo_pack_hdr_rewind(struct repo_pack_hdr *h);
size_t repo_pack_hdr_count(const struct repo_pack_hdr *h);
void repo_pack_hdr_free(struct repo_pack_hdr *h);

/* Decode index file `name` (the one parser), calling fn per blob in file order; pack is
 * valid during the call and the same pointer for every blob of one pack. */
typedef int (*repo_ix_fn)(void *ud, const uint8_t *pack, const struct repo_ix_blob *b);
int repo_index_walk(struct repo *r, const char *name, repo_ix_fn fn, void *ud,
                    struct err *e) _must_check_;
/* Write index files as packs and their blobs come (the one encoder), each file superseding
 * every name in sup (borrowed until free). A file is stored once the next pack would pass
 * the per-file caps, so the writer holds one file's encoding, never the whole index. Each
 * pack declares its blob count, then gets exactly that many blobs (-EINVAL otherwise).
 * finish stores the last file (one even with no packs, so the supersedes are recorded)
 * and says how many were written. -ENOMEM, -EFBIG (new: too many supersedes). */
struct repo_ixw;
int repo_ixw_new(struct repo *r, char (*sup)[ID_HEX], size_t n_sup,
                 struct repo_ixw **ret) _must_check_;
int repo_ixw_pack(struct repo_ixw *w, const uint8_t id[ID_BYTES], size_t n_blobs,
                  struct err *e) _must_check_;
int repo_ixw_blob(struct repo_ixw *w, const struct repo_ix_blob *b, struct err *e) _must_check_;
int repo_ixw_finish(struct repo_ixw *w, size_t *ret_files, struct err *e) _must_check_;
void repo_ixw_free(struct repo_ixw *w);

/* Entries of index/ that carry an index file's name but are no file (a folder, a device):
 * every listing of index/ fails on one (-EBADMSG), so every command stops there but
 * `repair index`, which lists through this: fn gets each index file as backend_list gives
 * it, and each such entry is moved (unless dry_run) to aside/index/<name> (or <name>.N)
 * in the store, never deleted, and recorded in r. A store whose listing skips strangers
 * (S3) lists as backend_list. */
int repo_index_list_aside(struct repo *r, bool dry_run, backend_list_fn fn, void *ud,
                          struct err *e) _must_check_;
/* What repo_index_list_aside set aside through r: the first REPO_ASIDE_KEPT in *ret
 * (borrowed, valid while r lives), and how many there were in all. */
#define REPO_ASIDE_KEPT 64
struct repo_aside {
	char name[256];  /* the entry's name in index/ */
	char where[320]; /* where it is now, relative to the store; "" in a dry run */
};
size_t repo_index_aside(const struct repo *r, const struct repo_aside **ret);

/* Seconds since pack `pack` was stored; -EOPNOTSUPP when the store cannot tell. */
int repo_pack_age(struct repo *r, const uint8_t pack[ID_BYTES], int64_t *ret_sec,
                  struct err *e) _must_check_;

/* Authenticate, decompress and re-hash one sealed blob. -EBADMSG when damaged. */
int repo_blob_verify(struct repo *r, const struct repo_ix_blob *b,
                     const uint8_t *sealed) _must_check_;
/* Append a sealed blob, as stored, to the open pack of its type (repack). */
int repo_blob_copy(struct repo *r, const struct repo_ix_blob *b, const uint8_t *sealed,
                   struct err *e) _must_check_;
/* Hand every pack written since the last index file to w (so the caller indexes them
 * itself, with its supersedes), first finishing the open packs when finish is set; how
 * many in *ret_packs. Each pack's list is freed once encoded. */
int repo_ixw_add_written(struct repo *r, struct repo_ixw *w, bool finish, size_t *ret_packs,
                         struct err *e) _must_check_;

/* Dense numbers for the blobs of the loaded index, so maint/ can keep a set of blobs as one
 * bit per indexed blob instead of a copy of their ids. A number is valid while the index
 * does not change (no put, no new pack): check and prune's mark phase, not a repack.
 * Everything the index does not hold (or a change since) is -ENOENT / -ESTALE: the
 * caller keeps those ids some other, exact way. */
struct repo_blob_ranks;
int repo_blob_ranks_new(struct repo *r, struct repo_blob_ranks **ret) _must_check_;
void repo_blob_ranks_free(struct repo_blob_ranks *k);
/* Numbers lie in [0, total). */
uint64_t repo_blob_ranks_total(const struct repo_blob_ranks *k);
/* Heap bytes one repo_blob_ranks holds. */
size_t repo_blob_ranks_bytes(void);
/* The number of (type, id): 0, -ENOENT when not indexed, -ESTALE when the index moved. */
int repo_blob_rank(struct repo_blob_ranks *k, unsigned type, const uint8_t id[ID_BYTES],
                   uint64_t *ret) _must_check_;
