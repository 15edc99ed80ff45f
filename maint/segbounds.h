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
                  size_t first_len, const char *last, size_t last_len,
                  bool unknown) _must_check_;
/* id's entry, or NULL. Borrowed: valid until the next put or the release. */
const struct segbound *segbounds_get(const struct segbounds *s, const uint8_t id[ID_BYTES]);
/* Bytes held: the table and the entries. */
size_t segbounds_bytes(const struct segbounds *s);
void segbounds_release(struct segbounds *s);
