/* Bounded growable byte buffer: the maximum is fixed at init and growth past it is -EFBIG. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "util/attr.h"

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b, size_t max);
/* Make room for `extra` more bytes: -EFBIG past max, -EOVERFLOW, -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra) _must_check_;
int buf_append(struct buf *b, const void *p, size_t n) _must_check_;
int buf_put_u8(struct buf *b, uint8_t v) _must_check_;
int buf_put_le32(struct buf *b, uint32_t v) _must_check_;
int buf_put_le64(struct buf *b, uint64_t v) _must_check_;
/* LEB128 unsigned varint. */
int buf_put_varint(struct buf *b, uint64_t v) _must_check_;
/* Append a NUL-terminated formatted string (the NUL is not counted in len). */
int buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3) _must_check_;
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
/* Move the bytes out; the caller frees them; the buffer is left empty. */
uint8_t *buf_take(struct buf *b, size_t *ret_len);

/* Bounded reader over a byte span: every get fails with -EBADMSG past the end. */
struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void rd_init(struct rd *r, const void *p, size_t len);
int rd_u8(struct rd *r, uint8_t *ret) _must_check_;
int rd_le32(struct rd *r, uint32_t *ret) _must_check_;
int rd_le64(struct rd *r, uint64_t *ret) _must_check_;
int rd_varint(struct rd *r, uint64_t *ret) _must_check_;
/* Borrow n bytes in place (valid while the underlying span lives). */
int rd_bytes(struct rd *r, size_t n, const uint8_t **ret) _must_check_;
static inline size_t rd_left(const struct rd *r)
{
	return r->len - r->off;
}
