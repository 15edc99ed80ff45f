/* Owns the multi-request S3 operations: multipart upload (create, parts in parallel,
 * complete, abort on any failure so no partial object or orphan parts stay behind) and
 * the DeleteObjects batch. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3-internal.h"
#include "s3/sigv4.h"
#include "util/ckd.h"

#include "util/banned.h"

#define MAX_UPLOAD_ID    1024
#define MAX_DELETE_KEYS  1000
#define COMPLETE_TRIES   3
#define MAX_PART_THREADS 16

struct upload {
	struct s3 *s;
	const char *key;
	char id[MAX_UPLOAD_ID];
	char (*etags)[128];
	unsigned n_parts;
};

static int upload_query(const struct upload *u, unsigned part, struct buf *q)
{
	int r = part ? buf_printf(q, "partNumber=%u&uploadId=", part) : buf_printf(q, "uploadId=");

	if (r >= 0)
		r = sigv4_uri_encode(q, u->id, strlen(u->id), false);
	return r >= 0 ? buf_append(q, "", 1) : r;
}

static int create_upload(struct upload *u, struct err *e)
{
	struct s3_req rq = { .op = "multipart create",
		             .method = "POST",
		             .key = u->key,
		             .query = "uploads",
		             .fd = -1 };
	struct buf out = BUF_INIT;
	struct s3_resp rs;
	int r;

	buf_init(&out, S3_MAX_ERRREP);
	rq.out = &out;
	r = s3_request(u->s, &rq, &rs, e);
	if (r >= 0 && s3xml_upload_id(out.p, out.len, u->id, sizeof(u->id)) < 0)
		r = err_set(e, -EPROTO, "S3 multipart create %s: reply has no UploadId", u->key);
	buf_release(&out);
	return r;
}

static int put_part(struct upload *u, const struct s3_req *body, unsigned part, uint64_t off,
                    uint64_t len, struct err *e)
{
	struct s3_req rq = *body;
	struct buf q = BUF_INIT;
	struct s3_resp rs;
	int r;

	buf_init(&q, 4096);
	r = upload_query(u, part, &q);
	if (r < 0)
		goto fail;
	rq.op = "multipart part";
	rq.method = "PUT";
	rq.key = u->key;
	rq.query = (const char *)q.p;
	rq.verify_etag = true;
	rq.out = NULL;
	if (body->fd >= 0)
		rq.fd_off = body->fd_off + off;
	else
		rq.mem = body->mem + off;
	rq.len = len;
	r = s3_request(u->s, &rq, &rs, e);
	if (r >= 0 && !rs.etag[0])
		r = err_set(e, -EPROTO, "S3 multipart part %u of %s: reply has no ETag", part,
		            u->key);
	if (r >= 0)
		snprintf(u->etags[part - 1], sizeof(u->etags[0]), "%s", rs.etag);
fail:
	buf_release(&q);
	return r;
}

static int complete_body(const struct upload *u, struct buf *b)
{
	int r = buf_printf(b, "<CompleteMultipartUpload>");

	for (unsigned i = 0; i < u->n_parts && r >= 0; i++)
		r = buf_printf(b, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
		               u->etags[i]);
	return r >= 0 ? buf_printf(b, "</CompleteMultipartUpload>") : r;
}

/* Whether an object of the upload's key and exactly total bytes is stored: the proof of
 * a completed upload whose reply was lost. */
static bool completed_already(struct upload *u, uint64_t total)
{
	struct s3_req rq = { .op = "multipart check", .method = "HEAD", .key = u->key, .fd = -1 };
	struct s3_resp rs;
	struct err e = ERR_INIT;

	return s3_request(u->s, &rq, &rs, &e) >= 0 && rs.have_length && rs.length == total;
}

