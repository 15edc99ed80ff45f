/* Owns the transport to the API server: one curl handle per client (and one per exec
 * stream), TLS settings from the kube_config, the bearer token (re-read when its file
 * changes), status -> errno mapping. */
#include "kube/kube.h"
#include "kube/kube-internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/banned.h"
#include "util/fsutil.h"

struct kube {
	const struct kube_config *cfg;
	CURL *curl;
	char *token; /* current bearer token (wiped on change and free) */
	struct stat token_st;
	char errbuf[CURL_ERROR_SIZE];
};

static void token_drop(struct kube *k)
{
	if (k->token) {
		sodium_memzero(k->token, strlen(k->token));
		free(k->token);
		k->token = NULL;
	}
}

/* Projected service-account tokens rotate: re-read the file whenever its identity or
 * mtime changes (a stat per request is cheap next to the HTTP round trip). */
static int token_refresh(struct kube *k, struct err *e)
{
	struct buf b = BUF_INIT;
	struct stat st;
	size_t n;
	int r;

	if (!k->cfg->token_file) {
		if (!k->token && k->cfg->token && !(k->token = strdup(k->cfg->token)))
			return -ENOMEM;
		return 0;
	}
	if (stat(k->cfg->token_file, &st) < 0)
		return err_set(e, -errno, "token file %s: %s", k->cfg->token_file, strerror(errno));
	if (k->token && st.st_ino == k->token_st.st_ino && st.st_dev == k->token_st.st_dev &&
	    st.st_size == k->token_st.st_size && st.st_mtim.tv_sec == k->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == k->token_st.st_mtim.tv_nsec)
		return 0;
	buf_init(&b, KCFG_FILE_MAX);
	r = read_file_at(AT_FDCWD, k->cfg->token_file, &b);
	if (r < 0 || buf_put_u8(&b, 0) < 0) {
		r = err_set(e, r < 0 ? r : -ENOMEM, "token file %s: cannot read",
		            k->cfg->token_file);
		goto fail;
	}
	n = b.len - 1;
	while (n > 0 && (b.p[n - 1] == '\n' || b.p[n - 1] == '\r' || b.p[n - 1] == ' '))
		b.p[--n] = 0;
	token_drop(k);
	k->token = (char *)buf_take(&b, &n);
	k->token_st = st;
	r = 0;
fail:
	if (b.p)
		sodium_memzero(b.p, b.len);
	buf_release(&b);
	return r;
}

int kube_new(const struct kube_config *cfg, struct kube **ret)
{
	struct kube *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->cfg = cfg;
	k->curl = curl_easy_init();
	if (!k->curl) {
		free(k);
		return -ENOMEM;
	}
	*ret = k;
	return 0;
}

void kube_free(struct kube *k)
{
	if (!k)
		return;
	token_drop(k);
	curl_easy_cleanup(k->curl);
	free(k);
}

const struct kube_config *kube_cfg(const struct kube *k)
{
	return k->cfg;
}

static void blob_opt(CURL *c, CURLoption opt, const uint8_t *p, size_t n)
{
	struct curl_blob blob = { (void *)p, n, CURL_BLOB_COPY };

	curl_easy_setopt(c, opt, &blob);
}

/* Per-request settings on a reset handle h (k's own, or a raw connection's): URL, TLS,
 * auth, timeouts; curl's messages go to errbuf. */
static int kube_prepare_on(struct kube *k, CURL *h, char *errbuf, const char *path, bool stream,
                           struct err *e)
{
	const struct kube_config *c = k->cfg;
	char url[8192];
	int r;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->server, path) >= sizeof(url))
		return err_set(e, -ENAMETOOLONG, "request path too long");
	r = token_refresh(k, e);
	if (r < 0)
		return r;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!stream)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->ca_data)
		blob_opt(h, CURLOPT_CAINFO_BLOB, c->ca_data, c->ca_len);
	if (c->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	if (c->cert_data)
		blob_opt(h, CURLOPT_SSLCERT_BLOB, c->cert_data, c->cert_len);
	if (c->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	if (c->key_data)
		blob_opt(h, CURLOPT_SSLKEY_BLOB, c->key_data, c->key_len);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (k->token && k->token[0]) {
		/* curl keeps its own copy and never prints it in errors. */
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, k->token);
	}
	errbuf[0] = 0;
	return 0;
}

static int kube_prepare(struct kube *k, const char *path, bool stream, struct err *e)
{
	return kube_prepare_on(k, k->curl, k->errbuf, path, stream, e);
}

static size_t body_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct buf *b = ud;

	return buf_append(b, p, sz * n) < 0 ? 0 : sz * n;
}

static int status_errno(long status, const char *reason)
{
	if (status == 404)
		return -ENOENT;
	if (status == 409)
		return reason && strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -EAGAIN;
	if (status == 410)
		return -ESTALE;
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 400 || status == 422)
		return -EINVAL;
	/* Overload and server faults pass: the same request may succeed later. */
	if (status == 429 || status >= 500)
		return -EBUSY;
	return -EPROTO;
}

/* Map a non-2xx reply to an errno and one message line with the server's reason. */
static int reply_error(const char *method, const char *path, long status, const uint8_t *body,
                       size_t len, struct err *e)
{
	json_t *j = len ? json_loadb((const char *)body, len, 0, NULL) : NULL;
	const char *reason = j ? json_string_value(json_object_get(j, "reason")) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
	int r = status_errno(status, reason);
	char q[160];

	/* The query may carry selectors; the path is enough to name the object. */
	snprintf(q, sizeof(q), "%.*s", (int)strcspn(path, "?"), path);
	err_set(e, r, "%s %s: HTTP %ld%s%s%s%s", method, q, status, reason ? " " : "",
	        reason ? reason : "", msg ? ": " : "", msg ? msg : "");
	json_decref(j);
	return r;
}

