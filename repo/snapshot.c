/* Owns snapshot objects: JSON encoding (sealed), save, load by id/prefix/"latest", list. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

#define SNAPSHOT_FORMAT 1

void snapshot_release(struct snapshot *s)
{
	free(s->hostname);
	free(s->username);
	for (size_t i = 0; i < s->n_paths; i++)
		free(s->paths[i]);
	free(s->paths);
	for (size_t i = 0; i < s->n_tags; i++)
		free(s->tags[i]);
	free(s->tags);
	free(s->tree);
	free(s->program_version);
	memset(s, 0, sizeof(*s));
}

void snapshot_list_free(struct snapshot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snapshot_release(&s[i]);
	free(s);
}

const char *snapshot_tag(const struct snapshot *s, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < s->n_tags; i++)
		if (strncmp(s->tags[i], key, kl) == 0 && s->tags[i][kl] == '=')
			return s->tags[i] + kl + 1;
	return NULL;
}

/* JSON strings must be UTF-8; other bytes are shown as \xNN (display only). */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char out[4096];
	size_t o = 0;

	if (j)
		return j;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < sizeof(out); p++) {
		if (*p < 0x80)
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", *p);
	}
	out[o] = 0;
	return json_string(out);
}

static void fmt_time(int64_t sec, uint32_t nsec, char *out, size_t n)
{
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

static int parse_time(const char *s, int64_t *sec, uint32_t *nsec)
{
	struct tm tm = { 0 };
	unsigned ns = 0;
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%9uZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ns, &n) != 7 ||
	    ns >= 1000000000)
		return -EBADMSG;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*sec = (int64_t)timegm(&tm);
	*nsec = ns;
	return 0;
}

json_t *snapshot_to_json(const struct snapshot *s)
{
	json_t *o = json_object(), *paths = json_array(), *tags = json_array(), *tree = json_array();
	const struct snapshot_summary *m = &s->summary;
	char t[64], id[ID_HEX];

	if (!o || !paths || !tags || !tree)
		goto oom;
	for (size_t i = 0; i < s->n_paths; i++)
		json_array_append_new(paths, jstr(s->paths[i]));
	for (size_t i = 0; i < s->n_tags; i++)
		json_array_append_new(tags, jstr(s->tags[i]));
	for (size_t i = 0; i < s->n_tree; i++) {
		hex_encode(s->tree[i].id, ID_BYTES, id);
		json_array_append_new(tree, json_pack("{s:s, s:I}", "id", id, "n",
						      (json_int_t)s->tree[i].len));
	}
	fmt_time(s->time_sec, s->time_nsec, t, sizeof(t));
	json_object_set_new(o, "version", json_integer(SNAPSHOT_FORMAT));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "hostname", jstr(s->hostname));
	json_object_set_new(o, "username", jstr(s->username));
	json_object_set_new(o, "paths", paths);
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "tree", tree);
	if (s->has_parent) {
		hex_encode(s->parent, ID_BYTES, id);
		json_object_set_new(o, "parent", json_string(id));
	}
	json_object_set_new(o, "program_version", jstr(s->program_version));
	json_object_set_new(
		o, "summary",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
			  "files_new", (json_int_t)m->files_new, "files_changed",
			  (json_int_t)m->files_changed, "files_unmodified",
			  (json_int_t)m->files_unmodified, "dirs_new", (json_int_t)m->dirs_new,
			  "dirs_changed", (json_int_t)m->dirs_changed, "dirs_unmodified",
			  (json_int_t)m->dirs_unmodified, "data_blobs", (json_int_t)m->data_blobs,
			  "tree_blobs", (json_int_t)m->tree_blobs, "bytes_added",
			  (json_int_t)m->bytes_added, "bytes_processed",
			  (json_int_t)m->bytes_processed, "total_files",
			  (json_int_t)m->total_files, "total_bytes", (json_int_t)m->total_bytes,
			  "errors", (json_int_t)m->errors, "duration", m->duration));
	return o;
