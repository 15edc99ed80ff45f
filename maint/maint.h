/* Repository maintenance: retention (forget), prune, check extensions, repair, keys,
 * statistics and snapshot comparison. Everything reports through the caller's struct err;
 * the retention policy itself is a pure function so it can be tested against tables. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/admin.h"
#include "repo/repo.h"

/* ---- id sets (check.c) ---- */

/* A set of 32-byte ids (open addressing; the all-zero id is never stored). */
struct repo_idset {
	uint8_t (*v)[ID_BYTES];
	size_t cap, n;
};
/* 1 when added, 0 when present already, -ENOMEM. */
int repo_idset_add(struct repo_idset *s, const uint8_t id[ID_BYTES]) _must_check_;
bool repo_idset_has(const struct repo_idset *s, const uint8_t id[ID_BYTES]);
void repo_idset_release(struct repo_idset *s);
/* Bytes the set holds on the heap. */
size_t repo_idset_bytes(const struct repo_idset *s);

/* ---- blob sets (blobset.c) ---- */

/* A set of blobs (type, id) of one repository whose index is loaded: a bit per indexed
 * blob, an exact id set for the rest. Exact (no false positives or negatives) while the
 * index does not change: init after repo_index_load, release before a repack writes. */
struct repo_blobset {
	struct repo_blob_ranks *ranks;
	uint64_t *bits;
	size_t n_words;
	uint64_t n; /* blobs added through bits */
	struct repo_idset spill[2]; /* by type != BLOB_DATA */
};
int repo_blobset_init(struct repo_blobset *s, struct repo *r) _must_check_;
/* 1 when added, 0 when present already, -ENOMEM. */
int repo_blobset_add(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES]) _must_check_;
bool repo_blobset_has(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES]);
/* A blob's place in the index, looked up once for several sets initialised over the
 * same unchanged index (prune asks "used?" and "claimed?" of each blob). id must stay
 * valid while the key is used. */
struct repo_blobkey {
	uint64_t rank;
	size_t n_words; /* of the set it was taken from */
	bool indexed;
	unsigned type;
	const uint8_t *id;
};
void repo_blobset_key(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES],
		      struct repo_blobkey *k);
int repo_blobset_add_key(struct repo_blobset *s, const struct repo_blobkey *k) _must_check_;
bool repo_blobset_has_key(struct repo_blobset *s, const struct repo_blobkey *k);
/* Bytes the set holds on the heap (its own accounting, for tests and budgets). */
size_t repo_blobset_bytes(const struct repo_blobset *s);
/* Safe on a zeroed or released set. */
void repo_blobset_release(struct repo_blobset *s);

/* ---- retention (forget.c) ---- */

enum repo_keep_reason {
	REPO_KEEP_LAST = 1 << 0,
	REPO_KEEP_HOURLY = 1 << 1,
	REPO_KEEP_DAILY = 1 << 2,
	REPO_KEEP_WEEKLY = 1 << 3,
	REPO_KEEP_MONTHLY = 1 << 4,
	REPO_KEEP_YEARLY = 1 << 5,
	REPO_KEEP_WITHIN = 1 << 6,
	REPO_KEEP_TAG = 1 << 7,
	_REPO_KEEP_MAX = 8,
};

/* A calendar duration as restic counts it: "1y6m2d3h". */
struct repo_duration {
	int years, months, days, hours;
};

/* Counts: 0 = rule off, -1 = unlimited. */
struct repo_forget_policy {
	int last, hourly, daily, weekly, monthly, yearly;
	bool has_within;
	struct repo_duration within;
	const char *const *tags; /* --keep-tag values; a snapshot with any of them is kept */
	size_t n_tags;
};

bool repo_forget_policy_empty(const struct repo_forget_policy *p);
/* "2d", "3w", "1y6m", "12h": -EINVAL when malformed. */
int repo_duration_parse(const char *s, struct repo_duration *ret) _must_check_;
/* Name of one reason bit ("last", "daily", ...). */
const char *repo_keep_reason_name(unsigned bit);

