/* Parsers for the S3 XML replies cairn reads (expat): ListObjectsV2, Error,
 * InitiateMultipartUpload, CompleteMultipartUpload and DeleteObjects. Pure: they take
 * the reply bytes. Every reply is bounded (S3XML_MAX_REPLY), every text field too
 * (S3XML_MAX_TEXT), DOCTYPEs are refused (no entity expansion), and anything that is
 * not well-formed or has an unexpected root element is -EPROTO. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/attr.h"

#define S3XML_MAX_REPLY (16u << 20)
#define S3XML_MAX_TEXT  4096
#define S3XML_MAX_KEY   1024 /* S3's own key length limit */

struct s3xml_error {
	char code[64];     /* "NoSuchKey", "SlowDown", ... ("" when absent) */
	char message[256]; /* the server's text, truncated */
	char region[64];   /* <Region> of AuthorizationHeaderMalformed / PermanentRedirect */
};

/* Called per <Contents>; a negative return stops parsing and is returned. */
typedef int (*s3xml_entry_fn)(void *ud, const char *key, uint64_t size);

struct s3xml_list {
	bool truncated;
	char next_token[S3XML_MAX_KEY + 1];
	uint64_t count;
};

int s3xml_list(const void *p, size_t n, s3xml_entry_fn fn, void *ud,
               struct s3xml_list *ret) _must_check_;
/* Parses an <Error> document. */
int s3xml_error(const void *p, size_t n, struct s3xml_error *ret) _must_check_;
/* <InitiateMultipartUploadResult><UploadId>: -EPROTO when missing or empty. */
int s3xml_upload_id(const void *p, size_t n, char *out, size_t out_size) _must_check_;
/* A CompleteMultipartUpload reply can be a 200 carrying an <Error>: returns 0 and the
 * <ETag> (quotes kept) for a result, 1 and ret_err for an error document. */
int s3xml_complete(const void *p, size_t n, char *etag, size_t etag_size,
                   struct s3xml_error *ret_err) _must_check_;
/* DeleteObjects reply: fn(ud, key, code, message) per <Error> entry, and per <Deleted>
 * entry with code and message "" (one without a <Key> is -EPROTO); a negative return
 * stops and is returned. Returns the number of <Deleted> entries. */
typedef int (*s3xml_delete_fn)(void *ud, const char *key, const char *code, const char *msg);
int s3xml_delete(const void *p, size_t n, s3xml_delete_fn fn, void *ud) _must_check_;
