/* The API client against the real API-server double (tests/kubeapi) over TLS: CRUD,
 * conflicts and retries, merge-patch, paged lists with selectors, token rotation, and
 * watch with bookmarks, 410 Gone re-lists and dropped streams. */
#include "kube/kube.h"

#include <pthread.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"
#include "util/banned.h"

static char dir[] = "/tmp/test-kubeclient-XXXXXX";
static const char *top;

static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static json_t *cm(const char *name, const char *label)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
	                 "ConfigMap", "metadata", "name", name, "labels", "app", label, "data", "k",
	                 "v");
}

static int count_item(void *ud, json_t *item)
{
	(*(int *)ud)++;
	return 0;
}

static int bump(void *ud, json_t *obj)
{
	json_t *data = json_object_get(obj, "data");

	(*(int *)ud)++;
	return json_object_set_new(data, "k", json_string("bumped")) < 0 ? -ENOMEM : 0;
}

/* ---- watch in a thread ---- */

struct seen {
	pthread_mutex_t lock;
	int added, modified, deleted, syncs;
	volatile int stop;
};

static void on_ev(void *ud, enum watch_kind k, json_t *obj)
{
	struct seen *s = ud;

	pthread_mutex_lock(&s->lock);
	if (k == WATCH_ADDED)
		s->added++;
	else if (k == WATCH_MODIFIED)
		s->modified++;
	else if (k == WATCH_DELETED)
		s->deleted++;
	else if (k == WATCH_SYNC_END)
		s->syncs++;
	pthread_mutex_unlock(&s->lock);
}

static bool stop_fn(void *ud)
{
	return ((struct seen *)ud)->stop;
}

struct wctx {
	struct kube_config *cfg;
	struct seen *s;
};

static void *watcher(void *ud)
{
	struct wctx *w = ud;
	struct watch_params p = {
		.collection = "/api/v1/namespaces/t1/configmaps", .label_selector = "app=w",
		.timeout_sec = 30, .fn = on_ev, .ud = w->s, .stop = stop_fn, .stop_ud = w->s,
	};
	struct err e = ERR_INIT;
	struct kube *k;

	if (kube_new(w->cfg, &k) == 0) {
		if (watch_run(k, &p, &e) < 0)
			tap_diag("watch: %s", e.msg);
		kube_free(k);
	}
	return NULL;
}

static int get_int(struct seen *s, int *field)
{
	int v;

	pthread_mutex_lock(&s->lock);
	v = *field;
	pthread_mutex_unlock(&s->lock);
	return v;
}

static bool wait_for(struct seen *s, int *field, int want)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (get_int(s, field) >= want)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

static int post(struct kube *k, const char *path)
{
	json_t *empty = json_object();
	struct err e = ERR_INIT;
	int r = kube_request(k, "POST", path, empty, NULL, NULL, &e);

	json_decref(empty);
	return r;
}

