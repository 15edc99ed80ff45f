/* check's memory of the first and last entry name of tree segments it has read
 * (segbounds.c), kept for the segments of folders of more than one segment only: when
 * check meets such a segment again and skips it, the names on either side of its
 * boundaries can still be compared. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

/* One segment. first_len 0: it holds no valid name (nothing to compare, the order is
 * unchanged across it). unknown: it does not read (missing or malformed, reported where it
 * was met), so the order after it is not known. */
struct segbound {
	uint8_t id[ID_BYTES];
	uint16_t first_len, last_len;
	bool unknown;
	char names[]; /* first_len bytes of the first name, then last_len of the last */
};

/* An open-addressing hash of entries by segment id. Zero-initialized is empty. */
struct segbounds {
	struct segbound **v;
	size_t n, cap;
	size_t bytes; /* the entries' own allocations, for segbounds_bytes */
};

/* Remember id's boundary names (each at most NAME_MAX bytes, else -EINVAL). An id already
 * held keeps its first entry. 1 added, 0 held already, -ENOMEM, -EINVAL. */
int segbounds_put(struct segbounds *s, const uint8_t id[ID_BYTES], const char *first,
                  size_t first_len, const char *last, size_t last_len, bool unknown) _must_check_;
/* id's entry, or NULL. Borrowed: valid until the next put or the release. */
const struct segbound *segbounds_get(const struct segbounds *s, const uint8_t id[ID_BYTES]);
/* Bytes held: the table and the entries. */
size_t segbounds_bytes(const struct segbounds *s);
void segbounds_release(struct segbounds *s);

/* A segment check is reading, in a folder's frame: what it takes to remember the segment's
 * boundary names at its end. One per frame of the walk's stack. */
struct segmark {
	char *first; /* its first valid name (heap), once read */
	size_t first_len;
	bool rec;   /* a segment of a folder of several: remember its boundary names */
	bool clean; /* every valid name came in order, so the folder's last ends as its last */
};

/* Marks for depth frames at least (*m grows, new ones empty). -ENOMEM, -EOVERFLOW. */
int segmarks_reserve(struct segmark **m, size_t *cap, size_t depth) _must_check_;
void segmarks_free(struct segmark *m, size_t cap);
/* A new segment opens in the frame (rec: remember it), or the frame closes (rec false). */
void segmark_reset(struct segmark *m, bool rec);
/* A valid name of the open segment, kept in order or refused as twice or out of order.
 * -ENOMEM. */
int segmark_name(struct segmark *m, const char *name, size_t len, bool refused) _must_check_;
/* The segment id read to its end, last (the folder's last name kept in order) its last
 * name: remember its boundary names if it is to be and all its names came in order (else
 * the last kept name may not be its last name: segbounds_read reads it should it come
 * again). The mark is reset. -ENOMEM. */
int segmark_done(struct segbounds *s, struct segmark *m, const uint8_t id[ID_BYTES],
                 const char *last, size_t last_len) _must_check_;
/* A segment met again but not remembered (read as a folder's only segment, or still open
 * higher up a forged walk): read its first and last valid names, once, and remember them;
 * one that does not read is remembered unknown. *ret borrowed as segbounds_get's. -ENOMEM. */
int segbounds_read(struct segbounds *s, struct repo *r, const struct extent *seg,
                   const struct segbound **ret) _must_check_;
