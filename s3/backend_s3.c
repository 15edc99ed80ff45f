/* Owns the S3 backend's struct backend_ops: object keys under the repository prefix,
 * single and multipart puts, ranged gets, listing with continuation tokens. The
 * request engine (retries, signing, errors) is s3http.c; locations and credentials
 * are s3conf.c; multipart and multi-delete are s3multi.c. */
#include "s3/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "s3/s3-internal.h"
#include "s3/sigv4.h"
#include "util/hex.h"

#include "util/banned.h"

#define S3(be)         ((struct s3 *)(be))
#define MAX_LIST_REPLY (16u << 20)
#define KEY_MAX        2048
/* Truncated pages in a row that bring no key: S3 may send a few, a server looping on
 * empty pages (each with a new token) would page forever. */
#define MAX_EMPTY_PAGES 16

int s3_obj_key(const struct s3 *s, enum obj_type t, const char *name, char *out, size_t n)
{
	int k;

	if (t == OBJ_CONFIG)
		k = snprintf(out, n, "%sconfig", s->conf.prefix);
	else if ((unsigned)t >= _OBJ_TYPE_MAX || !name || strlen(name) < 2 || !hex_valid(name, 0))
		return -EINVAL; /* names are hex: nothing to escape, no way out of the prefix */
	else if (t == OBJ_DATA)
		k = snprintf(out, n, "%sdata/%.2s/%s", s->conf.prefix, name, name);
	else
		k = snprintf(out, n, "%s%s/%s", s->conf.prefix, obj_type_dir(t), name);
	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

#define OBJ_KEY_OR_FAIL(s, t, name, key, e)                                                 \
	do {                                                                                \
		int r_ = s3_obj_key(s, t, name, key, sizeof(key));                          \
		if (r_ < 0)                                                                 \
			return err_set(e, r_, "bad object name '%.80s'", name ? name : ""); \
	} while (0)

static bool md5_etag(const char *etag, char out[33])
{
	size_t n = strlen(etag);

	if (n == 34 && etag[0] == '"' && etag[33] == '"')
		etag++, n -= 2;
	if (n != 32)
		return false;
	memcpy(out, etag, 32);
	out[32] = 0;
	/* hex_valid() counts bytes and wants the string to end there: test the copy (the
	 * quoted ETag itself never passed, so no copy was ever recognised or deleted). */
	return hex_valid(out, 16);
}

/* A PUT judged failed may still have left an object behind (a wrong ETag, a reply lost
 * after the server stored it). A copy whose MD5 is ours is the PUT done; one with other
 * bytes is deleted (names are content hashes, or a lock's own, so it is no one else's),
 * and so is any lock we cannot check: a stray lock blocks others. Best effort: r stays
 * the caller's answer when the server cannot be asked. */
static int put_failed(struct s3 *s, enum obj_type t, const char *key, const struct s3_req *rq,
                      const char *md5, int r, struct err *e)
{
	struct s3_req head = {
		.op = "stat", .method = "HEAD", .key = key, .fd = -1, .max_attempts = 2
	};
	struct s3_req del = {
		.op = "delete", .method = "DELETE", .key = key, .fd = -1, .max_attempts = 2
	};
	struct err quiet = ERR_INIT;
	char etag[33], msg[ERR_MSG_MAX];
	struct s3_resp rs;
	bool mine;

	if (r == -EACCES || r == -ENOENT || r == -EINVAL || r == -ENOMEM || !md5[0])
		return r; /* refused or never sent: nothing was stored */
	if (s3_request(s, &head, &rs, &quiet) < 0)
		return r;
	mine = md5_etag(rs.etag, etag);
	if (mine && strcasecmp(etag, md5) == 0 && rs.have_length && rs.length == rq->len) {
		err_clear(e);
		return 0;
	}
	if (mine || t == OBJ_LOCK) {
		snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
		err_reset(e, r, "%s; %s", msg,
		          s3_request(s, &del, &rs, &quiet) < 0
		              ? "the copy left on the server could "
		                "not be deleted"
		              : "the copy left on the server was deleted");
	}
	return r;
}

static int put_body(struct s3 *s, enum obj_type t, const char *key, struct s3_req *rq,
                    struct err *e)
{
	struct s3_resp rs;
	int r;

	if (rq->len > s->conf.multipart_threshold)
		return s3_put_multipart(s, key, rq, e);
	rq->op = "put";
	rq->method = "PUT";
	rq->key = key;
	rq->verify_etag = true;
	r = s3_request(s, rq, &rs, e);
	return r < 0 ? put_failed(s, t, key, rq, rs.body_md5, r, e) : 0;
}

static int s3_put(struct backend *be, enum obj_type t, const char *name, const void *p, size_t n,
                  struct err *e)
{
	struct s3_req rq = { .mem = p, .fd = -1, .len = n };
	char key[KEY_MAX];

	OBJ_KEY_OR_FAIL(S3(be), t, name, key, e);
	return put_body(S3(be), t, key, &rq, e);
}

static int s3_put_fd(struct backend *be, enum obj_type t, const char *name, int fd, uint64_t n,
                     struct err *e)
{
	struct s3_req rq = { .fd = fd, .fd_off = 0, .len = n };
	char key[KEY_MAX];

	OBJ_KEY_OR_FAIL(S3(be), t, name, key, e);
	return put_body(S3(be), t, key, &rq, e);
}

static int s3_tmpfile(struct backend *be, int *ret_fd, struct err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !dir[0])
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* Filesystems without O_TMPFILE: a named file, unlinked at once. */
		snprintf(path, sizeof(path), "%s/cairn-s3-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			return err_set(e, -errno, "temp file in %s: %s", dir, strerror(errno));
		unlink(path);
	}
	*ret_fd = fd;
	return 0;
}

