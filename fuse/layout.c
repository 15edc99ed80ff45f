/* The virtual top level of a mount: which path shows which snapshot. Pure naming over the
 * snapshot list, so it is tested without a repository; fs.c turns it into inodes. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"
#include "util/ckd.h"

#define SHORT_ID_HEX 8

static int add(struct layout *l, enum layout_kind kind, size_t snap, const char *target,
               const char *fmt, ...) _printf_(5, 6);

static int add(struct layout *l, enum layout_kind kind, size_t snap, const char *target,
               const char *fmt, ...)
{
	struct layout_entry *ent;
	va_list ap;
	int n;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64, bytes;
		struct layout_entry *p;

		if (ckd_mul(&bytes, cap, sizeof(*p)))
			return -EOVERFLOW;
		p = realloc(l->e, bytes);
		if (!p)
			return -ENOMEM;
		l->e = p;
		l->cap = cap;
	}
	ent = &l->e[l->n];
	memset(ent, 0, sizeof(*ent));
	va_start(ap, fmt);
	n = vasprintf(&ent->path, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (target) {
		ent->target = strdup(target);
		if (!ent->target) {
			free(ent->path);
			return -ENOMEM;
		}
	}
	ent->kind = kind;
	ent->snap = snap;
	l->n++;
	return 0;
}

void layout_release(struct layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].path);
		free(l->e[i].target);
	}
	free(l->e);
	memset(l, 0, sizeof(*l));
}

int layout_name(const char *s, size_t len, char *out, size_t out_size)
{
	size_t o = 0;

	/* One path component from arbitrary tag or host bytes: no '/', no NUL, never "."
	 * or "..", never empty, at most NAME_MAX bytes. */
	if (out_size < 4)
		return -EINVAL;
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		out[o++] = '_';
	for (size_t i = 0; i < len && o + 1 < out_size && o < 255; i++)
		out[o++] = (s[i] == '/' || s[i] == '\0') ? '_' : s[i];
	out[o] = '\0';
	return 0;
}

/* "key=value" tag lookup (repo's snapshot_tag does the same; kept local so naming is
 * testable on its own). */
static const char *tag(const struct snapshot *s, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < s->n_tags; i++)
		if (strncmp(s->tags[i], key, kl) == 0 && s->tags[i][kl] == '=')
			return s->tags[i] + kl + 1;
	return NULL;
}

