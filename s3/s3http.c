/* Owns the S3 request engine: a pool of reusable libcurl handles, SigV4 signing per
 * attempt, bounded replies, retries with exponential backoff and full jitter, and the
 * mapping of final failures to one errno and one clear message. */
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3/s3-internal.h"
#include "s3/sigv4.h"
#include "util/fsutil.h"
#include "util/hex.h"

#include "util/banned.h"

#define EMPTY_SHA256   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_BACKOFF_MS 10000u
#define MAX_REDIRECTS  2
#define DIGEST_CHUNK   (256u << 10)
/* libcurl's receive buffer for GETs (16 KiB by default): a pack run arrives in fewer,
 * larger writes into the reply buffer. */
#define RECV_BUFFER (256L << 10)

struct xfer {
	const struct s3_req *rq;
	struct s3_resp *rs;
	uint64_t pos;
	uint64_t skip;     /* bytes to drop from a 200 (a ranged GET whose Range was ignored) */
	uint64_t room;     /* bytes still wanted from a ranged or resumed GET */
	uint64_t unwanted; /* bytes of a 2xx body no one reads (PUT, DELETE, HEAD replies) */
	bool full;         /* a ranged GET brought the range: the rest is not read */
	bool err_cut;      /* the error document passed S3_MAX_ERRREP: its head is kept */
	struct buf errbody;
	int werr;
	const char *werr_why;       /* a -EPROTO werr: what the reply did wrong */
	char cerr[CURL_ERROR_SIZE]; /* libcurl's own account of a failure (no headers in it) */
	struct timespec t0;         /* the attempt's start, for s3.min-rate */
	uint64_t min_rate;
	long grace_s;
	bool too_slow; /* on_progress aborted the attempt, saying why in slow */
	char slow[160];
};

/* ---- handle pool: bounded by s3.connections; each handle keeps its connection ---- */

static int pool_get(struct s3 *s, CURL **ret)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->lock);
	while (!s->n_idle && s->n_live >= s->conf.connections)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->n_idle)
		h = s->idle[--s->n_idle];
	else if ((h = curl_easy_init()))
		s->n_live++;
	pthread_mutex_unlock(&s->lock);
	if (!h)
		return -ENOMEM;
	*ret = h;
	return 0;
}

static void pool_put(struct s3 *s, CURL *h)
{
	pthread_mutex_lock(&s->lock);
	s->idle[s->n_idle++] = h;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- libcurl callbacks ---- */

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	uint64_t left = x->rq->len - x->pos;
	size_t n = size * nmemb < left ? size * nmemb : (size_t)left;

	if (x->rq->fd >= 0) {
		ssize_t k = pread_full(x->rq->fd, p, n, (off_t)(x->rq->fd_off + x->pos));

		if (k < 0 || (size_t)k != n)
			return CURL_READFUNC_ABORT; /* the spool file shrank: never send garbage */
	} else if (n) {
		memcpy(p, x->rq->mem + x->pos, n);
	}
	x->pos += n;
	return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->rq->len)
		return CURL_SEEKFUNC_FAIL;
	x->pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/* Every reply body is bounded, whatever the server sends: returning short makes libcurl
 * stop reading (CURLE_WRITE_ERROR), which s3_request() then reads through x. A server
 * streaming without end (error page, infinite chunked body) is cut, never read forever. */
static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	int r;

	if (x->rs->status >= 200 && x->rs->status < 300) {
		size_t k = n;

		if (!x->rq->out) {
			/* PUT and DELETE replies carry nothing we read; S3 sends none or a
			 * few hundred bytes. */
			x->unwanted += n;
			if (x->unwanted <= S3_MAX_ERRREP)
				return n;
			x->werr = -EPROTO;
			x->werr_why = "a reply body over 64 KiB where none is expected";
			return 0;
		}
		if (x->rs->status == 200 && x->skip) {
			size_t d = x->skip < k ? (size_t)x->skip : k;

			p += d, k -= d, x->skip -= d;
		}
		if (k > x->room) {
			/* A 200 to a ranged GET (Range ignored), or a 206 longer than asked
			 * (its start is checked): the range is in, the rest is not read. */
			k = (size_t)x->room;
			x->full = true;
		}
		x->room -= k;
		r = buf_append(x->rq->out, p, k);
		if (r < 0) {
			x->werr = r;
			return 0;
		}
		if (k && x->rq->watch)
			x->rq->watch(x->rq->watch_ud, x->rq->out);
		return x->full ? 0 : n;
	}
	/* Error documents are small: keep the head of a long one and stop reading there
	 * (the status is known; the head is parsed as far as it goes). */
	if (buf_append(&x->errbody, p, n) < 0) {
		x->err_cut = true;
		return 0;
	}
	return n;
}

