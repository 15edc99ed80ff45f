/* Owns list+watch: the bounded line splitter for the chunked event stream, resourceVersion
 * and bookmark tracking, re-list on 410 Gone, and reconnect with capped backoff. */
#include "kube/kube.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

void watch_lines_init(struct watch_lines *w, size_t max_line)
{
	buf_init(&w->b, max_line);
}

void watch_lines_release(struct watch_lines *w)
{
	buf_release(&w->b);
}

/* The stream's health goes to the caller's note callback: this client never prints. */
static void note(const struct watch_params *p, enum watch_note level, const char *fmt, ...)
    _printf_(3, 4);
static void note(const struct watch_params *p, enum watch_note level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!p->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->note(p->note_ud, level, msg);
}

static int emit(const char *p, size_t n, watch_line_fn fn, void *ud)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n ? fn(ud, p, n) : 0;
}

int watch_lines_feed(struct watch_lines *w, const char *p, size_t n, watch_line_fn fn, void *ud)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		int r;

		if (!nl || w->b.len) {
			r = buf_append(&w->b, p, take);
			if (r < 0) {
				buf_reset(&w->b);
				return r;
			}
		}
		if (nl) {
			/* A line wholly inside this chunk is passed in place, without a copy. */
			if (w->b.len) {
				r = emit((const char *)w->b.p, w->b.len, fn, ud);
				buf_reset(&w->b);
			} else {
				r = emit(p, take, fn, ud);
			}
			if (r < 0)
				return r;
			take++;
		}
		p += take;
		n -= take;
	}
	return 0;
}

/* ---- the list/watch loop ---- */

struct watch_state {
	const struct watch_params *p;
	char *rv;
	bool relist;  /* the server said 410 Gone: our version is too old */
	bool got_any; /* the stream delivered events (reset the backoff) */
};

static int set_rv(struct watch_state *s, const json_t *obj)
{
	const char *v =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	char *d;

	if (!v || !v[0])
		return 0;
	d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(s->rv);
	s->rv = d;
	return 0;
}

static int on_line(void *ud, const char *line, size_t n)
{
	struct watch_state *s = ud;
	json_t *ev = json_loadb(line, n, 0, NULL), *obj;
	const char *type;
	int r = 0;

	if (!ev) {
		note(s->p, WATCH_NOTE_WARN, "watch %s: dropping a line that is not JSON",
		     s->p->collection);
		return 0;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	s->got_any = true;
	if (!type || !json_is_object(obj)) {
		r = 0;
	} else if (strcmp(type, "BOOKMARK") == 0) {
		r = set_rv(s, obj);
	} else if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		if (code == 410)
			s->relist = true;
		else
			note(s->p, WATCH_NOTE_WARN, "watch %s: server error %lld: %s",
			     s->p->collection, (long long)code, msg ? msg : "");
		r = -ESTALE; /* end this stream; the loop re-lists or reconnects */
	} else {
		enum watch_kind k = strcmp(type, "ADDED") == 0     ? WATCH_ADDED
		                    : strcmp(type, "DELETED") == 0 ? WATCH_DELETED
		                                                   : WATCH_MODIFIED;

		r = set_rv(s, obj);
		if (r == 0)
			s->p->fn(s->p->ud, k, obj);
	}
	json_decref(ev);
	return r;
}

static int on_item(void *ud, json_t *item)
{
	struct watch_state *s = ud;

	s->p->fn(s->p->ud, WATCH_ADDED, item);
	return 0;
}

static bool stopped(const struct watch_params *p)
{
	return p->stop && p->stop(p->stop_ud);
}

/* Sleep up to sec seconds in short steps so a stop request is seen quickly. */
static void nap(const struct watch_params *p, unsigned sec)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	unsigned i;

	for (i = 0; i < sec * 10 && !stopped(p); i++)
		nanosleep(&ts, NULL);
}

