/* State shared between the S3 backend files: the endpoint, credentials, the pool of
 * libcurl handles and the request engine (s3http.c). */
#pragma once
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "repo/backend.h"
#include "s3/s3xml.h"
#include "util/buf.h"
#include "util/err.h"

#define S3_MIN_PART   (5u << 20) /* S3's minimum size of every part but the last */
#define S3_MAX_PARTS  10000
#define S3_MAX_ERRREP (64u << 10)

struct s3_creds {
	char *access_key; /* not secret (it appears in every Authorization header) */
	char *secret;     /* sodium_malloc'd, wiped on free */
	char *token;      /* sodium_malloc'd or NULL */
};

struct s3_conf {
	bool https;
	bool vhost;     /* virtual-hosted style: BUCKET.HOST/KEY */
	char *host;     /* "host", "host:port" or "[v6]:port", as sent in Host */
	char *hostname; /* the name or address alone */
	char *bucket;
	char *prefix; /* "" or "a/b/" (always ending in '/') */
	char region[64];
	char *ca_file;
	bool insecure_tls;
	unsigned connections;
	unsigned max_attempts;
	unsigned retry_base_ms;
	long stall_seconds; /* below 1 KiB/s for this long aborts a transfer */
	/* s3.min-rate: a request lasting longer than twice stall_seconds plus its size at this
	 * many bytes a second is aborted (a server trickling just above 1 KiB/s would
	 * otherwise hold a 16 MiB pack for hours); 0 disables. */
	uint64_t min_rate;
	long connect_timeout;
	uint64_t multipart_threshold;
	uint64_t part_size;
	long clock_offset; /* s3.clock-offset: seconds added to this machine's clock */
};

struct s3 {
	struct backend be;
	struct s3_conf conf;
	struct s3_creds creds;
	pthread_mutex_t lock; /* region and clock offset (the server may correct them), the pool */
	pthread_cond_t cond;
	CURL **idle;
	unsigned n_idle, n_live;
	long clock_offset; /* seconds from this machine's clock to the server's */
};

/* s3conf.c: parse "http[s]://HOST[:PORT]/BUCKET[/PREFIX]" or "HOST/BUCKET[/PREFIX]"
 * (HOST may be "[v6 address]"; the path is percent-decoded) and the s3.* options into c.
 * -EINVAL with a message for a bad location or option; messages never include
 * credentials (a location with user info is refused without being echoed). On failure
 * c may hold partial state: s3_conf_release() it. */
int s3_conf_parse(const char *spec, const struct backend_options *o, struct s3_conf *c,
                  struct err *e) _must_check_;
void s3_conf_release(struct s3_conf *c);
/* s3creds.c: credentials from s3.credentials-file/s3.profile, the AWS_* variables, or the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials). -EACCES if none. */
int s3_creds_load(const struct backend_options *o, struct s3_creds *c, struct err *e) _must_check_;
void s3_creds_release(struct s3_creds *c);

/* One S3 request; the body comes from memory (mem) or from fd at fd_off. */
struct s3_req {
	const char *op;     /* "put", "get", ... for messages */
	const char *method; /* GET PUT HEAD DELETE POST */
	const char *key;    /* full object key, NULL for the bucket itself */
	const char *name;   /* for messages when key is NULL ("repo/keys/" for a listing) */
	const char *query;  /* already encoded, NULL for none */
	const uint8_t *mem;
	int fd; /* -1 when the body is in mem (or absent) */
	uint64_t fd_off;
	uint64_t len;                  /* body length (Content-MD5 is always sent) */
	bool verify_etag;              /* a 32-hex ETag must equal the body's MD5 */
	bool range;                    /* send Range: bytes=range_off-(range_off+range_len-1) */
	uint64_t range_off, range_len; /* range_len 0: to the end */
	const char *if_match;          /* If-Match: this ETag, NULL for none */
	struct buf *out;               /* 2xx body appended here; NULL discards */
	backend_watch_fn watch;        /* NULL, or told after each append to out */
	void *watch_ud;
	unsigned max_attempts; /* 0: s3.retries */
};

