/* Content-defined chunking (FastCDC, normalized) over a keyed gear table.
 * Pure: no I/O, no allocation after init, no global state. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/attr.h"

#define CHUNKER_MIN_LIMIT (4u * 1024)
#define CHUNKER_MAX_LIMIT (64u * 1024 * 1024)
#define CHUNKER_SEED_BYTES 32

struct chunker_params {
	uint32_t min;
	uint32_t avg;
	uint32_t max;
};

#define CHUNKER_PARAMS_DEFAULT { 512u * 1024, 1024u * 1024, 8u * 1024 * 1024 }

struct chunker {
	struct chunker_params p;
	uint64_t mask_s; /* stricter mask before avg: fewer small chunks */
	uint64_t mask_l; /* looser mask after avg: fewer huge chunks */
	uint64_t gear[256];
};

/* -EINVAL unless min < avg < max, avg a power of two, all within the limits above. */
int chunker_params_check(const struct chunker_params *p) _must_check_;
/* Derive the gear table from a 32-byte secret seed (a repository subkey), so cut points
 * do not fingerprint known files across repositories. */
int chunker_init(struct chunker *c, const struct chunker_params *p,
		 const uint8_t seed[CHUNKER_SEED_BYTES]) _must_check_;
/* Length of the chunk starting at data[0], given len available bytes.
 * Returns 0 when more data is needed (no cut found, len < max, !eof).
 * At eof the rest (<= max) is one chunk. Never returns more than min(len, max). */
size_t chunker_cut(const struct chunker *c, const uint8_t *data, size_t len, bool eof);

/* How far the search for the end of the current chunk has got (chunker_next). */
struct chunker_scan {
	size_t scanned; /* bytes from the chunk's start already searched, without a cut */
};

#define CHUNKER_SCAN_INIT { 0 }

/* chunker_cut, resumable: a call that returns 0 records in s how far it searched, and the
 * next call for the same chunk searches only the bytes after that, with the same result as
 * chunker_cut over all of them. Between calls data may move (the caller slides its buffer)
 * but must start at the same chunk start and hold the same bytes, len never shrinking. A
 * returned cut resets s for the next chunk; so does CHUNKER_SCAN_INIT. */
size_t chunker_next(const struct chunker *c, struct chunker_scan *s, const uint8_t *data,
                    size_t len, bool eof);