static int complete(struct upload *u, uint64_t total, struct err *e)
{
	struct s3_req rq = {
		.op = "multipart complete", .method = "POST", .key = u->key, .fd = -1
	};
	struct buf q = BUF_INIT, body = BUF_INIT, out = BUF_INIT;
	struct s3xml_error xe;
	struct s3_resp rs;
	char etag[128];
	int r;

	buf_init(&q, 4096);
	buf_init(&body, (size_t)u->n_parts * 200 + 128);
	buf_init(&out, S3_MAX_ERRREP);
	r = upload_query(u, 0, &q);
	if (r >= 0)
		r = complete_body(u, &body);
	if (r < 0)
		goto fail;
	rq.query = (const char *)q.p;
	rq.mem = body.p;
	rq.len = body.len;
	rq.out = &out;
	for (int i = 0; i < COMPLETE_TRIES; i++) {
		buf_reset(&out);
		r = s3_request(u->s, &rq, &rs, e);
		if (r < 0)
			break;
		/* S3 may answer 200 and then report a failure in the body. */
		r = s3xml_complete(out.p, out.len, etag, sizeof(etag), &xe);
		if (r == 0)
			break;
		r = r < 0 ? err_set(e, r, "S3 multipart complete %s: malformed reply", u->key)
		          : err_set(e, -EAGAIN, "S3 multipart complete %s: %s %s", u->key, xe.code,
		                    xe.message);
	}
	if (r < 0 && r != -EACCES) {
		/* The server may have completed the upload on an attempt whose reply was lost:
		 * every retry then fails (AWS answers NoSuchUpload, s3rver 500 InternalError),
		 * and the object is the proof. Object keys name their content (a hash of the
		 * bytes), so an object of this key and exactly this length is this upload. */
		if (completed_already(u, total)) {
			err_clear(e);
			r = 0;
		}
	}
fail:
	buf_release(&q);
	buf_release(&body);
	buf_release(&out);
	return r;
}

static void abort_upload(struct upload *u)
{
	struct s3_req rq = { .op = "multipart abort", .method = "DELETE", .key = u->key, .fd = -1 };
	struct err ignored = ERR_INIT;
	struct buf q = BUF_INIT;
	struct s3_resp rs;

	buf_init(&q, 4096);
	if (upload_query(u, 0, &q) >= 0) {
		rq.query = (const char *)q.p;
		/* Best effort: the first error is what the caller needs to see. */
		(void)!s3_request(u->s, &rq, &rs, &ignored);
	}
	buf_release(&q);
}

/* Parts go up in parallel, as many at once as s3.connections allows (each part retried
 * by s3_request); the first failure stops the others from starting new parts. */
struct part_pool {
	struct upload *u;
	const struct s3_req *body;
	uint64_t part;
	pthread_mutex_t lock;
	unsigned next;
	int r;
	struct err e;
};

static void *part_worker(void *ud)
{
	struct part_pool *pp = ud;

	for (;;) {
		struct err e = ERR_INIT;
		uint64_t off, len;
		unsigned i;
		int r;

		pthread_mutex_lock(&pp->lock);
		if (pp->r < 0 || pp->next >= pp->u->n_parts) {
			pthread_mutex_unlock(&pp->lock);
			return NULL;
		}
		i = pp->next++;
		pthread_mutex_unlock(&pp->lock);
		off = (uint64_t)i * pp->part;
		len = pp->body->len - off < pp->part ? pp->body->len - off : pp->part;
		r = put_part(pp->u, pp->body, i + 1, off, len, &e);
		if (r < 0) {
			pthread_mutex_lock(&pp->lock);
			if (pp->r >= 0) {
				pp->r = r;
				pp->e = e;
			}
			pthread_mutex_unlock(&pp->lock);
		}
	}
}

static int put_parts(struct upload *u, const struct s3_req *body, uint64_t part, struct err *e)
{
	struct part_pool pp = { .u = u, .body = body, .part = part };
	pthread_t th[MAX_PART_THREADS];
	unsigned want = u->s->conf.connections, n = 0;

	if (want > u->n_parts)
		want = u->n_parts;
	if (want > MAX_PART_THREADS)
		want = MAX_PART_THREADS;
	pthread_mutex_init(&pp.lock, NULL);
	/* Fewer threads than wanted (or none) still finish the upload: the caller's
	 * thread works too. */
	while (n + 1 < want && pthread_create(&th[n], NULL, part_worker, &pp) == 0)
		n++;
	part_worker(&pp);
	while (n)
		pthread_join(th[--n], NULL);
	pthread_mutex_destroy(&pp.lock);
	return pp.r < 0 ? err_set(e, pp.r, "%s", pp.e.msg) : 0;
}

int s3_put_multipart(struct s3 *s, const char *key, const struct s3_req *body, struct err *e)
{
	struct upload u = { .s = s, .key = key };
	uint64_t part = s->conf.part_size, n;
	int r;

	/* Grow parts until the count fits S3's limit of 10000. */
	while ((body->len + part - 1) / part > S3_MAX_PARTS)
		if (ckd_mul(&part, part, (uint64_t)2))
			return err_set(e, -EFBIG, "S3 put %s: object too large", key);
	n = (body->len + part - 1) / part;
	u.etags = calloc((size_t)n, sizeof(*u.etags));
	if (!u.etags)
		return -ENOMEM;
	u.n_parts = (unsigned)n;
	r = create_upload(&u, e);
	if (r < 0)
		goto out;
	r = put_parts(&u, body, part, e);
	if (r >= 0)
		r = complete(&u, body->len, e);
	if (r < 0)
		abort_upload(&u);
out:
	free(u.etags);
	return r;
}