/* One snapshot of a group as the pure policy sees it. */
struct repo_forget_item {
	int64_t time_sec;
	bool tagged; /* carries one of the policy's keep tags */
};

/* items must be sorted newest first (one group). Writes a reason mask per item; 0 means
 * remove. Buckets are local-time periods (TZ), as restic does. An empty policy keeps all. */
void repo_forget_apply(const struct repo_forget_policy *p, const struct repo_forget_item *items,
		       size_t n, uint32_t *ret_reasons);

enum repo_group_by {
	REPO_GROUP_HOST = 1 << 0,
	REPO_GROUP_PATHS = 1 << 1,
	REPO_GROUP_TAGS = 1 << 2,
	REPO_GROUP_VOLUME = 1 << 3, /* ns= + pvc= tags, else ns= + pod= + volume= */
};
/* "host,paths,tags", "volume", "" (one group). */
int repo_group_by_parse(const char *s, unsigned *ret) _must_check_;
/* The grouping key of a snapshot (malloc'ed, caller frees). */
int repo_forget_group_key(const struct snapshot *s, unsigned by, char **ret) _must_check_;
/* Apply p to every group of v (any order). ret_reasons[i] and ret_group[i] (group number,
 * groups numbered in order of first appearance) are written for each snapshot. */
int repo_forget_plan(const struct snapshot *v, size_t n, const struct repo_forget_policy *p,
		     unsigned by, uint32_t *ret_reasons, size_t *ret_group) _must_check_;

/* ---- tree walking (stats.c) ---- */

/* Called for every node below the root, path "/a/b". Return < 0 to stop. */
typedef int (*repo_walk_fn)(void *ud, const char *path, const struct node *n);
/* Walk the directory made of segs. With seen non-NULL, tree segments already in it are
 * skipped (with everything below them) and new ones added: a reachability mark. */
int repo_walk(struct repo *r, const struct extent *segs, size_t n, struct repo_blobset *seen,
	      repo_walk_fn fn, void *ud, struct err *e) _must_check_;

/* ---- index files with supersedes, repair index (repair.c) ---- */

/* Every index file, decoded as written (duplicates kept; a pack listed twice appears
 * once). Names are hex object names. */
struct repo_ixset {
	char (*names)[ID_HEX];
	size_t n_names;
	struct repo_ix_pack *packs;
	size_t n_packs, cap_packs;
};
int repo_ixset_load(struct repo *r, struct repo_ixset *ret, struct err *e) _must_check_;
void repo_ixset_release(struct repo_ixset *s);
/* The same packs, one at a time as soon as each one's entries are read, so the memory is
 * one pack's blobs rather than the whole index. fn's pack is valid during the call; < 0
 * from fn stops the walk and is returned. */
typedef int (*repo_ixpack_fn)(void *ud, const struct repo_ix_pack *p);
int repo_ixset_stream(struct repo *r, repo_ixpack_fn fn, void *ud, struct err *e) _must_check_;
/* The same entry by entry, nothing gathered (the memory is one index file): begin once per
 * pack (its first listing), blob for each of its entries in file order, end after its last.
 * < 0 from any of them stops the walk and is returned. */
struct repo_ixentry_ops {
	int (*begin)(void *ud, const uint8_t pack[ID_BYTES]);
	int (*blob)(void *ud, const struct repo_ix_blob *b);
	int (*end)(void *ud);
};
int repo_ixset_entries(struct repo *r, const struct repo_ixentry_ops *ops, void *ud,
		       struct err *e) _must_check_;

/* A pack whose header does not open: its entries come from the old index files when they
 * list it (kept), else it is left out of the new index. */
