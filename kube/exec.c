/* Owns pods/exec: the HTTP upgrade to a websocket on a TLS connection of its own
 * (libcurl CONNECT_ONLY), framing by libwslay, and the channel protocol of kubectl 1.30+
 * (v5.channel.k8s.io, v4 as fallback): byte 0 of each binary message names the stream
 * (1 stdout, 2 stderr, 3 the final Status), the rest is its data. */
#include "kube/kube.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <wslay/wslay.h>

#include "kube/kube-internal.h"
#include "util/banned.h"

#define EXEC_HANDSHAKE_MAX (16u * 1024)
#define EXEC_STATUS_MAX    (64u * 1024)
#define EXEC_QUERY_MAX     (32u * 1024)
#define WS_GUID            "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct exec_run {
	CURL *h;
	const struct kube_exec_params *p;
	wslay_event_context_ptr ws;
	/* Bytes read past the handshake's blank line belong to the first frames. */
	uint8_t pre[EXEC_HANDSHAKE_MAX];
	size_t pre_off, pre_len;
	int channel;  /* of the message being received; -1 before its first byte */
	bool control; /* the frame being received is a control frame (close, ping) */
	struct buf status;
	int fail; /* first error of a data callback */
	bool eof;
};

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct exec_run *x = ud;
	size_t got = 0;
	CURLcode rc;

	if (x->pre_off < x->pre_len) {
		size_t n = x->pre_len - x->pre_off < len ? x->pre_len - x->pre_off : len;

		memcpy(buf, x->pre + x->pre_off, n);
		x->pre_off += n;
		return (ssize_t)n;
	}
	rc = curl_easy_recv(x->h, buf, len, &got);
	if (rc == CURLE_AGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (rc != CURLE_OK || got == 0) {
		x->eof = true;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)got;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
	struct exec_run *x = ud;
	size_t sent = 0;
	CURLcode rc = curl_easy_send(x->h, data, len, &sent);

	if (rc == CURLE_AGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (rc != CURLE_OK) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)sent;
}

static int ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	randombytes_buf(buf, len);
	return 0;
}

static void ws_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *a, void *ud)
{
	struct exec_run *x = ud;

	/* A new data message starts with its channel byte; continuation frames keep it.
	 * Control frames (wslay answers them) may come between the fragments of one. */
	x->control = a->opcode >= 0x8;
	if (a->opcode == WSLAY_BINARY_FRAME || a->opcode == WSLAY_TEXT_FRAME)
		x->channel = -1;
}

static void ws_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *a, void *ud)
{
	struct exec_run *x = ud;
	const uint8_t *d = a->data;
	size_t n = a->data_length;
	int r = 0;

	if (x->fail || x->control || !n)
		return;
	if (x->channel < 0) {
		x->channel = d[0];
		d++;
		n--;
	}
	if (!n)
		return;
	if (x->channel == 1 && x->p->out)
		r = x->p->out(x->p->out_ud, (const char *)d, n);
	else if (x->channel == 2 && x->p->err)
		r = x->p->err(x->p->err_ud, (const char *)d, n);
	else if (x->channel == 3)
		r = buf_append(&x->status, d, n);
	if (r < 0)
		x->fail = r;
}

/* The Status on channel 3: Success, or Failure with NonZeroExitCode and the code in
 * details.causes[reason=ExitCode].message. Anything else is the server's refusal. */