static int s3_get_watch(struct backend *be, enum obj_type t, const char *name, uint64_t off,
                        uint64_t n, struct buf *out, backend_watch_fn watch, void *ud,
                        struct err *e)
{
	struct s3_req rq = {
		.op = "get", .method = "GET", .fd = -1, .out = out, .watch = watch, .watch_ud = ud
	};
	size_t base = out->len, got;
	struct s3_resp rs;
	char key[KEY_MAX];
	int r;

	OBJ_KEY_OR_FAIL(S3(be), t, name, key, e);
	rq.key = key;
	rq.range = off || n;
	rq.range_off = off;
	rq.range_len = n;
	r = s3_request(S3(be), &rq, &rs, e);
	if (r < 0)
		return r;
	got = out->len - base;
	if ((n && got != n) || (rs.have_length && got != rs.length)) {
		out->len = base;
		return err_set(e, -EBADMSG, "%s: object %s is truncated (%zu of %llu bytes)",
		               be->where, key, got, (unsigned long long)(n ? n : rs.length));
	}
	return 0;
}

static int s3_get(struct backend *be, enum obj_type t, const char *name, uint64_t off, uint64_t n,
                  struct buf *out, struct err *e)
{
	return s3_get_watch(be, t, name, off, n, out, NULL, NULL, e);
}

static int s3_stat(struct backend *be, enum obj_type t, const char *name, uint64_t *ret_size,
                   struct err *e)
{
	struct s3_req rq = { .op = "stat", .method = "HEAD", .fd = -1 };
	struct err quiet = ERR_INIT;
	struct s3_resp rs;
	char key[KEY_MAX];
	int r;

	OBJ_KEY_OR_FAIL(S3(be), t, name, key, e);
	rq.key = key;
	r = s3_request(S3(be), &rq, &rs, &quiet);
	if (r == -ENOENT)
		return -ENOENT; /* an answer, not a failure: no message (as the local backend) */
	if (r < 0)
		return err_set(e, r, "%s", quiet.msg);
	if (!rs.have_length)
		return err_set(e, -EPROTO, "S3 stat %s: reply without Content-Length", key);
	*ret_size = rs.length;
	return 0;
}

