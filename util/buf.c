/* Owns struct buf growth policy (doubling, capped at max) and the bounded reader. */
#include "util/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (ckd_add(&need, b->len, extra))
		return -EOVERFLOW;
	if (need > b->max)
		return -EFBIG;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		if (ckd_mul(&cap, cap, (size_t)2))
			return -EOVERFLOW;
	if (cap > b->max)
		cap = b->max;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = buf_reserve(b, n);
	if (r < 0)
		return r;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int buf_put_le32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };

	return buf_append(b, x, 4);
}

int buf_put_le64(struct buf *b, uint64_t v)
{
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[i] = v >> (8 * i);
	return buf_append(b, x, 8);
}

int buf_put_varint(struct buf *b, uint64_t v)
{
	uint8_t x[10];
	size_t n = 0;

	do {
		x[n] = v & 0x7f;
		v >>= 7;
		if (v)
			x[n] |= 0x80;
		n++;
	} while (v);
	return buf_append(b, x, n);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n + 1);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

void buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

uint8_t *buf_take(struct buf *b, size_t *ret_len)
{
	uint8_t *p = b->p;

	if (ret_len)
		*ret_len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

int rd_bytes(struct rd *r, size_t n, const uint8_t **ret)
{
	if (n > rd_left(r))
		return -EBADMSG;
	*ret = r->p + r->off;
	r->off += n;
	return 0;
}

int rd_u8(struct rd *r, uint8_t *ret)
{
	const uint8_t *p;
	int e = rd_bytes(r, 1, &p);

	if (e < 0)
		return e;
	*ret = p[0];
	return 0;
}

int rd_le32(struct rd *r, uint32_t *ret)
{
	const uint8_t *p;
	int e = rd_bytes(r, 4, &p);

	if (e < 0)
		return e;
	*ret = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return 0;
}

int rd_le64(struct rd *r, uint64_t *ret)
{
	const uint8_t *p;
	uint64_t v = 0;
	int e = rd_bytes(r, 8, &p);

	if (e < 0)
		return e;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	*ret = v;
	return 0;
}

int rd_varint(struct rd *r, uint64_t *ret)
{
	uint64_t v = 0;
	uint8_t c;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		int e = rd_u8(r, &c);

		if (e < 0)
			return e;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}