static void hdr_value(const char *v, size_t n, char *out, size_t size)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	snprintf(out, size, "%.*s", (int)n, v);
	/* Header values reach messages: no control byte (a terminal escape, a line break)
	 * from the server gets to the user's one error line. */
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	const char *colon = memchr(p, ':', n);
	char num[32];

	if (n > 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);

		/* A new status line (after 100 Continue or a redirect) starts afresh. */
		x->rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->rs->etag[0] = x->rs->region_hint[0] = x->rs->content_range[0] = 0;
		x->rs->have_length = false;
		x->rs->server_date = 0;
		return n;
	}
	if (!colon)
		return n;
	if ((size_t)(colon - p) == 4 && strncasecmp(p, "etag", 4) == 0) {
		hdr_value(colon + 1, n - 5, x->rs->etag, sizeof(x->rs->etag));
	} else if ((size_t)(colon - p) == 14 && strncasecmp(p, "content-length", 14) == 0) {
		hdr_value(colon + 1, n - 15, num, sizeof(num));
		x->rs->length = strtoull(num, NULL, 10);
		x->rs->have_length = true;
	} else if ((size_t)(colon - p) == 13 && strncasecmp(p, "content-range", 13) == 0) {
		hdr_value(colon + 1, n - 14, x->rs->content_range, sizeof(x->rs->content_range));
	} else if ((size_t)(colon - p) == 19 && strncasecmp(p, "x-amz-bucket-region", 19) == 0) {
		hdr_value(colon + 1, n - 20, x->rs->region_hint, sizeof(x->rs->region_hint));
	} else if ((size_t)(colon - p) == 4 && strncasecmp(p, "date", 4) == 0) {
		char d[64];
		time_t t;

		hdr_value(colon + 1, n - 5, d, sizeof(d));
		t = curl_getdate(d, NULL);
		x->rs->server_date = t > 0 ? t : 0;
	}
	return n;
}

/* ---- request construction ---- */

/* SHA-256 for SigV4 and MD5 for Content-MD5 in one pass over the body, through OpenSSL
 * (which libcurl links already): SHA-NI makes the hash cheap beside the upload. */
static int digest_update(EVP_MD_CTX *sha, EVP_MD_CTX *md5, const void *p, size_t n)
{
	return EVP_DigestUpdate(sha, p, n) == 1 && EVP_DigestUpdate(md5, p, n) == 1 ? 0 : -EIO;
}