struct repo_repair_pack {
	uint8_t id[ID_BYTES];
	bool kept;           /* the old index listed it: its entries are in the new index */
	uint64_t blobs_kept; /* entries kept (those that lie within the pack) */
	uint64_t blobs_dropped; /* entries of the old index that lie past the pack's end */
	char msg[160];       /* why the header does not open */
};

/* packs and blobs: from readable headers; bad_packs: headers that do not open, of which
 * kept_packs (with kept_blobs entries) were kept from the old index. damaged lists the
 * bad packs (owned: repo_repair_result_release). */
struct repo_repair_result {
	uint64_t packs, blobs, bad_packs, old_index_files, kept_packs, kept_blobs;
	struct repo_repair_pack *damaged;
	size_t n_damaged;
};
void repo_repair_result_release(struct repo_repair_result *res);
/* Rebuild the index from pack headers: list data/, read every header, write new index
 * files superseding the old ones, then delete the old ones. A pack whose header does not
 * open keeps the entries the old index files give it (bounded by the pack's size), so
 * reachable data is not lost to a damaged header alone. Caller holds an exclusive lock;
 * *ret is written on success only. */
struct repo_repair_snapshots_result {
	uint64_t snapshots, repaired, files_damaged, dirs_damaged;
};

/* Rewrite snapshots whose trees reach missing blobs (see repair_snapshots.c for what a
 * repaired file looks like). The caller holds the exclusive lock. */
int repo_repair_snapshots(struct repo *r, bool dry_run, bool forget,
			  struct repo_repair_snapshots_result *ret, struct err *e) _must_check_;

int repo_repair_index(struct repo *r, bool dry_run, struct repo_repair_result *ret,
		      struct err *e) _must_check_;

/* ---- progress of check --read-data and prune ---- */

/* The long phase of a maintenance run: packs (and their bytes) done out of the phase's
 * total. Only the caller prints: the engine hands it counts. */
struct repo_maint_progress {
	const char *phase; /* "read" (check --read-data), "prune" (repack and delete) */
	uint64_t packs_done, packs_total, bytes_done, bytes_total;
};
/* Called from the engine's threads one at a time, at most every progress_ms and once
 * more when the phase ends (done == total). */
typedef void (*repo_maint_progress_fn)(void *ud, const struct repo_maint_progress *p);

/* ---- prune (prune.c) ---- */

struct repo_prune_opts {
	double max_unused_pct; /* unused bytes tolerated, as a percentage of the repository */
	bool dry_run;
	/* Packs repacked or deleted; may be NULL. */
	repo_maint_progress_fn progress;
	void *progress_ud;
	unsigned progress_ms;
};

struct repo_prune_result {
	uint64_t packs, packs_deleted, packs_repacked, packs_written, packs_orphaned;
	uint64_t packs_missing;
	uint64_t packs_young; /* unindexed but younger than the lock stale age: kept */
	uint64_t blobs_used, blobs_unused, blobs_duplicate, blobs_repacked;
	uint64_t bytes_before, bytes_after, bytes_unused_after;
	uint64_t index_old, index_new;
};

/* Mark and sweep. held must be an exclusive lock on r (refreshed while running). Order:
 * repacked blobs go to new packs, one new index set supersedes every old index file, then
 * the old index files are deleted, then unused packs: a kill at any point leaves a
 * repository whose surviving index files list only packs that exist. */
int repo_prune(struct repo *r, struct repo_lock *held, const struct repo_prune_opts *o,
	       struct repo_prune_result *ret, struct err *e) _must_check_;

/* ---- check (check.c) ---- */

struct repo_check_opts {
	bool read_data;
	/* Read only packs whose number modulo subset_total is subset_index-1 (N/T), when
	 * subset_total > 0. */
	uint32_t subset_index, subset_total;
	/* Packs read with read_data; may be NULL. */
	repo_maint_progress_fn progress;
	void *progress_ud;
	unsigned progress_ms;
};

struct repo_check_result {
	uint64_t snapshots, trees, data_blobs_referenced, packs, packs_read, problems;
	uint64_t unindexed_packs;
};

