/* MD5 (RFC 1321) for S3's Content-MD5 header and ETag checks only: libsodium has no
 * MD5, and integrity of stored data never rests on it (objects are AEAD-sealed). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define S3MD5_BYTES 16

struct s3md5 {
	uint32_t s[4];
	uint64_t len;
	uint8_t blk[64];
};

void s3md5_init(struct s3md5 *m);
void s3md5_update(struct s3md5 *m, const void *p, size_t n);
void s3md5_final(struct s3md5 *m, uint8_t out[S3MD5_BYTES]);
void s3md5(const void *p, size_t n, uint8_t out[S3MD5_BYTES]);