static int body_digests(const struct s3_req *rq, char sha[65], char md5b64[25], char md5hex[33])
{
	EVP_MD_CTX *hs = EVP_MD_CTX_new(), *hm = EVP_MD_CTX_new();
	uint8_t h[EVP_MAX_MD_SIZE], m[EVP_MAX_MD_SIZE], *chunk = NULL;
	unsigned hl = 0, ml = 0;
	int r = -ENOMEM;

	if (!hs || !hm)
		goto fail;
	r = -EIO;
	if (EVP_DigestInit_ex(hs, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(hm, EVP_md5(), NULL) != 1)
		goto fail;
	r = 0;
	if (rq->fd >= 0) {
		chunk = malloc(DIGEST_CHUNK);
		if (!chunk) {
			r = -ENOMEM;
			goto fail;
		}
		for (uint64_t off = 0; off < rq->len && r == 0;) {
			size_t n =
			    rq->len - off < DIGEST_CHUNK ? (size_t)(rq->len - off) : DIGEST_CHUNK;
			ssize_t k = pread_full(rq->fd, chunk, n, (off_t)(rq->fd_off + off));

			if (k < 0 || (size_t)k != n) {
				r = k < 0 ? (int)k : -EIO;
				goto fail;
			}
			r = digest_update(hs, hm, chunk, n);
			off += n;
		}
	} else if (rq->len) {
		r = digest_update(hs, hm, rq->mem, rq->len);
	}
	if (r < 0)
		goto fail;
	if (EVP_DigestFinal_ex(hs, h, &hl) != 1 || EVP_DigestFinal_ex(hm, m, &ml) != 1 ||
	    hl != 32 || ml != 16) {
		r = -EIO;
		goto fail;
	}
	hex_encode(h, 32, sha);
	hex_encode(m, 16, md5hex);
	sodium_bin2base64(md5b64, 25, m, 16, sodium_base64_VARIANT_ORIGINAL);
fail:
	free(chunk);
	EVP_MD_CTX_free(hs);
	EVP_MD_CTX_free(hm);
	return r;
}

struct signed_req {
	struct buf url;
	struct curl_slist *hdrs;
};

static int add_hdr(struct curl_slist **l, const char *name, const char *value)
{
	char line[2048];
	struct curl_slist *n;
	int k = snprintf(line, sizeof(line), "%s: %s", name, value);

	if (k < 0 || (size_t)k >= sizeof(line))
		return -EOVERFLOW;
	n = curl_slist_append(*l, line);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

static int build(struct s3 *s, const struct s3_req *rq, const char *sha, const char *md5b64,
                 struct signed_req *out)
{
	char host[512], date[SIGV4_AMZ_DATE], range[64], region[64];
	struct sigv4_header h[7];
	struct buf path = BUF_INIT, auth = BUF_INIT;
	size_t nh = 0;
	int r;

	long offset;

	pthread_mutex_lock(&s->lock);
	snprintf(region, sizeof(region), "%s", s->conf.region);
	offset = s->clock_offset;
	pthread_mutex_unlock(&s->lock);
	buf_init(&path, 4096);
	buf_init(&auth, 4096);
	if (s->conf.vhost)
		r = snprintf(host, sizeof(host), "%s.%s", s->conf.bucket, s->conf.host);
	else
		r = snprintf(host, sizeof(host), "%s", s->conf.host);
	if (r < 0 || (size_t)r >= sizeof(host))
		return -EOVERFLOW;
	r = s->conf.vhost ? buf_printf(&path, "/%s", rq->key ? rq->key : "")
	                  : buf_printf(&path, "/%s%s%s", s->conf.bucket, rq->key ? "/" : "",
	                               rq->key ? rq->key : "");
	if (r < 0)
		goto fail;
	/* The server's clock, as far as a skew reply told us (S3 allows 15 minutes). */
	sigv4_amz_date(time(NULL) + offset, date);
	h[nh++] = (struct sigv4_header){ "host", host };
	h[nh++] = (struct sigv4_header){ "x-amz-date", date };
	h[nh++] = (struct sigv4_header){ "x-amz-content-sha256", sha };
	if (s->creds.token)
		h[nh++] = (struct sigv4_header){ "x-amz-security-token", s->creds.token };
	if (md5b64)
		h[nh++] = (struct sigv4_header){ "content-md5", md5b64 };
	if (rq->range) {
		if (rq->range_len)
			snprintf(range, sizeof(range), "bytes=%llu-%llu",
			         (unsigned long long)rq->range_off,
			         (unsigned long long)(rq->range_off + rq->range_len - 1));
		else
			snprintf(range, sizeof(range), "bytes=%llu-",
			         (unsigned long long)rq->range_off);
		h[nh++] = (struct sigv4_header){ "range", range };
	}
	if (rq->if_match)
		h[nh++] = (struct sigv4_header){ "if-match", rq->if_match };
	struct sigv4_input in = { .method = rq->method,
		                  .path = (const char *)path.p,
		                  .query = rq->query,
		                  .headers = h,
		                  .n_headers = nh,
		                  .payload_hash = sha,
		                  .amz_date = date,
		                  .region = region,
		                  .service = "s3" };
	r = sigv4_authorization(&in, s->creds.access_key, s->creds.secret, &auth);
	if (r >= 0)
		r = buf_printf(&out->url, "%s://%s", s->conf.https ? "https" : "http", host);
	if (r >= 0)
		r = sigv4_uri_encode(&out->url, (const char *)path.p, path.len, true);
	if (r >= 0)
		r = buf_printf(&out->url, "%s%s", rq->query ? "?" : "", rq->query ? rq->query : "");
	for (size_t i = 0; i < nh && r >= 0; i++)
		r = add_hdr(&out->hdrs, h[i].name, h[i].value);
	if (r >= 0)
		r = add_hdr(&out->hdrs, "Authorization", (const char *)auth.p);
	/* No 100-continue round trip: a rejected upload costs one body, and S3 answers fast. */
	if (r >= 0)
		r = add_hdr(&out->hdrs, "Expect", "");
fail:
	sodium_memzero(auth.p, auth.cap);
	buf_release(&auth);
	buf_release(&path);
	return r;
}

/* s3.min-rate: libcurl's low-speed limit ends a transfer below 1 KiB/s, but one that
 * trickles just above it would hold a request (and the backup) for hours. An attempt may
 * last the stall grace plus its size at min_rate: the size is the upload's, plus the
 * reply's Content-Length, or what arrived so far when the reply has none (chunked). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = ud;
	struct timespec now;
	double elapsed, allowed;
	uint64_t size;

	(void)ulnow;
	if (!x->min_rate)
		return 0;
	size = (uint64_t)(ultotal > 0 ? ultotal : 0) +
	       (uint64_t)(dltotal > dlnow ? dltotal : (dlnow > 0 ? dlnow : 0));
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = (double)(now.tv_sec - x->t0.tv_sec) + (now.tv_nsec - x->t0.tv_nsec) / 1e9;
	allowed = (double)x->grace_s + (double)size / (double)x->min_rate;
	if (elapsed <= allowed)
		return 0;
	x->too_slow = true;
	snprintf(x->slow, sizeof(x->slow),
	         "too slow: %llu of %llu bytes in %.0f s (under s3.min-rate, %llu bytes/s, "
	         "after a grace of %ld s)",
	         (unsigned long long)(dlnow + ulnow), (unsigned long long)size, elapsed,
	         (unsigned long long)x->min_rate, x->grace_s);
	return 1;
}

static void setup(struct s3 *s, CURL *c, const struct s3_req *rq, struct xfer *x,
                  struct signed_req *sr)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, (const char *)sr->url.p);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sr->hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->conf.connect_timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->conf.stall_seconds);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	/* "Operation too slow. Less than 1024 bytes/sec ..." says more than "Timeout". */
	x->cerr[0] = 0;
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->cerr);
	x->too_slow = false;
	x->min_rate = s->conf.min_rate;
	x->grace_s = 2 * s->conf.stall_seconds; /* past libcurl's own stall check */
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (s->conf.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->conf.ca_file);
	if (s->conf.insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->len);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
		if (rq->method[1] == 'O')
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else {
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, RECV_BUFFER);
	}
}