/* Called once per problem: a one-line description naming the object(s). */
typedef void (*repo_check_fn)(void *ud, const char *msg);

/* Index entries point into existing packs; every blob a snapshot reaches is indexed;
 * with read_data every pack is read and every blob authenticated and re-hashed.
 * Returns 0 when the check ran (problems counted in ret), negative on failure to run. */
int repo_check(struct repo *r, const struct repo_check_opts *o, repo_check_fn fn, void *ud,
	       struct repo_check_result *ret, struct err *e) _must_check_;

/* ---- check extensions (check.c) ---- */

struct repo_check_ext {
	double subset_pct;   /* > 0: read this percentage of packs (chosen by pack id) */
	bool headers;        /* read every pack header and compare it with the index */
	repo_check_fn warn;  /* unreferenced / duplicate blobs; may be NULL */
};

struct repo_check_ext_result {
	uint64_t blobs_unreferenced, blobs_duplicate, headers_read, warnings, damaged_refs;
};

int repo_check_full(struct repo *r, const struct repo_check_opts *o,
		    const struct repo_check_ext *x, repo_check_fn fn, void *ud,
		    struct repo_check_result *ret, struct repo_check_ext_result *ret_x,
		    struct err *e) _must_check_;

/* ---- keys (keys.c) ---- */

struct repo_key_info {
	char name[ID_HEX];
	char host[128];
	char created[64];
	bool current;
};
/* All key files (the current one marked). Caller frees *ret. */
int repo_key_list(struct repo *r, struct repo_key_info **ret, size_t *ret_n,
		  struct err *e) _must_check_;
/* Wrap the master key under a new password; ret_name gets the new key file's name. */
int repo_key_add(struct repo *r, const char *password, size_t pwlen, char ret_name[ID_HEX],
		 struct err *e) _must_check_;
/* name may be a unique prefix. -EBUSY for the last key or the one in use. */
int repo_key_remove(struct repo *r, const char *name, struct err *e) _must_check_;
/* Add a key for the new password, then remove the current one. */
int repo_key_passwd(struct repo *r, const char *password, size_t pwlen, char ret_name[ID_HEX],
		    struct err *e) _must_check_;

/* ---- stats and diff (stats.c, diff.c) ---- */

enum repo_stats_mode { REPO_STATS_RESTORE_SIZE, REPO_STATS_RAW_DATA, _REPO_STATS_MAX,
		       _REPO_STATS_INVALID = -22 };
struct repo_stats {
	uint64_t snapshots, files, dirs, others, bytes, blobs, raw_bytes, stored_bytes;
	uint64_t packs, pack_bytes;
};
/* Over the given snapshots (all when snaps == NULL). Restore size reads each distinct tree
 * segment once and counts it wherever it appears (a forged tree of shared subtrees may
 * hold 2^40 paths); files, dirs, others and bytes then stop at INT64_MAX, not wrap. */
int repo_stats_compute(struct repo *r, enum repo_stats_mode m, const struct snapshot *snaps,
		       size_t n, struct repo_stats *ret, struct err *e) _must_check_;

enum repo_diff_kind { REPO_DIFF_ADDED = '+', REPO_DIFF_REMOVED = '-', REPO_DIFF_MODIFIED = 'M',
		      REPO_DIFF_TYPE = 'T' };
typedef void (*repo_diff_fn)(void *ud, enum repo_diff_kind k, const char *path,
			     enum node_type t);
struct repo_diff_result {
	uint64_t added, removed, modified;
};
/* fn is called as the trees are walked, in full-path byte order (strcmp of the paths);
 * folders with the same segment ids are skipped. Memory: one segment per level per side.
 * A name that is not after the previous one in its folder (forged) is left out. */
int repo_diff(struct repo *r, const struct snapshot *a, const struct snapshot *b,
	      repo_diff_fn fn, void *ud, struct repo_diff_result *ret, struct err *e) _must_check_;