oom:
	json_decref(o);
	json_decref(paths);
	json_decref(tags);
	json_decref(tree);
	return NULL;
}

static int strlist(json_t *a, char ***ret, size_t *ret_n)
{
	size_t n = json_array_size(a);
	char **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		v[i] = strdup(s ? s : "");
		if (!v[i]) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static uint64_t jget(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v > 0 ? (uint64_t)v : 0;
}

static int snapshot_from_json(json_t *o, struct snapshot *s)
{
	json_t *tree = json_object_get(o, "tree"), *m = json_object_get(o, "summary");
	const char *t = json_string_value(json_object_get(o, "time"));
	const char *parent = json_string_value(json_object_get(o, "parent"));
	const char *h = json_string_value(json_object_get(o, "hostname"));
	const char *u = json_string_value(json_object_get(o, "username"));
	const char *v = json_string_value(json_object_get(o, "program_version"));
	int rc;

	if (json_integer_value(json_object_get(o, "version")) != SNAPSHOT_FORMAT)
		return -EOPNOTSUPP;
	if (!t || !json_is_array(tree) || parse_time(t, &s->time_sec, &s->time_nsec) < 0)
		return -EBADMSG;
	s->hostname = strdup(h ? h : "");
	s->username = strdup(u ? u : "");
	s->program_version = strdup(v ? v : "");
	if (!s->hostname || !s->username || !s->program_version)
		return -ENOMEM;
	rc = strlist(json_object_get(o, "paths"), &s->paths, &s->n_paths);
	if (rc >= 0)
		rc = strlist(json_object_get(o, "tags"), &s->tags, &s->n_tags);
	if (rc < 0)
		return rc;
	s->n_tree = json_array_size(tree);
	s->tree = calloc(s->n_tree ? s->n_tree : 1, sizeof(*s->tree));
	if (!s->tree)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_tree; i++) {
		json_t *x = json_array_get(tree, i);
		const char *id = json_string_value(json_object_get(x, "id"));

		if (!id || hex_decode(id, s->tree[i].id, ID_BYTES) < 0)
			return -EBADMSG;
		s->tree[i].len = jget(x, "n");
	}
	if (parent) {
		if (hex_decode(parent, s->parent, ID_BYTES) < 0)
			return -EBADMSG;
		s->has_parent = true;
	}
	s->summary = (struct snapshot_summary){
		jget(m, "files_new"), jget(m, "files_changed"), jget(m, "files_unmodified"),
		jget(m, "dirs_new"), jget(m, "dirs_changed"), jget(m, "dirs_unmodified"),
		jget(m, "data_blobs"), jget(m, "tree_blobs"), jget(m, "bytes_added"),
		jget(m, "bytes_processed"), jget(m, "total_files"), jget(m, "total_bytes"),
		jget(m, "errors"), json_real_value(json_object_get(m, "duration")),
	};
	return 0;
}

int repo_snapshot_save(struct repo *r, struct snapshot *s, struct err *e)
{
	json_t *o = snapshot_to_json(s);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char name[ID_HEX];
	int rc;

	json_decref(o);
	if (!text)
		return err_set(e, -ENOMEM, "out of memory");
	rc = obj_seal_put(r, OBJ_SNAPSHOT, KEY_DOMAIN_SNAPSHOT, text, strlen(text), name, e);
	free(text);
	if (rc >= 0 && hex_decode(name, s->id, ID_BYTES) < 0)
		rc = -EINVAL;
	return rc;
}