/* ---- classification ---- */

static bool curl_retryable(CURLcode cr)
{
	switch (cr) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

static bool status_retryable(const struct s3_resp *rs)
{
	static const char *const codes[] = { "SlowDown", "RequestTimeout", "InternalError",
		                             "ServiceUnavailable", "Throttling" };

	if (rs->status == 500 || rs->status == 502 || rs->status == 503 || rs->status == 504 ||
	    rs->status == 429)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(codes); i++)
		if (strcmp(rs->xe.code, codes[i]) == 0)
			return true;
	return false;
}

/* A region name the server sent, if it looks like one (it goes into messages). */
static const char *server_region(const struct s3_resp *rs)
{
	const char *r = rs->region_hint[0] ? rs->region_hint : rs->xe.region;
	size_t n = strlen(r);

	if (!n || n >= sizeof(rs->region_hint) ||
	    strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return NULL;
	return r;
}

/* The region to re-sign with, when the server names one that differs. A 301 is not
 * followed: it means another endpoint, which re-signing cannot reach. */
static const char *region_hint(struct s3 *s, const struct s3_resp *rs)
{
	const char *hint = server_region(rs);
	bool differs;

	if (rs->status != 400 && !(rs->status == 403 && rs->region_hint[0]))
		return NULL;
	if (rs->status == 400 && strcmp(rs->xe.code, "AuthorizationHeaderMalformed") != 0)
		return NULL;
	if (!hint)
		return NULL;
	pthread_mutex_lock(&s->lock);
	differs = strcmp(hint, s->conf.region) != 0;
	pthread_mutex_unlock(&s->lock);
	return differs ? hint : NULL;
}

/* RequestTimeTooSkewed (or a bodiless 403 on HEAD with a Date far from ours): take the
 * server's clock as the reference. True when the offset changed, so a retry can help. */
static bool clock_resync(struct s3 *s, const struct s3_req *rq, const struct s3_resp *rs)
{
	bool skew = strcmp(rs->xe.code, "RequestTimeTooSkewed") == 0;
	long off, diff;

	if (!rs->server_date)
		return false;
	pthread_mutex_lock(&s->lock);
	off = (long)(rs->server_date - time(NULL));
	diff = labs(off - s->clock_offset);
	if (!skew && rs->status == 403 && !rs->xe.code[0] && strcmp(rq->method, "HEAD") == 0)
		skew = diff > 5 * 60;
	skew = skew && diff > 1;
	if (skew)
		s->clock_offset = off;
	pthread_mutex_unlock(&s->lock);
	return skew;
}

static bool etag_matches(const struct s3_resp *rs)
{
	char t[sizeof(rs->etag)];
	size_t n = strlen(rs->etag);

	snprintf(t, sizeof(t), "%s", rs->etag);
	if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
		memmove(t, t + 1, n - 2);
		t[n - 2] = 0;
	}
	/* Only a plain MD5 ETag can be checked (SSE-KMS and multipart ones differ). */
	if (strlen(t) != 32 || !hex_valid(t, 0))
		return true;
	return strcasecmp(t, rs->body_md5) == 0;
}