static int parse_status(struct exec_run *x, int *ret_exit, struct err *e)
{
	json_t *st = NULL, *causes;
	const char *status, *reason, *msg;
	size_t i;
	int rc = 0;

	if (!x->status.len)
		return err_set(e, -EPROTO, "exec in %s/%s: the stream ended without a status",
		               x->p->ns, x->p->pod);
	st = json_loadb((const char *)x->status.p, x->status.len, 0, NULL);
	status = json_string_value(json_object_get(st, "status"));
	reason = json_string_value(json_object_get(st, "reason"));
	msg = json_string_value(json_object_get(st, "message"));
	if (!status) {
		rc = err_set(e, -EPROTO, "exec in %s/%s: unreadable status", x->p->ns, x->p->pod);
	} else if (!strcmp(status, "Success")) {
		*ret_exit = 0;
	} else if (reason && !strcmp(reason, "NonZeroExitCode")) {
		causes = json_object_get(json_object_get(st, "details"), "causes");
		rc = err_set(e, -EPROTO, "exec in %s/%s: non-zero exit without a code", x->p->ns,
		             x->p->pod);
		for (i = 0; i < json_array_size(causes); i++) {
			json_t *c = json_array_get(causes, i);
			const char *cr = json_string_value(json_object_get(c, "reason"));
			const char *cm = json_string_value(json_object_get(c, "message"));
			char *end = NULL;
			long v;

			if (!cr || strcmp(cr, "ExitCode") || !cm)
				continue;
			errno = 0;
			v = strtol(cm, &end, 10);
			if (errno || end == cm || *end || v < 1 || v > 255)
				break;
			err_clear(e);
			*ret_exit = (int)v;
			rc = 0;
			break;
		}
	} else {
		rc = err_set(e, -EPROTO, "exec in %s/%s refused: %s", x->p->ns, x->p->pod,
		             msg      ? msg
		             : reason ? reason
		                      : status);
	}
	json_decref(st);
	return rc;
}

/* "?command=a&command=b&container=c&stdout=true&stderr=true" */
static int exec_path(const struct kube_exec_params *p, struct buf *b)
{
	char esc[4096];
	int r = buf_printf(b, "/api/v1/namespaces/%s/pods/%s/exec?stdout=true&stderr=true", p->ns,
	                   p->pod);

	if (r >= 0 && p->container && p->container[0]) {
		r = kube_query_escape(p->container, esc, sizeof(esc));
		if (r >= 0)
			r = buf_printf(b, "&container=%s", esc);
	}
	for (size_t i = 0; r >= 0 && i < p->argc; i++) {
		r = kube_query_escape(p->argv[i], esc, sizeof(esc));
		if (r >= 0)
			r = buf_printf(b, "&command=%s", esc);
	}
	return r;
}

static int send_all(CURL *h, const void *p, size_t n, time_t deadline)
{
	const uint8_t *d = p;
	curl_socket_t fd;

	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
		return -EPROTO;
	while (n) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(h, d, n, &sent);

		if (rc == CURLE_AGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (time(NULL) > deadline)
				return -ETIMEDOUT;
			(void)poll(&pf, 1, 1000);
			continue;
		}
		if (rc != CURLE_OK)
			return -EHOSTDOWN;
		d += sent;
		n -= sent;
	}
	return 0;
}

/* A refused upgrade is an ordinary reply whose body is a Status: name its message. */
static int refused(struct exec_run *x, char *hdr, char *body, size_t have, curl_socket_t fd,
                   time_t deadline, struct err *e)
{
	char *cl = strcasestr(hdr, "\r\nContent-Length:"), *line = strchr(hdr, '\r');
	size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
	size_t room = sizeof(x->pre) - 1 - (size_t)(body - (char *)x->pre);
	const char *msg = NULL;
	json_t *st = NULL;
	int r;

	if (line)
		*line = 0;
	if (want > room)
		want = room;
	while (have < want && time(NULL) <= deadline) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		size_t got = 0;
		CURLcode rc = curl_easy_recv(x->h, body + have, want - have, &got);

		if (rc == CURLE_AGAIN) {
			(void)poll(&pf, 1, 1000);
			continue;
		}
		if (rc != CURLE_OK || !got)
			break;
		have += got;
	}
	st = json_loadb(body, have, 0, NULL);
	msg = json_string_value(json_object_get(st, "message"));
	r = err_set(e, -EPROTO, "exec in %s/%s refused: %.200s%s%.400s", x->p->ns, x->p->pod, hdr,
	            msg ? ": " : "", msg ? msg : "");
	json_decref(st);
	return r;
}

