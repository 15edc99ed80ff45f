/* State shared between maint/ files: the heap stack of folders that the tree walks
 * (stats.c's repo_walk and check.c's check_dir) use instead of C-stack recursion, since a
 * pod can nest folders thousands deep; and the progress throttle of check and prune. */
#pragma once
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