static int map_final(struct s3 *s, const struct s3_req *rq, const struct s3_resp *rs, struct err *e)
{
	const char *code = rs->xe.code, *key = s3_req_name(rq);
	char region[64];
	long offset;

	pthread_mutex_lock(&s->lock);
	snprintf(region, sizeof(region), "%s", s->conf.region);
	offset = s->clock_offset;
	pthread_mutex_unlock(&s->lock);

	if (strcmp(code, "NoSuchBucket") == 0 || (rs->status == 404 && !rq->key))
		return err_set(e, -ENOENT, "bucket %s does not exist (run cairn init to create it)",
		               s->conf.bucket);
	if (strcmp(code, "NoSuchKey") == 0 || rs->status == 404)
		return err_set(e, -ENOENT, "S3 %s %s: no such object", rq->op, key);
	if (strcmp(code, "SignatureDoesNotMatch") == 0)
		return err_set(e, -EACCES,
		               "S3 %s %s: signature rejected: check the secret key "
		               "(HTTP %ld SignatureDoesNotMatch)",
		               rq->op, key, rs->status);
	if (strcmp(code, "InvalidAccessKeyId") == 0)
		return err_set(e, -EACCES,
		               "S3 %s %s: the access key id is unknown to the server "
		               "(HTTP %ld InvalidAccessKeyId)",
		               rq->op, key, rs->status);
	if (strcmp(code, "RequestTimeTooSkewed") == 0)
		return err_set(
		    e, -EPROTO,
		    "S3 %s %s: clock skew: this machine's clock is too far "
		    "from the server's (RequestTimeTooSkewed, %ld s apart); fix the time",
		    rq->op, key, offset);
	if (rs->status == 403 && !code[0] && strcmp(rq->method, "HEAD") == 0)
		/* A HEAD reply has no body to tell a bad signature from a denied access. */
		return err_set(e, -EACCES,
		               "S3 %s %s: HTTP 403 Forbidden: access denied or "
		               "signature rejected: check the secret key",
		               rq->op, key);
	if (strcmp(code, "AccessDenied") == 0 || rs->status == 403)
		return err_set(e, -EACCES, "S3 %s %s: access denied (HTTP %ld %s)", rq->op, key,
		               rs->status, code[0] ? code : "Forbidden");
	if (strcmp(code, "InvalidRange") == 0 || rs->status == 416)
		return err_set(e, -EBADMSG, "S3 %s %s: object is shorter than the range asked",
		               rq->op, key);
	if ((strcmp(code, "AuthorizationHeaderMalformed") == 0 || rs->status == 301) &&
	    server_region(rs))
		return err_set(
		    e, -EPROTO,
		    "S3 %s %s: bucket %s is in region %s; use -o s3.region=%s (HTTP %ld%s%s)",
		    rq->op, key, s->conf.bucket, server_region(rs), server_region(rs), rs->status,
		    code[0] ? " " : "", code);
	if (strcmp(code, "AuthorizationHeaderMalformed") == 0 || rs->status == 301)
		return err_set(e, -EPROTO,
		               "S3 %s %s: bucket %s is not in region %s and the server names no "
		               "other (HTTP %ld %s%s%s); set -o s3.region",
		               rq->op, key, s->conf.bucket, region, rs->status, code,
		               rs->xe.message[0] ? ": " : "", rs->xe.message);
	if (rs->status >= 300 && rs->status < 400)
		/* Following one would send signed requests (or the body) elsewhere. */
		return err_set(e, -EPROTO,
		               "S3 %s %s: HTTP %ld redirect, not followed: point the repository "
		               "URL at the endpoint that serves bucket %s",
		               rq->op, key, rs->status, s->conf.bucket);
	return err_set(e, -EPROTO, "S3 %s %s: HTTP %ld%s%s%s%s", rq->op, key, rs->status,
	               code[0] ? " " : "", code, rs->xe.message[0] ? ": " : "", rs->xe.message);
}