static int s3_del(struct backend *be, enum obj_type t, const char *name, struct err *e)
{
	struct s3_req rq = { .op = "delete", .method = "DELETE", .fd = -1 };
	struct err quiet = ERR_INIT;
	struct s3_resp rs;
	char key[KEY_MAX];
	int r;

	OBJ_KEY_OR_FAIL(S3(be), t, name, key, e);
	rq.key = key;
	r = s3_request(S3(be), &rq, &rs, &quiet);
	if (r == -ENOENT && strcmp(rs.xe.code, "NoSuchBucket") != 0)
		return 0;
	return r < 0 ? err_set(e, r, "%s", quiet.msg) : 0;
}

/* DeleteObjects per 1000 keys: a prune of thousands of packs in a few requests. */
static int s3_del_many(struct backend *be, enum obj_type t, const char *const *names, size_t n,
                       struct err *e)
{
	enum { BATCH = 1000 };
	char(*keys)[KEY_MAX] = NULL;
	const char **ptrs = NULL;
	int r = 0;

	if (!n)
		return 0;
	keys = calloc(n < BATCH ? n : BATCH, sizeof(*keys));
	ptrs = calloc(n < BATCH ? n : BATCH, sizeof(*ptrs));
	if (!keys || !ptrs) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n && r >= 0; i += BATCH) {
		size_t k = n - i < BATCH ? n - i : BATCH;

		for (size_t j = 0; j < k; j++) {
			r = s3_obj_key(S3(be), t, names[i + j], keys[j], sizeof(keys[j]));
			if (r < 0) {
				r = err_set(e, r, "bad object name '%.80s'", names[i + j]);
				goto fail;
			}
			ptrs[j] = keys[j];
		}
		r = s3_delete_many(S3(be), ptrs, k, e);
	}
fail:
	free(keys);
	free(ptrs);
	return r;
}

struct list_ctx {
	const char *prefix;
	size_t skip; /* length of the listed prefix */
	bool sharded;
	backend_list_fn fn;
	void *ud;
	/* ListObjectsV2 pages go on after their last key, in UTF-8 binary order: each page
	 * must reach past every key of the pages before, or the listing is not advancing. */
	char last[S3XML_MAX_KEY + 1];      /* the greatest key of the pages before */
	char page_last[S3XML_MAX_KEY + 1]; /* the greatest key of this page */
	bool outside;                      /* this page named a key outside the prefix */
};

static int on_entry(void *ud, const char *key, uint64_t size)
{
	struct list_ctx *l = ud;
	const char *name;

	/* A server ignoring the prefix (or forging keys) must not have another folder's
	 * objects taken for ours. */
	if (strncmp(key, l->prefix, l->skip) != 0) {
		l->outside = true;
		return -EPROTO;
	}
	if (strcmp(key, l->page_last) > 0)
		snprintf(l->page_last, sizeof(l->page_last), "%s", key);
	if (strlen(key) <= l->skip)
		return 0;
	name = key + l->skip;
	if (l->sharded) {
		const char *slash = strchr(name, '/');

		if (!slash || slash - name != 2)
			return 0;
		name = slash + 1;
	}
	/* Strangers (other tools' files, nested folders) are not objects. */
	if (strchr(name, '/') || strlen(name) < 2 || !hex_valid(name, 0))
		return 0;
	return l->fn(l->ud, name, size);
}

static int list_page(struct s3 *s, const char *prefix, const char *token, struct list_ctx *l,
                     struct s3xml_list *page, struct err *e)
{
	struct s3_req rq = { .op = "list", .method = "GET", .fd = -1 };
	struct buf q = BUF_INIT, out = BUF_INIT;
	struct s3_resp rs;
	int r;