static int xml_escaped(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && r >= 0; s++) {
		switch (*s) {
		case '&':
			r = buf_printf(b, "&amp;");
			break;
		case '<':
			r = buf_printf(b, "&lt;");
			break;
		case '>':
			r = buf_printf(b, "&gt;");
			break;
		case '"':
			r = buf_printf(b, "&quot;");
			break;
		default:
			r = buf_append(b, s, 1);
		}
	}
	return r;
}

/* One requested key and whether the reply accounted for it. */
struct del_key {
	const char *key;
	bool seen;
};

struct del_ctx {
	struct del_key *k; /* sorted by key */
	size_t n;
	struct err *e;
	int r;
};

static int del_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct del_key *)a)->key, ((const struct del_key *)b)->key);
}

static int on_del_entry(void *ud, const char *key, const char *code, const char *msg)
{
	struct del_ctx *d = ud;
	struct del_key probe = { key, false }, *k;

	k = bsearch(&probe, d->k, d->n, sizeof(*d->k), del_key_cmp);
	if (!k) {
		/* Never trust a reply that names keys we did not send: it may be another
		 * request's, and its confirmations mean nothing for ours. */
		d->r = err_reset(d->e, -EPROTO,
		                 "S3 delete batch: the reply names %.200s, which was not asked for",
		                 key);
		return -ECANCELED;
	}
	k->seen = true;
	/* <Deleted>, or NoSuchKey: already gone is what we wanted */
	if (!code[0] || strcmp(code, "NoSuchKey") == 0)
		return 0;
	if (d->r >= 0)
		d->r = err_set(d->e, strcmp(code, "AccessDenied") == 0 ? -EACCES : -EPROTO,
		               "S3 delete %s: %s %s", key, code, msg);
	return 0;
}

int s3_delete_confirm(const char *const *keys, size_t n, const void *reply, size_t len,
                      struct err *e)
{
	struct del_ctx d = { calloc(n ? n : 1, sizeof(*d.k)), n, e, 0 };
	size_t missing = 0;
	const char *first = NULL;
	int r;

	if (!d.k)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		d.k[i].key = keys[i];
	if (n)
		qsort(d.k, n, sizeof(*d.k), del_key_cmp);
	r = s3xml_delete(reply, len, on_del_entry, &d);
	if (r == -ECANCELED) {
		r = d.r; /* a stranger key, named above */
		goto fail;
	}
	if (r < 0) {
		r = err_set(e, r, "S3 delete batch: malformed DeleteObjects reply (%zu bytes)",
		            len);
		goto fail;
	}
	r = d.r;
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (!d.k[i].seen && !missing++)
			first = d.k[i].key;
	/* A key the reply is silent about may still exist: never report it deleted. */
	if (missing)
		r = err_set(e, -EPROTO,
		            "S3 delete batch: the server confirmed %zu of %zu keys (first "
		            "unconfirmed: %.200s)",
		            n - missing, n, first);
fail:
	free(d.k);
	return r;
}

int s3_delete_many(struct s3 *s, const char *const *keys, size_t n, struct err *e)
{
	struct s3_req rq = { .op = "delete batch", .method = "POST", .query = "delete", .fd = -1 };
	struct buf body = BUF_INIT, out = BUF_INIT;
	struct s3_resp rs;
	int r;

	if (n > MAX_DELETE_KEYS)
		return err_set(e, -EINVAL, "S3 delete batch of %zu keys (at most %d)", n,
		               MAX_DELETE_KEYS);
	if (!n)
		return 0;
	buf_init(&body, n * 6 * S3XML_MAX_KEY + 256);
	buf_init(&out, S3XML_MAX_REPLY);
	/* Not Quiet: every key must come back as <Deleted> or <Error>, so a reply that is
	 * silent about one (a proxy's, a truncated one) is not taken as success. */
	r = buf_printf(&body, "<Delete><Quiet>false</Quiet>");
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = buf_printf(&body, "<Object><Key>");
		if (r >= 0)
			r = xml_escaped(&body, keys[i]);
		if (r >= 0)
			r = buf_printf(&body, "</Key></Object>");
	}
	if (r >= 0)
		r = buf_printf(&body, "</Delete>");
	if (r < 0)
		goto fail;
	rq.mem = body.p;
	rq.len = body.len;
	rq.out = &out;
	r = s3_request(s, &rq, &rs, e);
	if (r >= 0)
		r = s3_delete_confirm(keys, n, out.p, out.len, e);
fail:
	buf_release(&body);
	buf_release(&out);
	return r;
}
