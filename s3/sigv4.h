/* AWS Signature Version 4 for S3 requests: canonical request, string to sign and the
 * Authorization header. Pure: no I/O, no clock; the caller passes the timestamp. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/attr.h"
#include "util/buf.h"

#define SIGV4_MAX_HEADERS 32
#define SIGV4_AMZ_DATE    17 /* "YYYYMMDDTHHMMSSZ" + NUL */
#define SIGV4_HEX_SHA256  65

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_input {
	const char *method;
	/* Decoded path ("/bucket/key"); it is percent-encoded here exactly as the wire
	 * URL must be (sigv4_uri_encode with keep_slash), never normalised (S3 rules). */
	const char *path;
	/* Query as sent, without '?': "a=b&c" (NULL or "" for none). Each name and value
	 * is decoded and re-encoded, then the pairs are sorted. */
	const char *query;
	/* Every header to sign, host and x-amz-* included; duplicates are joined by ','. */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash; /* hex SHA-256 of the body or "UNSIGNED-PAYLOAD" */
	const char *amz_date;     /* "YYYYMMDDTHHMMSSZ" */
	const char *region;
	const char *service; /* "s3" */
};

/* Percent-encode s[0..n) per SigV4 (unreserved A-Za-z0-9-._~ kept, '/' kept when
 * keep_slash); appends to out. -EFBIG past out->max. */
int sigv4_uri_encode(struct buf *out, const char *s, size_t n, bool keep_slash) _must_check_;
/* Appends the canonical request (NUL-terminated, NUL not counted). -EINVAL on more
 * than SIGV4_MAX_HEADERS headers, a header name with no characters or a bad escape. */
int sigv4_canonical_request(const struct sigv4_input *in, struct buf *out) _must_check_;
/* Appends the string to sign for a canonical request. */
int sigv4_string_to_sign(const struct sigv4_input *in, const char *canonical,
                         struct buf *out) _must_check_;
/* Appends the Authorization header value ("AWS4-HMAC-SHA256 Credential=..."). The
 * secret is only used for the key derivation and never copied out. */
int sigv4_authorization(const struct sigv4_input *in, const char *access_key, const char *secret,
                        struct buf *out) _must_check_;
/* Lowercase hex SHA-256 of p[0..n). */
void sigv4_sha256_hex(const void *p, size_t n, char out[SIGV4_HEX_SHA256]);
/* t as "YYYYMMDDTHHMMSSZ" (UTC). */
void sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE]);