/* What messages call rq's object: its name, its key, or "(bucket)". */
static inline const char *s3_req_name(const struct s3_req *rq)
{
	return rq->name ? rq->name : rq->key ? rq->key : "(bucket)";
}

struct s3_resp {
	long status;
	char etag[128];
	uint64_t length; /* Content-Length of the reply */
	bool have_length;
	char region_hint[64]; /* x-amz-bucket-region */
	char content_range[96];
	time_t server_date; /* the reply's Date, 0 when absent */
	char body_md5[33];  /* hex MD5 of the body we sent */
	struct s3xml_error xe;
};

/* Signs, sends and retries (backoff with jitter) a request. A GET into rq->out whose
 * body is cut resumes from the bytes it has (Range from there, If-Match the first
 * reply's ETag): -ESTALE when the object changed meanwhile. Returns 0 for 2xx; maps
 * other final replies to -errno with a message naming rq->op, rq->key and the status:
 * NoSuchKey/404 -ENOENT, NoSuchBucket -ENOENT, AccessDenied/signature -EACCES, skew
 * and malformed replies -EPROTO, unreachable -EHOSTUNREACH. rs is filled either way. */
int s3_request(struct s3 *s, const struct s3_req *rq, struct s3_resp *rs,
               struct err *e) _must_check_;
/* s3resume.c: the state of a GET resumed after a cut (zeroed before the first attempt). */
struct s3_resume {
	uint64_t done;      /* body bytes kept in rq->out */
	uint64_t total;     /* body bytes the first reply announced */
	char etag[128];     /* the first reply's ETag; "" while nothing can be resumed */
	unsigned free_used; /* resumes that did not count as failures */
};
/* After a retryable failure of an attempt whose reply was rs: keeps the bytes that came
 * (rm->done) when the request can go on from them (a GET into rq->out whose first reply
 * was the body asked for, with a length and an ETag). True when the attempt is not to
 * count as a failure: it brought 256 KiB or more, and fewer than 32 did so before. */
bool s3_resume_keep(const struct s3_req *rq, const struct s3_resp *rs, size_t out_base,
                    struct s3_resume *rm);
/* The next attempt's request in rr: rq itself, or once resuming, Range from the first
 * missing byte and If-Match. *skip: bytes to drop from a 200 (Range ignored); *room:
 * bytes still wanted. rr borrows rm's ETag. */
void s3_resume_req(const struct s3_req *rq, const struct s3_resume *rm, struct s3_req *rr,
                   uint64_t *skip, uint64_t *room);
/* A reply to a resumed attempt: -ESTALE with a message when the object changed (412,
 * 416, or another ETag), -EPROTO when a 206 does not start at the byte asked for, else 0. */
int s3_resume_check(const struct s3_req *rq, const struct s3_req *rr, const struct s3_resp *rs,
                    const struct s3_resume *rm, struct err *e) _must_check_;
/* A 206 reply to rr (a ranged GET, first or resumed) must start at the byte asked for:
 * -EPROTO with a message when its Content-Range is missing or starts elsewhere. */
int s3_range_check(const struct s3_req *rq, const struct s3_req *rr, const struct s3_resp *rs,
                   struct err *e) _must_check_;
/* "<prefix><dir>/<name>" (data sharded by the first two characters); -EINVAL on a
 * name that is not lowercase hex. */
int s3_obj_key(const struct s3 *s, enum obj_type t, const char *name, char *out,
               size_t n) _must_check_;
/* s3multi.c: multipart upload of rq's body under key, aborted on failure. */
int s3_put_multipart(struct s3 *s, const char *key, const struct s3_req *body,
                     struct err *e) _must_check_;
/* DeleteObjects for up to 1000 keys (Content-MD5 included: Swift requires it). 0 only
 * when the reply accounts for every key as deleted or already missing. */
int s3_delete_many(struct s3 *s, const char *const *keys, size_t n, struct err *e) _must_check_;
/* The check behind it, on a reply: -EPROTO for a malformed reply, one naming a key not
 * asked for, or one silent about a key; the first <Error> entry's code otherwise. */
int s3_delete_confirm(const char *const *keys, size_t n, const void *reply, size_t len,
                      struct err *e) _must_check_;