	buf_init(&q, 8192);
	buf_init(&out, MAX_LIST_REPLY);
	r = buf_printf(&q, "list-type=2&prefix=");
	if (r >= 0)
		r = sigv4_uri_encode(&q, prefix, strlen(prefix), false);
	if (r >= 0 && token[0]) {
		r = buf_printf(&q, "&continuation-token=");
		if (r >= 0)
			r = sigv4_uri_encode(&q, token, strlen(token), false);
	}
	if (r >= 0)
		r = buf_append(&q, "", 1);
	if (r < 0) {
		r = err_set(e, r, "S3 list %s: query too long", prefix);
		goto fail;
	}
	rq.query = (const char *)q.p;
	rq.name = prefix;
	rq.out = &out;
	r = s3_request(s, &rq, &rs, e);
	if (r < 0)
		goto fail;
	l->page_last[0] = 0;
	l->outside = false;
	r = s3xml_list(out.p, out.len, on_entry, l, page);
	if (r == -EPROTO && l->outside)
		r = err_set(e, r, "S3 list %s: the server sent a key outside that prefix", prefix);
	else if (r == -EPROTO || r == -EFBIG)
		r = err_set(e, r, "S3 list %s: malformed ListObjectsV2 reply (%zu bytes)", prefix,
		            out.len);
fail:
	buf_release(&q);
	buf_release(&out);
	return r;
}

static int s3_list(struct backend *be, enum obj_type t, backend_list_fn fn, void *ud, struct err *e)
{
	struct s3 *s = S3(be);
	struct list_ctx *l = calloc(1, sizeof(*l));
	struct s3xml_list *page = calloc(1, sizeof(*page));
	char prefix[KEY_MAX], token[sizeof(page->next_token)] = "";
	unsigned empty = 0;
	int r = -ENOMEM, k;

	if (!page || !l)
		goto fail;
	*l = (struct list_ctx){ .prefix = prefix, .sharded = t == OBJ_DATA, .fn = fn, .ud = ud };
	k = snprintf(prefix, sizeof(prefix), "%s%s/", s->conf.prefix, obj_type_dir(t));
	if (t == OBJ_CONFIG || k < 0 || (size_t)k >= sizeof(prefix)) {
		r = err_set(e, -EINVAL, "cannot list objects of type %d", (int)t);
		goto fail;
	}
	l->skip = (size_t)k;
	do {
		r = list_page(s, prefix, token, l, page, e);
		if (r < 0)
			break;
		/* A server repeating its token, or cycling through tokens, or sending empty
		 * pages without end, would page forever. */
		if (page->truncated && strcmp(token, page->next_token) == 0) {
			r = err_set(e, -EPROTO, "S3 list %s: continuation token did not advance",
			            prefix);
			break;
		}
		if (page->truncated && !l->page_last[0] && ++empty > MAX_EMPTY_PAGES) {
			r = err_set(e, -EPROTO, "S3 list %s: %u pages in a row without a key",
			            prefix, empty);
			break;
		}
		if (l->page_last[0] && strcmp(l->page_last, l->last) <= 0) {
			r = err_set(e, -EPROTO,
			            "S3 list %s: the listing went back to keys already listed "
			            "(a page that does not advance)",
			            prefix);
			break;
		}
		if (l->page_last[0]) {
			empty = 0;
			memcpy(l->last, l->page_last, sizeof(l->last));
		}
		snprintf(token, sizeof(token), "%s", page->next_token);
	} while (page->truncated);
fail:
	free(page);
	free(l);
	return r < 0 ? r : 0;
}