static int by_time(const void *a, const void *b, void *ud)
{
	const struct snapshot *s = ud;
	const struct snapshot *x = &s[*(const size_t *)a], *y = &s[*(const size_t *)b];

	if (x->time_sec != y->time_sec)
		return x->time_sec < y->time_sec ? -1 : 1;
	if (x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return memcmp(x->id, y->id, ID_BYTES);
}

/* names[i] = "2024-05-01T10:00:00Z", then "-2", "-3" for later snapshots of the same
 * second: the order is time, nsec, id, so a name never moves when newer ones arrive. */
static int time_names(const struct snapshot *s, const size_t *order, size_t n,
                      char (*names)[LAYOUT_NAME_MAX])
{
	char prev[LAYOUT_NAME_MAX] = "";
	unsigned dup = 1;

	for (size_t k = 0; k < n; k++) {
		const struct snapshot *x = &s[order[k]];
		char base[LAYOUT_NAME_MAX];
		time_t t = (time_t)x->time_sec;
		struct tm tm;
		int w;

		if (!gmtime_r(&t, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%SZ", &tm))
			return -EOVERFLOW;
		dup = strcmp(base, prev) == 0 ? dup + 1 : 1;
		memcpy(prev, base, sizeof(prev));
		if (dup == 1)
			w = snprintf(names[order[k]], LAYOUT_NAME_MAX, "%s", base);
		else
			w = snprintf(names[order[k]], LAYOUT_NAME_MAX, "%s-%u", base, dup);
		if (w < 0 || w >= LAYOUT_NAME_MAX)
			return -EOVERFLOW;
	}
	return 0;
}

/* Shortest hex prefix of at least SHORT_ID_HEX digits that no other snapshot shares. */
static size_t short_len(const struct snapshot *s, size_t n, size_t i)
{
	size_t want = SHORT_ID_HEX / 2;

	for (size_t j = 0; j < n; j++) {
		size_t common = 0;

		if (j == i)
			continue;
		while (common < ID_BYTES && s[i].id[common] == s[j].id[common])
			common++;
		if (common + 1 > want)
			want = common + 1 > ID_BYTES ? ID_BYTES : common + 1;
	}
	return want * 2;
}

static int add_views(struct layout *l, const struct snapshot *s, size_t n, size_t i,
                     const char *tname)
{
	char hex[ID_HEX], a[LAYOUT_NAME_MAX], b[LAYOUT_NAME_MAX];
	const char *ns, *pvc, *pod, *vol;
	int r;

	r = add(l, LAYOUT_SNAP, i, NULL, "snapshots/%s", tname);
	if (r < 0)
		return r;
	hex_encode(s[i].id, ID_BYTES, hex);
	hex[short_len(s, n, i)] = '\0';
	r = add(l, LAYOUT_SNAP, i, NULL, "ids/%s", hex);
	if (r < 0)
		return r;
	for (size_t t = 0; t < s[i].n_tags; t++) {
		r = layout_name(s[i].tags[t], strlen(s[i].tags[t]), a, sizeof(a));
		if (r < 0 || (r = add(l, LAYOUT_SNAP, i, NULL, "tags/%s/%s", a, tname)) < 0)
			return r;
	}
	pod = s[i].hostname ? s[i].hostname : "";
	r = layout_name(pod, strlen(pod), a, sizeof(a));
	if (r < 0 || (r = add(l, LAYOUT_SNAP, i, NULL, "hosts/%s/%s", a, tname)) < 0)
		return r;

	/* Agent snapshots: a person thinks "namespace shop, PVC db-0", not in snapshot ids.
	 * Without a PVC (emptyDir, hostPath) the volume is named <pod>-<volume>. */
	ns = tag(&s[i], "ns");
	if (!ns)
		ns = tag(&s[i], "namespace");
	pvc = tag(&s[i], "pvc");
	pod = tag(&s[i], "pod");
	vol = tag(&s[i], "volume");
	if (!ns || (!pvc && (!pod || !vol)))
		return 0;
	r = layout_name(ns, strlen(ns), a, sizeof(a));
	if (r < 0)
		return r;
	if (pvc) {
		r = layout_name(pvc, strlen(pvc), b, sizeof(b));
	} else {
		char pv[2 * LAYOUT_NAME_MAX + 2];

		if (snprintf(pv, sizeof(pv), "%s-%s", pod, vol) < 0)
			return -EINVAL;
		r = layout_name(pv, strlen(pv), b, sizeof(b));
	}
	if (r < 0)
		return r;
	return add(l, LAYOUT_SNAP, i, NULL, "volumes/%s/%s/%s", a, b, tname);
}

int layout_build(const struct snapshot *s, size_t n, struct layout *ret)
{
	static const char *const top[] = { "snapshots", "ids", "tags", "hosts", "volumes" };
	struct layout l = { 0 };
	char(*names)[LAYOUT_NAME_MAX] = NULL;
	size_t *order = NULL;
	int r = -ENOMEM;

	if (n > 0) {
		order = calloc(n, sizeof(*order));
		names = calloc(n, sizeof(*names));
		if (!order || !names)
			goto fail;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	if (n > 0)
		qsort_r(order, n, sizeof(*order), by_time, (void *)s);
	r = time_names(s, order, n, names);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < ELEMENTSOF(top); i++) {
		r = add(&l, LAYOUT_DIR, 0, NULL, "%s", top[i]);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		r = add_views(&l, s, n, i, names[i]);
		if (r < 0)
			goto fail;
	}
	if (n > 0) {
		r = add(&l, LAYOUT_LINK, order[n - 1], names[order[n - 1]], "snapshots/latest");
		if (r < 0)
			goto fail;
	}
	free(order);
	free(names);
	*ret = l;
	return 0;
fail:
	free(order);
	free(names);
	layout_release(&l);
	return r;
}