static void backoff(const struct s3 *s, unsigned attempt)
{
	uint64_t cap = (uint64_t)s->conf.retry_base_ms << (attempt < 16 ? attempt : 16);
	uint64_t ms;
	struct timespec ts;

	if (cap > MAX_BACKOFF_MS)
		cap = MAX_BACKOFF_MS;
	/* Full jitter: many agents retrying together must not stay in step. */
	ms = cap / 2 + randombytes_uniform((uint32_t)(cap / 2 + 1));
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One attempt: sign, send, collect. Returns the CURLcode; x->rs holds the reply. */
static CURLcode attempt(struct s3 *s, const struct s3_req *rq, struct xfer *x, const char *sha,
                        const char *md5b64, int *ret_r)
{
	struct signed_req sr = { BUF_INIT, NULL };
	CURLcode cr = CURLE_FAILED_INIT;
	CURL *c = NULL;
	int r;

	buf_init(&sr.url, 8192);
	r = build(s, rq, sha, md5b64, &sr);
	if (r >= 0)
		r = pool_get(s, &c);
	if (r >= 0) {
		setup(s, c, rq, x, &sr);
		cr = curl_easy_perform(c);
		/* Retried (and resumed) as a stall is: each attempt is bounded. */
		if (cr == CURLE_ABORTED_BY_CALLBACK && x->too_slow)
			cr = CURLE_OPERATION_TIMEDOUT;
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
		pool_put(s, c);
	}
	curl_slist_free_all(sr.hdrs);
	buf_release(&sr.url);
	*ret_r = r;
	return cr;
}

int s3_request(struct s3 *s, const struct s3_req *rq, struct s3_resp *rs, struct err *e)
{
	char sha[65] = EMPTY_SHA256, md5b64[25] = "", last[160] = "";
	size_t out_base = rq->out ? rq->out->len : 0;
	unsigned tries = 0, redirects = 0, resyncs = 0;
	unsigned max_attempts = rq->max_attempts ? rq->max_attempts : s->conf.max_attempts;
	bool body = rq->len || !strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST");
	bool unreachable = false;
	struct xfer x = { .rq = rq, .rs = rs };
	struct s3_resume rm = { 0 };
	struct s3_req rr;
	bool wait = true;
	int r = 0;

	memset(rs, 0, sizeof(*rs));
	buf_init(&x.errbody, S3_MAX_ERRREP);
	if (body) {
		r = body_digests(rq, sha, md5b64, rs->body_md5);
		if (r < 0)
			return err_set(e, r, "S3 %s %s: reading the upload: %s", rq->op,
			               s3_req_name(rq), strerror(-r));
	}
	while (tries < max_attempts) {
		char keep_md5[33];
		CURLcode cr;

		if (tries++ && wait)
			backoff(s, tries - 1);
		wait = true;
		if (rq->out)
			rq->out->len = out_base + rm.done; /* rm.done: what a cut GET keeps */
		x.rq = &rr;
		s3_resume_req(rq, &rm, &rr, &x.skip, &x.room);
		buf_reset(&x.errbody);
		x.pos = 0;
		x.werr = 0;
		x.werr_why = NULL;
		x.unwanted = 0;
		x.full = x.err_cut = false;
		memcpy(keep_md5, rs->body_md5, sizeof(keep_md5));
		memset(rs, 0, sizeof(*rs));
		memcpy(rs->body_md5, keep_md5, sizeof(keep_md5));
		cr = attempt(s, &rr, &x, sha, body ? md5b64 : NULL, &r);
		if (r < 0) {
			r = err_set(e, r, "S3 %s %s: building the request: %s", rq->op,
			            s3_req_name(rq), strerror(-r));
			break;
		}
		if (x.werr && x.werr_why) {
			r = err_set(e, x.werr, "S3 %s %s: HTTP %ld with %s", rq->op,
			            s3_req_name(rq), rs->status, x.werr_why);
			break;
		}
		if (x.werr) {
			r = err_set(e, x.werr, "S3 %s %s: reply larger than %zu bytes", rq->op,
			            s3_req_name(rq), rq->out->max);
			break;
		}
		if (cr == CURLE_WRITE_ERROR && (x.full || x.err_cut))
			cr = CURLE_OK; /* we stopped reading: the reply is what we kept */
		if (cr != CURLE_OK) {
			snprintf(last, sizeof(last), "%s",
			         x.too_slow                  ? x.slow
			         : x.cerr[0]                 ? x.cerr
			         : cr == CURLE_OUT_OF_MEMORY ? "out of memory, or a reply header "
			                                       "line over libcurl's 100 KiB limit"
			                                     : curl_easy_strerror(cr));
			unreachable =
			    cr == CURLE_COULDNT_CONNECT || cr == CURLE_COULDNT_RESOLVE_HOST;
			if (rm.etag[0] && (r = s3_resume_check(rq, &rr, rs, &rm, e)) < 0)
				goto out;
			if (curl_retryable(cr) && s3_resume_keep(rq, rs, out_base, &rm)) {
				tries--; /* it brought data: go on at once, not as a failure */
				wait = false;
				continue;
			}
			if (curl_retryable(cr))
				continue;
			r = err_set(e, -EPROTO, "S3 %s %s: %s%s", rq->op, s3_req_name(rq), last,
			            cr == CURLE_PEER_FAILED_VERIFICATION ||
			                    cr == CURLE_SSL_CACERT_BADFILE
			                ? " (give the CA with --option s3.ca-file=FILE)"
			                : "");
			break;
		}
		unreachable = false;
		if (rm.etag[0] && (r = s3_resume_check(rq, &rr, rs, &rm, e)) < 0)
			goto out;
		if (x.errbody.len && (rs->status < 200 || rs->status >= 300) &&
		    s3xml_error(x.errbody.p, x.errbody.len, &rs->xe) < 0)
			memset(&rs->xe, 0, sizeof(rs->xe)); /* not S3 XML (a proxy's page) */
		if (rs->status >= 200 && rs->status < 300) {
			if (!rm.etag[0] && rq->out && (r = s3_range_check(rq, &rr, rs, e)) < 0)
				goto out;
			if (!rm.etag[0] && rq->out && rr.range && (rs->status == 200 || x.full))
				rs->length =
				    rq->out->len - out_base; /* the range, cut from the whole */
			if (!rq->verify_etag || etag_matches(rs)) {
				r = 0;
				if (rm.etag[0])
					rs->length =
					    rm.total; /* the whole body, over its attempts */
				goto out;
			}
			snprintf(last, sizeof(last), "ETag %s differs from the MD5 sent", rs->etag);
			continue;
		}
		if (clock_resync(s, rq, rs) && resyncs++ < 1) {
			tries--; /* the request was refused for its date alone */
			continue;
		}
		const char *hint = region_hint(s, rs);
		if (hint && redirects++ < MAX_REDIRECTS) {
			pthread_mutex_lock(&s->lock);
			snprintf(s->conf.region, sizeof(s->conf.region), "%s", hint);
			pthread_mutex_unlock(&s->lock);
			tries--; /* following the server's hint is not a failure */
			continue;
		}
		snprintf(last, sizeof(last), "HTTP %ld%s%s", rs->status, rs->xe.code[0] ? " " : "",
		         rs->xe.code);
		if (!status_retryable(rs)) {
			r = map_final(s, rq, rs, e);
			goto out;
		}
	}
	if (r >= 0 && unreachable)
		r = err_set(e, -EHOSTUNREACH, "S3 endpoint %s unreachable: %s (%s %s, %u attempts)",
		            s->conf.host, last, rq->op, s3_req_name(rq), tries);
	else if (r >= 0)
		r = err_set(e, -EAGAIN, "S3 %s %s failed after %u attempts%s: %s", rq->op,
		            s3_req_name(rq), tries + rm.free_used,
		            rm.free_used ? " (resumed after each cut)" : "", last);
out:
	buf_release(&x.errbody);
	if (r < 0 && rq->out)
		rq->out->len = out_base;
	return r;
}
