/* Owns the REST verbs on top of kube_request: get, paged list, create, update with
 * conflict retry, merge-patch, delete, and core/v1 Events. */
#include "kube/kube.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

bool kube_transient(int r)
{
	return r == -EAGAIN || r == -EBUSY || r == -EHOSTDOWN || r == -ETIMEDOUT;
}

int kube_get(struct kube *k, const char *path, json_t **ret, struct err *e)
{
	return kube_request(k, "GET", path, NULL, NULL, ret, e);
}

int kube_create(struct kube *k, const char *collection, const json_t *obj, json_t **ret,
                struct err *e)
{
	return kube_request(k, "POST", collection, obj, NULL, ret, e);
}

int kube_update(struct kube *k, const char *path, const json_t *obj, json_t **ret, struct err *e)
{
	return kube_request(k, "PUT", path, obj, NULL, ret, e);
}

int kube_patch_merge(struct kube *k, const char *path, const json_t *patch, json_t **ret,
                     struct err *e)
{
	return kube_request(k, "PATCH", path, patch, "application/merge-patch+json", ret, e);
}

int kube_delete(struct kube *k, const char *path, struct err *e)
{
	int r = kube_request(k, "DELETE", path, NULL, NULL, NULL, e);

	if (r == -ENOENT) {
		err_clear(e);
		return 0;
	}
	return r;
}

int kube_update_retry(struct kube *k, const char *path, kube_mutate_fn fn, void *ud, json_t **ret,
                      struct err *e)
{
	json_t *obj = NULL, *stored = NULL;
	int r = -EAGAIN, i;

	for (i = 0; i < KUBE_UPDATE_TRIES && r == -EAGAIN; i++) {
		json_decref(obj);
		obj = NULL;
		err_clear(e);
		r = kube_get(k, path, &obj, e);
		if (r < 0)
			goto fail;
		r = fn(ud, obj);
		if (r < 0)
			goto fail;
		if (r == 1) { /* nothing to write: the stored object is current */
			stored = json_incref(obj);
			r = 0;
			break;
		}
		r = kube_update(k, path, obj, &stored, e);
	}
	if (r < 0)
		goto fail;
	if (ret)
		*ret = stored;
	else
		json_decref(stored);
	stored = NULL;
fail:
	json_decref(obj);
	json_decref(stored);
	return r;
}

int kube_query_escape(const char *in, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';

		if (o + (plain ? 1 : 3) >= n)
			return -ENAMETOOLONG;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= n)
		return -ENAMETOOLONG;
	out[o] = 0;
	return 0;
}

/* "?limit=N&labelSelector=...&fieldSelector=...&continue=..." into q. */
static int list_query(char *q, size_t n, const char *label, const char *field, const char *cont)
{
	char l[1024] = "", f[1024] = "", c[2048] = "";

	if ((label && kube_query_escape(label, l, sizeof(l)) < 0) ||
	    (field && kube_query_escape(field, f, sizeof(f)) < 0) ||
	    (cont && kube_query_escape(cont, c, sizeof(c)) < 0))
		return -ENAMETOOLONG;
	if ((size_t)snprintf(q, n, "?limit=%u%s%s%s%s%s%s", KUBE_LIST_LIMIT,
	                     l[0] ? "&labelSelector=" : "", l, f[0] ? "&fieldSelector=" : "", f,
	                     c[0] ? "&continue=" : "", c) >= n)
		return -ENAMETOOLONG;
	return 0;
}

int kube_list(struct kube *k, const char *collection, const char *label_selector,
              const char *field_selector, kube_item_fn fn, void *ud, char **ret_rv, struct err *e)
{
	char path[8192], q[4096], *cont = NULL, *rv = NULL;
	json_t *page = NULL, *items, *item;
	size_t i;
	int r;

	do {
		r = list_query(q, sizeof(q), label_selector, field_selector, cont);
		if (r < 0 ||
		    (size_t)snprintf(path, sizeof(path), "%s%s", collection, q) >= sizeof(path)) {
			r = err_set(e, -ENAMETOOLONG, "list %s: query too long", collection);
			goto fail;
		}
		json_decref(page);
		page = NULL;
		r = kube_get(k, path, &page, e);
		if (r < 0)
			goto fail;
		items = json_object_get(page, "items");
		json_array_foreach(items, i, item)
		{
			r = fn(ud, item);
			if (r < 0)
				goto fail;
		}
		{
			json_t *meta = json_object_get(page, "metadata");
			const char *c = json_string_value(json_object_get(meta, "continue"));
			const char *v = json_string_value(json_object_get(meta, "resourceVersion"));

			free(cont);
			cont = c && c[0] ? strdup(c) : NULL;
			/* The first page's version is the list's snapshot point. */
			if (!rv && v && !(rv = strdup(v))) {
				r = -ENOMEM;
				goto fail;
			}
			if (c && c[0] && !cont) {
				r = -ENOMEM;
				goto fail;
			}
		}
	} while (cont);
	if (ret_rv) {
		*ret_rv = rv ? rv : strdup("");
		rv = NULL;
	}
	r = 0;
fail:
	json_decref(page);
	free(cont);
	free(rv);
	return r;
}

void kube_timestamp(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int kube_event(struct kube *k, const json_t *obj, const char *type, const char *reason,
               const char *component, const char *host, struct err *e, const char *fmt, ...)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	char msg[1024], ts[32], ename[300], coll[512];
	struct timespec now;
	json_t *ev;
	va_list ap;
	int rc;

	if (!name || !ns || !api || !kind)
		return err_set(e, -EINVAL,
		               "event %s: the object has no apiVersion, kind, name "
		               "or namespace",
		               reason);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	kube_timestamp(now.tv_sec, ts);
	/* Unique like kubectl's "<object>.<hex nanos>" so events never collide. */
	snprintf(ename, sizeof(ename), "%.200s.%llx", name,
	         (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec);
	snprintf(coll, sizeof(coll), "/api/v1/namespaces/%s/events", ns);
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s?}, s:s, s:s, s:s, "
	               "s:{s:s, s:s?}, s:s, s:s, s:i}",
	               "apiVersion", "v1", "kind", "Event", "metadata", "name", ename, "namespace",
	               ns, "involvedObject", "apiVersion", api, "kind", kind, "name", name,
	               "namespace", ns, "uid", uid, "type", type, "reason", reason, "message", msg,
	               "source", "component", component, "host", host, "firstTimestamp", ts,
	               "lastTimestamp", ts, "count", 1);
	if (!ev)
		return err_set(e, -ENOMEM, "out of memory");
	rc = kube_create(k, coll, ev, NULL, e);
	json_decref(ev);
	return rc;
}