int kube_request(struct kube *k, const char *method, const char *path, const json_t *body,
                 const char *content_type, json_t **ret, struct err *e)
{
	struct curl_slist *hdrs = NULL, *h2;
	struct buf out = BUF_INIT;
	char *payload = NULL, ct[128];
	long status = 0;
	CURLcode cc;
	int r;

	buf_init(&out, KUBE_BODY_MAX);
	r = kube_prepare(k, path, false, e);
	if (r < 0)
		goto fail;
	curl_easy_setopt(k->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &out);
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	r = -ENOMEM;
	if (!hdrs)
		goto fail;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		         content_type ? content_type : "application/json");
		h2 = curl_slist_append(hdrs, ct);
		if (!payload || !h2)
			goto fail;
		hdrs = h2;
		curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(k->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(k->curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(k->curl);
	if (cc != CURLE_OK) {
		r = err_set(e, cc == CURLE_WRITE_ERROR ? -EFBIG : -EHOSTDOWN, "%s %.*s: %s", method,
		            (int)strcspn(path, "?"), path,
		            k->errbuf[0] ? k->errbuf : curl_easy_strerror(cc));
		goto fail;
	}
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		r = reply_error(method, path, status, out.p, out.len, e);
		goto fail;
	}
	if (ret) {
		json_error_t je;
		json_t *j = json_loadb((const char *)out.p, out.len, 0, &je);

		if (!j) {
			r = err_set(e, -EPROTO, "%s %.*s: reply is not JSON: %s", method,
			            (int)strcspn(path, "?"), path, je.text);
			goto fail;
		}
		*ret = j;
	}
	r = 0;
fail:
	curl_slist_free_all(hdrs);
	free(payload);
	buf_release(&out);
	return r;
}

struct stream_ctx {
	struct kube *k;
	kube_data_fn fn;
	void *ud;
	kube_stop_fn stop;
	void *stop_ud;
	long status;
	struct buf errbody; /* a non-2xx reply, kept for its message */
	int r;
};

static size_t stream_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct stream_ctx *s = ud;

	if (s->status == 0)
		curl_easy_getinfo(s->k->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status < 200 || s->status > 299) {
		/* Keep only the head of an error body: it is read for its reason. */
		size_t room = s->errbody.max - s->errbody.len;

		if (buf_append(&s->errbody, p, sz * n < room ? sz * n : room) < 0)
			return 0;
		return sz * n;
	}
	s->r = s->fn(s->ud, p, sz * n);
	return s->r < 0 ? 0 : sz * n;
}

static int stream_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream_ctx *s = ud;

	return s->stop && s->stop(s->stop_ud) ? 1 : 0;
}

int kube_stream(struct kube *k, const char *path, kube_data_fn fn, void *ud, kube_stop_fn stop,
                void *stop_ud, struct err *e)
{
	struct stream_ctx s = { k, fn, ud, stop, stop_ud, 0, BUF_INIT, 0 };
	struct curl_slist *hdrs = NULL;
	CURLcode cc;
	int r;

	buf_init(&s.errbody, 64 * 1024);
	r = kube_prepare(k, path, true, e);
	if (r < 0)
		goto fail;
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	r = -ENOMEM;
	if (!hdrs)
		goto fail;
	curl_easy_setopt(k->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(k->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(k->curl, CURLOPT_XFERINFOFUNCTION, stream_progress);
	curl_easy_setopt(k->curl, CURLOPT_XFERINFODATA, &s);
	/* A dead peer that keeps the socket open: TCP keepalive finds it. */
	curl_easy_setopt(k->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	cc = curl_easy_perform(k->curl);
	if (s.status == 0)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &s.status);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		r = -ECANCELED;
		goto fail;
	}
	if (cc == CURLE_WRITE_ERROR && s.r < 0) {
		r = s.r;
		goto fail;
	}
	if (s.status != 0 && (s.status < 200 || s.status > 299)) {
		r = reply_error("WATCH", path, s.status, s.errbody.p, s.errbody.len, e);
		goto fail;
	}
	if (cc != CURLE_OK) {
		r = err_set(e, -EHOSTDOWN, "watch %.*s: %s", (int)strcspn(path, "?"), path,
		            k->errbuf[0] ? k->errbuf : curl_easy_strerror(cc));
		goto fail;
	}
	r = 0;
fail:
	curl_slist_free_all(hdrs);
	buf_release(&s.errbody);
	return r;
}

int kube_connect_raw(struct kube *k, const char *path, CURL **ret, const char **ret_token,
                     const char **ret_host, struct err *e)
{
	const char *s = k->cfg->server;
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = curl_easy_init();
	CURLcode cc;
	int r;

	/* A handle of its own, hence a connection of its own: requests made on k while the
	 * stream runs (the agent's progress updates) must not reset or reuse it. */
	if (!h)
		return err_set(e, -ENOMEM, "out of memory");
	r = kube_prepare_on(k, h, errbuf, path, true, e);
	if (r < 0)
		goto fail;
	/* The upgrade is spoken by hand: libcurl 7.88 has no websocket client, but it does
	 * give a connected, verified TLS stream. */
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		r = err_set(e, -EHOSTDOWN, "cannot reach the API server: %s",
		            errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto fail;
	}
	/* errbuf lives on this stack frame; the handle outlives it. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	s += strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
	*ret = h;
	*ret_token = k->token;
	*ret_host = s;
	return 0;
fail:
	curl_easy_cleanup(h);
	return r;
}

void kube_raw_close(CURL *h)
{
	/* The upgraded connection spoke websocket frames and can never serve a request:
	 * its handle goes, and with it the connection. */
	curl_easy_cleanup(h);
}