int main(void)
{
	struct kube_config cfg = { 0 };
	struct err e = ERR_INIT;
	struct kube *k = NULL;
	json_t *o = NULL, *got = NULL, *ns;
	char path[512], name[64];
	int r, n, i, calls = 0;

	top = getenv("TOP_SRCDIR");
	if (!top)
		top = ".";
	if (!mkdtemp(dir))
		return 1;
	/* Bookmarks every 5 s: frequent enough to be seen, rare enough not to race the
	 * compaction below. */
	if (sh("%s/tests/kubeapi/start.sh %s --bookmark-interval 5 >/dev/null", top, dir) != 0) {
		printf("Bail out! the API-server double did not start\n");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	r = kcfg_load_file(path, NULL, &cfg, &e);
	is_int(r, 0, "kubeconfig from start.sh loads (%s)", e.msg);
	ok(cfg.ca_data && strncmp(cfg.server, "https://", 8) == 0, "TLS with CA data");
	if (r < 0 || kube_new(&cfg, &k) < 0)
		goto out;

	ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
	               "name", "t1");
	r = kube_create(k, "/api/v1/namespaces", ns, NULL, &e);
	is_int(r, 0, "create namespace over TLS with the token (%s)", e.msg);
	json_decref(ns);

	o = cm("a", "x");
	is_int(kube_create(k, "/api/v1/namespaces/t1/configmaps", o, &got, &e), 0, "create");
	ok(json_string_value(json_object_get(json_object_get(got, "metadata"), "resourceVersion")),
	   "created object has a resourceVersion");
	err_clear(&e);
	is_int(kube_create(k, "/api/v1/namespaces/t1/configmaps", o, NULL, &e), -EEXIST,
	       "second create is -EEXIST");
	json_decref(o);
	o = NULL;
	err_clear(&e);
	is_int(kube_get(k, "/api/v1/namespaces/t1/configmaps/nope", &o, &e), -ENOENT,
	       "missing object is -ENOENT");
	ok(strstr(e.msg, "404") && strstr(e.msg, "nope"), "message names status and object: %s",
	   e.msg);

	/* Update with a stale resourceVersion conflicts; the retry helper re-reads. */
	json_object_set_new(json_object_get(got, "data"), "k", json_string("v2"));
	err_clear(&e);
	is_int(kube_update(k, "/api/v1/namespaces/t1/configmaps/a", got, NULL, &e), 0, "update");
	err_clear(&e);
	is_int(kube_update(k, "/api/v1/namespaces/t1/configmaps/a", got, NULL, &e), -EAGAIN,
	       "stale resourceVersion is a conflict");
	json_decref(got);
	got = NULL;
	ok(sh("curl -sf --cacert %s/ca.crt -H \"Authorization: Bearer $(cat %s/token)\" "
	      "-d '{\"code\":409,\"reason\":\"Conflict\",\"method\":\"PUT\",\"count\":2}' "
	      "$(cat %s/url)/_test/inject >/dev/null",
	      dir, dir, dir) == 0,
	   "two 409s injected");
	err_clear(&e);
	r = kube_update_retry(k, "/api/v1/namespaces/t1/configmaps/a", bump, &calls, &got, &e);
	is_int(r, 0, "update_retry succeeds through conflicts (%s)", e.msg);
	is_int(calls, 3, "re-read after each conflict");
	is_str(json_string_value(json_object_get(json_object_get(got, "data"), "k")), "bumped",
	       "stored object returned");
	json_decref(got);
	got = NULL;

	o = json_pack("{s:{s:s}}", "data", "p", "patched");
	err_clear(&e);
	is_int(kube_patch_merge(k, "/api/v1/namespaces/t1/configmaps/a", o, &got, &e), 0,
	       "merge-patch");
	is_str(json_string_value(json_object_get(json_object_get(got, "data"), "p")), "patched",
	       "patched field");
	is_str(json_string_value(json_object_get(json_object_get(got, "data"), "k")), "bumped",
	       "other fields kept");
	json_decref(o);
	json_decref(got);
	got = NULL;

	/* Paged list: more objects than one page, with a label selector. */
	for (i = 0; i < KUBE_LIST_LIMIT + 20; i++) {
		snprintf(name, sizeof(name), "p%04d", i);
		o = cm(name, i % 2 ? "odd" : "even");
		r = kube_create(k, "/api/v1/namespaces/t1/configmaps", o, NULL, &e);
		json_decref(o);
		if (r < 0)
			break;
	}
	is_int(r, 0, "%d objects created", KUBE_LIST_LIMIT + 20);
	n = 0;
	{
		char *rv = NULL;

		err_clear(&e);
		is_int(kube_list(k, "/api/v1/namespaces/t1/configmaps", NULL, NULL, count_item, &n,
		                 &rv, &e),
		       0, "list across pages");
		is_int(n, KUBE_LIST_LIMIT + 21, "every object listed once");
		ok(rv && rv[0], "list resourceVersion");
		free(rv);
	}
	n = 0;
	is_int(kube_list(k, "/api/v1/namespaces/t1/configmaps", "app=odd", NULL, count_item, &n,
	                 NULL, &e),
	       0, "list with labelSelector");
	is_int(n, (KUBE_LIST_LIMIT + 20) / 2, "only matching objects");
	n = 0;
	is_int(kube_list(k, "/api/v1/namespaces/t1/configmaps", NULL, "metadata.name=a", count_item,
	                 &n, NULL, &e),
	       0, "list with fieldSelector");
	is_int(n, 1, "one object by name");
	err_clear(&e);
	is_int(kube_delete(k, "/api/v1/namespaces/t1/configmaps/a", &e), 0, "delete");
	is_int(kube_delete(k, "/api/v1/namespaces/t1/configmaps/a", &e), 0, "delete again is fine");

	/* Watch: initial list, events, bookmarks, 410 -> re-list, dropped streams. */
	{
		struct seen s = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0 };
		struct wctx w = { &cfg, &s };
		pthread_t t;

		o = cm("w1", "w");
		r = kube_create(k, "/api/v1/namespaces/t1/configmaps", o, NULL, &e);
		json_decref(o);
		is_int(r, 0, "object to watch created");
		pthread_create(&t, NULL, watcher, &w);
		ok(wait_for(&s, &s.syncs, 1) && get_int(&s, &s.added) == 1,
		   "initial list: one matching object");
		o = cm("w2", "w");
		r = kube_create(k, "/api/v1/namespaces/t1/configmaps", o, NULL, &e);
		json_decref(o);
		ok(r == 0 && wait_for(&s, &s.added, 2), "ADDED event streamed");
		o = json_pack("{s:{s:s}}", "data", "x", "y");
		r = kube_patch_merge(k, "/api/v1/namespaces/t1/configmaps/w2", o, NULL, &e);
		json_decref(o);
		ok(r == 0 && wait_for(&s, &s.modified, 1), "MODIFIED event streamed");
		is_int(post(k, "/_test/drop-watches?abrupt=true"), 0,
		       "streams dropped by the server");
		o = cm("w3", "w");
		r = kube_create(k, "/api/v1/namespaces/t1/configmaps", o, NULL, &e);
		json_decref(o);
		ok(r == 0 && wait_for(&s, &s.added, 3), "reconnected without losing an event");
		/* An object the watch does not select moves the store past our version. */
		o = cm("other", "other");
		r = kube_create(k, "/api/v1/namespaces/t1/configmaps", o, NULL, &e);
		json_decref(o);
		is_int(r, 0, "unwatched object created");
		is_int(post(k, "/_test/compact"), 0, "history compacted");
		is_int(post(k, "/_test/drop-watches"), 0, "streams dropped again");
		r = kube_delete(k, "/api/v1/namespaces/t1/configmaps/w1", &e);
		ok(r == 0 && wait_for(&s, &s.syncs, 2), "410 Gone answered with a fresh list");
		s.stop = 1;
		pthread_join(t, NULL);
		ok(get_int(&s, &s.deleted) <= 1, "watch stopped on request");
	}

	/* A token file is re-read when it changes (rotation). */
	{
		struct kube_config c2 = cfg;
		struct kube *k2 = NULL;
		char tf[300];

		snprintf(tf, sizeof(tf), "%s/rotating", dir);
		c2.token = NULL;
		c2.token_file = tf;
		if (sh("echo wrong-token > %s/rotating", dir) != 0 || kube_new(&c2, &k2) < 0)
			abort();
		err_clear(&e);
		is_int(kube_get(k2, "/api/v1/namespaces/t1", &got, &e), -EACCES,
		       "wrong token refused");
		ok(strstr(e.msg, "wrong-token") == NULL, "token not in the message: %s", e.msg);
		sleep(1); /* a new mtime second, as a kubelet rotation would give */
		if (sh("cp %s/token %s/rotating", dir, dir) != 0)
			abort();
		err_clear(&e);
		is_int(kube_get(k2, "/api/v1/namespaces/t1", &got, &e), 0,
		       "rotated token picked up (%s)", e.msg);
		json_decref(got);
		got = NULL;
		kube_free(k2);
	}
out:
	kube_free(k);
	kcfg_release(&cfg);
	if (sh("%s/tests/kubeapi/stop.sh %s; rm -rf %s", top, dir, dir) != 0)
		tap_diag("cleanup failed");
	curl_global_cleanup();
	return tap_done();
}
