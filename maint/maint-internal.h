/* State shared between maint/ files: the heap stack of folders that the tree walks
 * (stats.c's repo_walk and check.c's check_dir) use instead of C-stack recursion, since a
 * pod can nest folders thousands deep; and the progress throttle of check and prune. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "maint/maint.h"

/* One folder being walked: a copy of its segments, the next one, the open iterator, and
 * the caller's path length to restore when the folder is done. */
struct walk_frame {
	struct extent *segs;
	size_t n, next, saved;
	struct tree_iter it;
	bool open;
	/* check: the last name of this folder seen in order (prev_len 0: none yet, or a
	 * segment before was skipped as checked already, so the order is not known). */
	size_t prev_len;
	char prev[NAME_MAX + 1];
};

/* Push a folder made of segs (copied). -ENOMEM. */
int walk_push(struct walk_frame **st, size_t *depth, size_t *cap, const struct extent *segs,
	      size_t n, size_t saved) _must_check_;
/* Release every frame left on the stack and the stack itself. */
void walk_stack_free(struct walk_frame *st, size_t depth);

/* The engines' shared throttle (progress.c): callers hold whatever serializes the calls. */
struct repo_maint_meter {
	repo_maint_progress_fn fn;
	void *ud;
	unsigned ms;
	uint64_t last_ms; /* monotonic milliseconds of the last call */
	struct repo_maint_progress p;
};
/* Add to the done counts; calls fn when ms have passed since the last call, or when the
 * phase is complete. */
void repo_maint_meter_add(struct repo_maint_meter *m, uint64_t packs, uint64_t bytes);

/* Index files by name, as listed once (ixwalk.c). */
struct maint_ixnames {
	char (*v)[ID_HEX];
	size_t n, cap;
};
int maint_ixnames(struct repo *r, struct maint_ixnames *ret, struct err *e) _must_check_;
void maint_ixnames_release(struct maint_ixnames *s);
/* The entries of index files names[0..n), in file order, nothing gathered: begin at a
 * pack's first listing, blob per entry of that listing, end after its last; later listings
 * of a pack are skipped. Memory: one index file and a set of pack ids. < 0 from any
 * callback stops the walk and is returned. file (may be NULL) is told which of names is
 * read next. */
struct maint_ixwalk_ops {
	int (*file)(void *ud, size_t i);
	int (*begin)(void *ud, const uint8_t pack[ID_BYTES]);
	int (*blob)(void *ud, const struct repo_ix_blob *b);
	int (*end)(void *ud);
};
int maint_ixwalk(struct repo *r, char (*names)[ID_HEX], size_t n,
		 const struct maint_ixwalk_ops *ops, void *ud, struct err *e) _must_check_;
