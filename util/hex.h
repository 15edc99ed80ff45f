/* Binary ids <-> lowercase hex. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/attr.h"

#define ID_BYTES 32
#define ID_HEX   (2 * ID_BYTES + 1)

/* out must hold 2*n+1 bytes; always NUL-terminated. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2*n hex digits; -EINVAL otherwise. */
int hex_decode(const char *in, uint8_t *out, size_t n) _must_check_;
/* Only hex digits; exactly 2*n of them unless n is 0 (then any non-zero count). */
bool hex_valid(const char *s, size_t n);