static int bucket_create(struct s3 *s, struct err *e)
{
	struct s3_req rq = { .op = "create bucket", .method = "PUT", .fd = -1 };
	struct err quiet = ERR_INIT;
	struct s3_resp rs;
	char body[256];
	int r;

	/* us-east-1 is the one region that must not be named in the request. */
	if (strcmp(s->conf.region, "us-east-1") != 0) {
		snprintf(body, sizeof(body),
		         "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
		         "</CreateBucketConfiguration>",
		         s->conf.region);
		rq.mem = (const uint8_t *)body;
		rq.len = strlen(body);
	}
	r = s3_request(s, &rq, &rs, &quiet);
	if (r >= 0)
		return 0;
	if (rs.status != 409)
		return err_set(e, r, "%s", quiet.msg);
	/* 409: it exists; fine if it is ours, which a HEAD tells. */
	rq = (struct s3_req){ .op = "check bucket", .method = "HEAD", .fd = -1 };
	r = s3_request(s, &rq, &rs, e);
	if (r == -EACCES)
		return err_set(e, -EEXIST, "bucket %s already exists and belongs to someone else",
		               s->conf.bucket);
	return r;
}

static int s3_create(struct backend *be, struct err *e)
{
	uint64_t size;
	int r;

	r = bucket_create(S3(be), e);
	if (r < 0)
		return r;
	r = s3_stat(be, OBJ_CONFIG, NULL, &size, e);
	if (r == 0)
		return err_set(e, -EEXIST, "%s: a repository already exists here", be->where);
	return r == -ENOENT ? 0 : r;
}

static void s3_free(struct backend *be)
{
	struct s3 *s = S3(be);

	if (!s)
		return;
	for (unsigned i = 0; i < s->n_idle; i++)
		curl_easy_cleanup(s->idle[i]);
	free(s->idle);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	s3_creds_release(&s->creds);
	s3_conf_release(&s->conf);
	free(s);
}

static const struct backend_ops s3_ops = {
	.scheme = "s3",
	.create = s3_create,
	.put = s3_put,
	.put_fd = s3_put_fd,
	.tmpfile = s3_tmpfile,
	.get = s3_get,
	.get_watch = s3_get_watch,
	.stat = s3_stat,
	.del = s3_del,
	.del_many = s3_del_many,
	.list = s3_list,
	.free = s3_free,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_ALL);
}

int s3_open(const char *spec, const struct backend_options *o, struct backend **ret, struct err *e)
{
	struct s3 *s;
	int r;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return err_set(e, -ENOMEM, "libcurl initialisation failed");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->be.ops = &s3_ops;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = s3_conf_parse(spec, o, &s->conf, e);
	if (r < 0)
		goto fail;
	s->clock_offset = s->conf.clock_offset;
	r = s3_creds_load(o, &s->creds, e);
	if (r < 0)
		goto fail;
	s->idle = calloc(s->conf.connections, sizeof(*s->idle));
	if (!s->idle) {
		r = -ENOMEM;
		goto fail;
	}
	/* where: for messages; never the credentials; says when TLS is not verified. */
	snprintf(s->be.where, sizeof(s->be.where), "s3:%s://%s/%s/%s%s",
	         s->conf.https ? "https" : "http", s->conf.host, s->conf.bucket, s->conf.prefix,
	         s->conf.insecure_tls ? " (TLS NOT VERIFIED: s3.insecure-tls)" : "");
	if (!s->conf.https)
		snprintf(s->be.caution, sizeof(s->be.caution),
		         "s3:http://%.120s/%s/: plain HTTP: requests and object names travel "
		         "unencrypted and the server is not authenticated",
		         s->conf.host, s->conf.bucket);
	else if (s->conf.insecure_tls)
		snprintf(s->be.caution, sizeof(s->be.caution),
		         "s3:https://%.120s/%s/: TLS certificate checks are off (s3.insecure-tls): "
		         "the server is not authenticated",
		         s->conf.host, s->conf.bucket);
	*ret = &s->be;
	return 0;
fail:
	s3_free(&s->be);
	return r;
}

const struct backend_scheme s3_scheme = { .prefix = "s3:", .open = s3_open };

int s3_register(void)
{
	return backend_register(&s3_scheme);
}