static int do_list(struct kube *k, struct watch_state *s, struct err *e)
{
	char *rv = NULL;
	int r;

	s->p->fn(s->p->ud, WATCH_SYNC_BEGIN, NULL);
	r = kube_list(k, s->p->collection, s->p->label_selector, s->p->field_selector, on_item, s,
	              &rv, e);
	if (r < 0)
		return r;
	free(s->rv);
	s->rv = rv;
	s->relist = false;
	s->p->fn(s->p->ud, WATCH_SYNC_END, NULL);
	return 0;
}

struct stream_ud {
	struct watch_state *s;
	struct watch_lines lines;
};

static int stream_data(void *ud, const char *p, size_t n)
{
	struct stream_ud *u = ud;

	return watch_lines_feed(&u->lines, p, n, on_line, u->s);
}

static int do_watch(struct kube *k, struct watch_state *s, struct err *e)
{
	const struct watch_params *p = s->p;
	char path[8192], l[1024] = "", f[1024] = "", v[256] = "";
	struct stream_ud u = { s, { BUF_INIT } };
	int r;

	if ((p->label_selector && kube_query_escape(p->label_selector, l, sizeof(l)) < 0) ||
	    (p->field_selector && kube_query_escape(p->field_selector, f, sizeof(f)) < 0) ||
	    kube_query_escape(s->rv ? s->rv : "", v, sizeof(v)) < 0)
		return err_set(e, -ENAMETOOLONG, "watch %s: query too long", p->collection);
	if ((size_t)snprintf(path, sizeof(path),
	                     "%s?watch=true&allowWatchBookmarks=true&timeoutSeconds=%u"
	                     "&resourceVersion=%s%s%s%s%s",
	                     p->collection, p->timeout_sec ? p->timeout_sec : 300, v,
	                     l[0] ? "&labelSelector=" : "", l, f[0] ? "&fieldSelector=" : "",
	                     f) >= sizeof(path))
		return err_set(e, -ENAMETOOLONG, "watch %s: query too long", p->collection);
	watch_lines_init(&u.lines, WATCH_LINE_MAX);
	r = kube_stream(k, path, stream_data, &u, p->stop, p->stop_ud, e);
	watch_lines_release(&u.lines);
	if (r == -ESTALE && !s->relist && e->code == 0)
		err_set(e, r, "watch %s: server ended the stream with an error", p->collection);
	if (r == -ESTALE && e->code == -ESTALE && strstr(e->msg, "HTTP 410"))
		s->relist = true;
	return r;
}

int watch_run(struct kube *k, const struct watch_params *p, struct err *e)
{
	struct watch_state s = { p, NULL, true, false };
	unsigned backoff = 1;
	int r;

	while (!stopped(p)) {
		struct err le = ERR_INIT;

		if (s.relist) {
			r = do_list(k, &s, &le);
			if (r < 0) {
				if (stopped(p))
					break;
				note(p, WATCH_NOTE_WARN, "list %s failed (retrying in %us): %s",
				     p->collection, backoff, le.msg);
				nap(p, backoff);
				backoff = backoff * 2 > WATCH_BACKOFF_MAX_SEC
				              ? WATCH_BACKOFF_MAX_SEC
				              : backoff * 2;
				continue;
			}
			backoff = 1;
		}
		s.got_any = false;
		r = do_watch(k, &s, &le);
		if (r == -ECANCELED || stopped(p))
			break;
		if (s.relist) {
			note(p, WATCH_NOTE_INFO, "watch %s: resourceVersion expired, listing again",
			     p->collection);
			continue;
		}
		if (s.got_any)
			backoff = 1;
		if (r == 0) {
			/* The server's timeout: reconnect at once, unless it closes streams
			 * without a word, which would make this loop spin. */
			if (!s.got_any)
				nap(p, 1);
			continue;
		}
		note(p, WATCH_NOTE_WARN, "watch %s dropped (reconnecting in %us): %s",
		     p->collection, backoff, le.msg[0] ? le.msg : strerror(-r));
		nap(p, backoff);
		backoff = backoff * 2 > WATCH_BACKOFF_MAX_SEC ? WATCH_BACKOFF_MAX_SEC : backoff * 2;
	}
	free(s.rv);
	err_clear(e);
	return 0;
}