/* Read the 101 reply; the bytes after its blank line go to x->pre. */
static int read_reply(struct exec_run *x, const char *want_accept, time_t deadline, struct err *e)
{
	char *hdr, *end = NULL, *line;
	size_t len = 0;
	curl_socket_t fd;
	int proto_ok = 0;

	if (curl_easy_getinfo(x->h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
		return err_set(e, -EPROTO, "exec: no socket");
	while (!end) {
		size_t got = 0;
		CURLcode rc;

		if (len >= sizeof(x->pre) - 1)
			return err_set(e, -EPROTO, "exec: the upgrade reply is too long");
		rc = curl_easy_recv(x->h, x->pre + len, sizeof(x->pre) - 1 - len, &got);
		if (rc == CURLE_AGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			if (time(NULL) > deadline)
				return err_set(e, -ETIMEDOUT, "exec: no upgrade reply in time");
			(void)poll(&pf, 1, 1000);
			continue;
		}
		if (rc != CURLE_OK || !got)
			return err_set(e, -EHOSTDOWN,
			               "exec: the connection closed during the "
			               "upgrade");
		len += got;
		x->pre[len] = 0;
		end = strstr((char *)x->pre, "\r\n\r\n");
	}
	*end = 0;
	hdr = (char *)x->pre;
	if (strncmp(hdr, "HTTP/1.1 101", 12) != 0)
		return refused(x, hdr, end + 4, len - (size_t)(end + 4 - hdr), fd, deadline, e);
	for (line = strstr(hdr, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *l = line + 2;

		if (!strncasecmp(l, "Sec-WebSocket-Accept:", 21)) {
			l += 21;
			while (*l == ' ')
				l++;
			if (strncmp(l, want_accept, strlen(want_accept)) != 0)
				return err_set(e, -EPROTO, "exec: wrong Sec-WebSocket-Accept");
			proto_ok |= 1;
		} else if (!strncasecmp(l, "Sec-WebSocket-Protocol:", 23)) {
			proto_ok |= 2;
		}
	}
	if (proto_ok != 3)
		return err_set(e, -EPROTO,
		               "exec: the upgrade reply lacks its accept key or "
		               "channel protocol");
	x->pre_off = (size_t)(end + 4 - (char *)x->pre);
	x->pre_len = len;
	return 0;
}

/* server is "host[:port][/prefix]" (a proxy may serve the API under a prefix). */
static int handshake(struct exec_run *x, const char *path, const char *server, const char *token,
                     time_t deadline, struct err *e)
{
	size_t hl = strcspn(server, "/");
	uint8_t nonce[16], sha[EVP_MAX_MD_SIZE];
	char key[32], accept[64], cat[128];
	unsigned shalen = 0;
	struct buf req = BUF_INIT;
	int r;

	randombytes_buf(nonce, sizeof(nonce));
	sodium_bin2base64(key, sizeof(key), nonce, sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);
	snprintf(cat, sizeof(cat), "%s" WS_GUID, key);
	if (!EVP_Digest(cat, strlen(cat), sha, &shalen, EVP_sha1(), NULL) || shalen != 20)
		return err_set(e, -EIO, "exec: SHA-1 unavailable");
	sodium_bin2base64(accept, sizeof(accept), sha, 20, sodium_base64_VARIANT_ORIGINAL);
	buf_init(&req, EXEC_QUERY_MAX + 4096);
	r = buf_printf(&req,
	               "GET %s%s HTTP/1.1\r\nHost: %.*s\r\nUpgrade: websocket\r\n"
	               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	               "Sec-WebSocket-Version: 13\r\n"
	               "Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n",
	               server + hl, path, (int)hl, server, key);
	/* The token goes on the wire only, never into a message or log. */
	if (r >= 0 && token && token[0])
		r = buf_printf(&req, "Authorization: Bearer %s\r\n", token);
	if (r >= 0)
		r = buf_printf(&req, "\r\n");
	if (r < 0) {
		r = err_set(e, r, "exec: request too long");
		goto fail;
	}
	r = send_all(x->h, req.p, req.len, deadline);
	if (r < 0) {
		err_set(e, r, "exec in %s/%s: cannot send the upgrade request", x->p->ns,
		        x->p->pod);
		goto fail;
	}
	r = read_reply(x, accept, deadline, e);
fail:
	sodium_memzero(req.p, req.len);
	buf_release(&req);
	return r;
}

static int pump(struct exec_run *x, time_t deadline, struct err *e)
{
	curl_socket_t fd;

	if (curl_easy_getinfo(x->h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
		return err_set(e, -EPROTO, "exec: no socket");
	while (!x->eof && (wslay_event_want_read(x->ws) || wslay_event_want_write(x->ws))) {
		struct pollfd pf = { .fd = fd };

		if (x->fail)
			return err_set(e, x->fail, "exec in %s/%s: the output consumer failed",
			               x->p->ns, x->p->pod);
		if (x->p->stop && x->p->stop(x->p->stop_ud))
			return err_set(e, -ECANCELED, "exec in %s/%s canceled", x->p->ns,
			               x->p->pod);
		if (deadline && time(NULL) > deadline)
			return err_set(e, -ETIMEDOUT, "exec in %s/%s timed out after %u s",
			               x->p->ns, x->p->pod, x->p->timeout_sec);
		/* Bytes left over from the handshake are not visible to poll. */
		if (x->pre_off < x->pre_len) {
			if (wslay_event_recv(x->ws) != 0)
				break;
			continue;
		}
		pf.events = (wslay_event_want_read(x->ws) ? POLLIN : 0) |
		            (wslay_event_want_write(x->ws) ? POLLOUT : 0);
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(x->ws) != 0)
			break;
		if ((pf.revents & POLLOUT) && wslay_event_send(x->ws) != 0)
			break;
	}
	if (x->fail)
		return err_set(e, x->fail, "exec in %s/%s: the output consumer failed", x->p->ns,
		               x->p->pod);
	return 0;
}

int kube_exec(struct kube *k, const struct kube_exec_params *p, int *ret_exit, struct err *e)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = ws_recv,
		.send_callback = ws_send,
		.genmask_callback = ws_genmask,
		.on_frame_recv_start_callback = ws_frame_start,
		.on_frame_recv_chunk_callback = ws_frame_chunk,
	};
	struct exec_run x = { .p = p, .channel = -1 };
	struct buf path = BUF_INIT;
	const char *token = NULL, *host;
	time_t deadline = p->timeout_sec ? time(NULL) + (time_t)p->timeout_sec : 0;
	int r, code = -1;

	if (!p->ns || !p->pod || !p->argc)
		return err_set(e, -EINVAL, "exec: namespace, pod and command are required");
	buf_init(&path, EXEC_QUERY_MAX);
	buf_init(&x.status, EXEC_STATUS_MAX);
	r = exec_path(p, &path);
	if (r < 0) {
		r = err_set(e, r, "exec in %s/%s: command too long", p->ns, p->pod);
		goto fail;
	}
	r = kube_connect_raw(k, (const char *)path.p, &x.h, &token, &host, e);
	if (r < 0)
		goto fail;
	r = handshake(&x, (const char *)path.p, host, token, deadline ? deadline : time(NULL) + 30,
	              e);
	if (r < 0)
		goto fail;
	if (wslay_event_context_client_init(&x.ws, &cb, &x) != 0) {
		r = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	r = pump(&x, deadline, e);
	if (r >= 0)
		r = parse_status(&x, &code, e);
	if (r >= 0)
		*ret_exit = code;
fail:
	if (x.ws)
		wslay_event_context_free(x.ws);
	kube_raw_close(x.h);
	buf_release(&x.status);
	buf_release(&path);
	return r;
}
