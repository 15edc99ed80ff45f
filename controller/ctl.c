/* Owns the controller's loop and the helpers its files share: every resync it reads the
 * storage locations, Schedules and Backups and moves each one on. All state lives in the
 * API objects, so a restarted controller carries on where the last one stopped. */
#include "controller/ctl-internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

static volatile sig_atomic_t stop_requested;

void ctl_stop(void)
{
	stop_requested = 1;
}

bool ctl_stopping(void)
{
	return stop_requested != 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

time_t ctl_now(const struct ctl *c)
{
	return c->cfg->clock ? c->cfg->clock(c->cfg->clock_ud) : time(NULL);
}

time_t ctl_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void ctl_note(const struct ctl *c, enum ctl_note_level l, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!c->cfg->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cfg->note(c->cfg->note_ud, l, msg);
}

const char *ctl_jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

const char *ctl_meta(const json_t *o, const char *k)
{
	return ctl_jstr(json_object_get(o, "metadata"), k);
}

void ctl_timestamp(time_t t, char out[32])
{
	kube_timestamp(t, out);
}

int ctl_path(const struct ctl *c, const char *plural, const char *name, char *out, size_t n)
{
	int w = name ? snprintf(out, n, "%s/%s/%s", c->base, plural, name)
	             : snprintf(out, n, "%s/%s", c->base, plural);

	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static int collect(void *ud, json_t *item)
{
	return json_array_append(ud, item) < 0 ? -ENOMEM : 0;
}

int ctl_list(struct ctl *c, const char *collection, const char *label_selector, json_t **ret,
             struct err *e)
{
	json_t *a = json_array();
	int r;

	if (!a)
		return -ENOMEM;
	r = kube_list(c->k, collection, label_selector && *label_selector ? label_selector : NULL,
	              NULL, collect, a, NULL, e);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

static int set_status(void *ud, json_t *obj)
{
	return json_object_set(obj, "status", ud) < 0 ? -ENOMEM : 0;
}

int ctl_status_put(struct ctl *c, const char *path, json_t *status, struct err *e)
{
	char sub[1024];
	int r;

	if ((size_t)snprintf(sub, sizeof(sub), "%s/status", path) >= sizeof(sub)) {
		json_decref(status);
		return -ENAMETOOLONG;
	}
	r = kube_update_retry(c->k, sub, set_status, status, NULL, e);
	if (r == -ENOENT || r == -EINVAL) {
		/* No status subresource (Velero's own CRDs have none): the whole object. */
		err_clear(e);
		r = kube_update_retry(c->k, path, set_status, status, NULL, e);
	}
	json_decref(status);
	return r;
}

bool ctl_has_finalizer(const json_t *obj, const char *fin)
{
	const json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers"), *v;
	size_t i;

	json_array_foreach(f, i, v) if (json_string_value(v) &&
	                                strcmp(json_string_value(v), fin) == 0) return true;
	return false;
}

int ctl_finalizer(struct ctl *c, const char *path, const json_t *obj, const char *fin, bool add,
                  struct err *e)
{
	const json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers"), *v;
	json_t *list = json_array(), *patch;
	const char *rv = ctl_meta(obj, "resourceVersion");
	size_t i;
	int r;

	if (!list)
		return -ENOMEM;
	json_array_foreach(f, i,
	                   v) if (!json_string_value(v) || strcmp(json_string_value(v), fin) != 0)
	    json_array_append(list, (json_t *)v);
	if (add)
		json_array_append_new(list, json_string(fin));
	/* The resourceVersion makes this a compare-and-swap: a finalizer another party
	 * added meanwhile is not dropped. */
	patch = json_pack("{s:{s:o,s:s?}}", "metadata", "finalizers", list, "resourceVersion", rv);
	if (!patch)
		return -ENOMEM;
	r = kube_patch_merge(c->k, path, patch, NULL, e);
	json_decref(patch);
	return r;
}

const json_t *ctl_location(const struct ctl *c, const char *name)
{
	const json_t *l;
	size_t i;

	json_array_foreach(c->locations, i, l)
	{
		const json_t *spec = json_object_get(l, "spec");

		if (name && *name ? strcmp(ctl_meta(l, "name"), name) == 0
		                  : json_is_true(json_object_get(spec, "default")))
			return l;
	}
	if (!name || !*name) /* no location marked default: Velero's name for it */
		json_array_foreach(c->locations, i,
		                   l) if (strcmp(ctl_meta(l, "name"), "default") == 0) return l;
	return NULL;
}

/* The repository URL of a location for one pod namespace, as the node agents derive it:
 * s3:<s3Url>/<bucket>[/<prefix>]/plugins/cairn/<ns>. */
int ctl_location_url(const json_t *loc, const char *pod_ns, char *out, size_t n, struct err *e)
{
	const json_t *spec = json_object_get(loc, "spec");
	const json_t *os = json_object_get(spec, "objectStorage");
	const char *bucket = ctl_jstr(os, "bucket"), *prefix = ctl_jstr(os, "prefix");
	const char *s3 = ctl_jstr(json_object_get(spec, "config"), "s3Url");
	const char *region = ctl_jstr(json_object_get(spec, "config"), "region");
	char host[256];
	int pl, w;

	if (!bucket || !*bucket || strchr(bucket, '/'))
		return err_set(e, -EINVAL, "backup storage location %s has no usable bucket",
		               ctl_meta(loc, "name"));
	if (!s3 || !*s3) {
		snprintf(host, sizeof(host), "https://s3.%s.amazonaws.com",
		         region && *region ? region : "us-east-1");
		s3 = host;
	}
	while (prefix && *prefix == '/')
		prefix++;
	pl = prefix ? (int)strlen(prefix) : 0;
	while (pl > 0 && prefix[pl - 1] == '/')
		pl--;
	w = snprintf(out, n, "s3:%s/%s%s%.*s/plugins/cairn/%s", s3, bucket, pl ? "/" : "", pl,
	             prefix ? prefix : "", pod_ns);
	return w < 0 || (size_t)w >= n ? err_set(e, -ENAMETOOLONG, "repository URL too long") : 0;
}

int ctl_repo_get(struct ctl *c, const json_t *loc, const char *pod_ns, struct ctl_repo **ret,
                 struct err *e)
{
	struct repo_open_params o = { .options = c->cfg->bopts,
		                      .password = c->cfg->password,
		                      .password_len = c->cfg->password_len };
	char url[2048];
	size_t i;
	int r;

	if (c->cfg->repo_url) {
		snprintf(url, sizeof(url), "%s", c->cfg->repo_url);
	} else {
		r = ctl_location_url(loc, pod_ns, url, sizeof(url), e);
		if (r < 0)
			return r;
	}
	for (i = 0; i < c->n_repos; i++)
		if (strcmp(c->repos[i].url, url) == 0) {
			*ret = &c->repos[i];
			return 0;
		}
	if (c->n_repos == CTL_MAX_REPOS)
		return err_set(e, -EMFILE, "more than %d repositories open", CTL_MAX_REPOS);
	o.url = url;
	c->repos[c->n_repos].url = strdup(url);
	if (!c->repos[c->n_repos].url)
		return -ENOMEM;
	r = repo_open(&o, &c->repos[c->n_repos].r, e);
	if (r < 0) {
		free(c->repos[c->n_repos].url);
		return r;
	}
	/* A repository that was never pruned is due one maintenance interval after we
	 * first see it, not at once. */
	c->repos[c->n_repos].last_prune = ctl_mono();
	*ret = &c->repos[c->n_repos++];
	return 0;
}

void ctl_repos_free(struct ctl *c)
{
	for (size_t i = 0; i < c->n_repos; i++) {
		repo_free(c->repos[i].r);
		free(c->repos[i].url);
	}
	c->n_repos = 0;
}

/* One pass over everything. Errors about one object are noted and the pass goes on. */
static void pass(struct ctl *c)
{
	struct err e = ERR_INIT;
	char path[1024];
	json_t *list = NULL, *o;
	size_t i;

	if (ctl_path(c, "backupstoragelocations", NULL, path, sizeof(path)) == 0 &&
	    ctl_list(c, path, NULL, &list, &e) == 0) {
		json_decref(c->locations);
		c->locations = list;
	} else {
		ctl_note(c, CTL_NOTE_WARN, "cannot list storage locations: %s", e.msg);
	}
	err_clear(&e);
	/* Intervals run on the real clock; the injectable one is for what objects say. */
	if (!c->last_validation || ctl_mono() - c->last_validation >= c->cfg->validation_sec) {
		ctl_locations_validate(c);
		c->last_validation = ctl_mono();
	}
	if (c->cfg->sync_sec > 0 &&
	    (!c->last_sync || ctl_mono() - c->last_sync >= c->cfg->sync_sec)) {
		ctl_sync(c);
		c->last_sync = ctl_mono();
	}
	list = NULL;
	if (ctl_path(c, "schedules", NULL, path, sizeof(path)) == 0 &&
	    ctl_list(c, path, NULL, &list, &e) == 0) {
		json_array_foreach(list, i, o) if (ctl_schedule_reconcile(c, o) < 0) break;
		json_decref(list);
	} else {
		ctl_note(c, CTL_NOTE_WARN, "cannot list schedules: %s", e.msg);
	}
	err_clear(&e);
	list = NULL;
	if (ctl_path(c, "backups", NULL, path, sizeof(path)) == 0 &&
	    ctl_list(c, path, NULL, &list, &e) == 0) {
		json_decref(c->backups);
		c->backups = list;
		json_array_foreach(list, i, o) if (ctl_backup_reconcile(c, o) < 0) break;
		ctl_hookpool_sweep(c, c->backups);
	} else {
		ctl_note(c, CTL_NOTE_WARN, "cannot list backups: %s", e.msg);
	}
	ctl_restores_pass(c);
	ctl_maintenance(c);
}

int ctl_run(const struct ctl_config *cfg, struct err *e)
{
	struct ctl c = { .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal };
	int r;

	stop_requested = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = kcfg_load(cfg->kubeconfig, &c.kc, e);
	if (r < 0)
		goto fail;
	c.ns = cfg->ns && *cfg->ns ? cfg->ns : c.kc.ns;
	if ((size_t)snprintf(c.base, sizeof(c.base), "/apis/%s/namespaces/%s", CTL_API, c.ns) >=
	    sizeof(c.base)) {
		r = err_set(e, -ENAMETOOLONG, "namespace name too long");
		goto fail;
	}
	r = kube_new(&c.kc, &c.k);
	if (r < 0) {
		err_set(e, r, "cannot create the Kubernetes client");
		goto fail;
	}
	r = ctl_metrics_start(cfg->metrics_address, &c.m, e);
	if (r < 0)
		goto fail;
	if (c.m)
		ctl_note(&c, CTL_NOTE_INFO, "controller for namespace %s; metrics on port %u", c.ns,
		         ctl_metrics_port(c.m));
	else
		ctl_note(&c, CTL_NOTE_INFO, "controller for namespace %s", c.ns);
	while (!stop_requested) {
		pass(&c);
		for (unsigned waited = 0; waited < cfg->resync_ms && !stop_requested; waited += 50)
			usleep(50 * 1000);
	}
	ctl_note(&c, CTL_NOTE_INFO, "controller stopped");
	r = 0;
fail:
	/* Before the client config goes: the workers' exec clients are made from it. */
	ctl_hookpool_free(&c);
	ctl_metrics_stop(c.m);
	ctl_repos_free(&c);
	json_decref(c.locations);
	json_decref(c.backups);
	kube_free(c.k);
	kcfg_release(&c.kc);
	curl_global_cleanup();
	return r;
}