int repo_snapshot_read(struct repo *r, const char *name, struct snapshot *ret, struct err *e)
{
	struct snapshot s = { 0 };
	struct buf b = BUF_INIT;
	json_t *o = NULL;
	int rc;

	buf_init(&b, REPO_SMALL_OBJ_MAX);
	rc = obj_get_open(r, OBJ_SNAPSHOT, KEY_DOMAIN_SNAPSHOT, name, &b, e);
	if (rc < 0)
		goto fail;
	o = json_loadb((const char *)b.p, b.len, 0, NULL);
	rc = o ? snapshot_from_json(o, &s) : -EBADMSG;
	if (rc >= 0)
		rc = hex_decode(name, s.id, ID_BYTES) < 0 ? -EBADMSG : 0;
	if (rc < 0) {
		err_set(e, rc, "snapshot %s is malformed", name);
		snapshot_release(&s);
		goto fail;
	}
	*ret = s;
fail:
	json_decref(o);
	buf_release(&b);
	return rc;
}

struct names {
	char (*v)[ID_HEX];
	size_t n, cap;
};

static int collect(void *ud, const char *name, uint64_t size)
{
	struct names *ns = ud;

	if (strlen(name) != ID_HEX - 1)
		return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 64;
		void *p = reallocarray(ns->v, cap, ID_HEX);

		if (!p)
			return -ENOMEM;
		ns->v = p;
		ns->cap = cap;
	}
	memcpy(ns->v[ns->n++], name, ID_HEX);
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct snapshot *x = a, *y = b;

	if (x->time_sec != y->time_sec)
		return x->time_sec < y->time_sec ? -1 : 1;
	if (x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return memcmp(x->id, y->id, ID_BYTES);
}

int repo_snapshot_list(struct repo *r, struct snapshot **ret, size_t *ret_n, struct err *e)
{
	struct names ns = { 0 };
	struct snapshot *v = NULL;
	size_t n = 0;
	int rc;

	rc = r->be->ops->list(r->be, OBJ_SNAPSHOT, collect, &ns, e);
	if (rc < 0)
		goto fail;
	v = calloc(ns.n ? ns.n : 1, sizeof(*v));
	if (!v) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	for (; n < ns.n; n++) {
		rc = repo_snapshot_read(r, ns.v[n], &v[n], e);
		if (rc < 0)
			goto fail;
	}
	qsort(v, n, sizeof(*v), by_time);
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	rc = 0;
fail:
	snapshot_list_free(v, n);
	free(ns.v);
	return rc;
}

int repo_snapshot_load(struct repo *r, const char *id, struct snapshot *ret, struct err *e)
{
	struct names ns = { 0 };
	const char *match = NULL;
	size_t il = strlen(id);
	int rc;

	if (strcmp(id, "latest") != 0 && (il < 4 || il >= ID_HEX || !hex_valid(id, 0)))
		return err_set(e, -ENOENT, "'%s' is not a snapshot id (hex, at least 4 digits)", id);
	rc = r->be->ops->list(r->be, OBJ_SNAPSHOT, collect, &ns, e);
	if (rc < 0)
		goto fail;
	if (strcmp(id, "latest") == 0) {
		struct snapshot *all = NULL;
		size_t n = 0;

		free(ns.v);
		rc = repo_snapshot_list(r, &all, &n, e);
		if (rc < 0)
			return rc;
		if (!n) {
			free(all);
			return err_set(e, -ENOENT, "there are no snapshots yet");
		}
		*ret = all[n - 1];
		memset(&all[n - 1], 0, sizeof(all[0]));
		snapshot_list_free(all, n);
		return 0;
	}
	for (size_t i = 0; i < ns.n; i++) {
		if (strncmp(ns.v[i], id, il) != 0)
			continue;
		if (match) {
			rc = err_set(e, -EINVAL, "snapshot id '%s' is ambiguous", id);
			goto fail;
		}
		match = ns.v[i];
	}
	if (!match) {
		rc = err_set(e, -ENOENT, "no snapshot with id %s", id);
		goto fail;
	}
	rc = repo_snapshot_read(r, match, ret, e);
fail:
	free(ns.v);
	return rc;
}

int repo_snapshot_delete(struct repo *r, const uint8_t id[ID_BYTES], struct err *e)
{
	char name[ID_HEX];

	hex_encode(id, ID_BYTES, name);
	return r->be->ops->del(r->be, OBJ_SNAPSHOT, name, e);
}
