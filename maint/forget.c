/* Owns the retention policy: restic's keep rules as a pure function over snapshot times
 * (newest first, bucketed by local-time period), durations, and snapshot grouping. */
#include "maint/maint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"
#include "util/buf.h"

bool repo_forget_policy_empty(const struct repo_forget_policy *p)
{
	return !p->last && !p->hourly && !p->daily && !p->weekly && !p->monthly && !p->yearly &&
	       !p->has_within && !p->n_tags;
}

int repo_duration_parse(const char *s, struct repo_duration *ret)
{
	struct repo_duration d = { 0 };
	bool any = false;

	while (*s) {
		char *end;
		unsigned long long v;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || end == s || v > 100000)
			return -EINVAL;
		switch (*end) {
		case 'y':
			d.years += (int)v;
			break;
		case 'm':
			d.months += (int)v;
			break;
		case 'w':
			d.days += 7 * (int)v;
			break;
		case 'd':
			d.days += (int)v;
			break;
		case 'h':
			d.hours += (int)v;
			break;
		default:
			return -EINVAL;
		}
		any = true;
		s = end + 1;
	}
	if (!any)
		return -EINVAL;
	*ret = d;
	return 0;
}

const char *repo_keep_reason_name(unsigned bit)
{
	static const char *const names[_REPO_KEEP_MAX] = {
		"last", "hourly", "daily", "weekly", "monthly", "yearly", "within", "tag",
	};

	for (unsigned i = 0; i < _REPO_KEEP_MAX; i++)
		if (bit == 1u << i)
			return names[i];
	return "?";
}

/* The period a time falls in for rule i (0 last .. 5 yearly), in local time. */
static int64_t bucket(int rule, int64_t sec, size_t idx)
{
	time_t t = (time_t)sec;
	struct tm tm;
	int64_t y, wk;

	if (rule == 0)
		return (int64_t)idx; /* every snapshot is its own bucket */
	localtime_r(&t, &tm);
	y = tm.tm_year + 1900;
	switch (rule) {
	case 1:
		return ((y * 100 + tm.tm_mon) * 100 + tm.tm_mday) * 100 + tm.tm_hour;
	case 2:
		return (y * 100 + tm.tm_mon) * 100 + tm.tm_mday;
	case 3: {
		char buf[16];

		/* ISO 8601 week: a week belongs to the year holding its Thursday. */
		strftime(buf, sizeof(buf), "%G%V", &tm);
		wk = strtoll(buf, NULL, 10);
		return wk;
	}
	case 4:
		return y * 100 + tm.tm_mon;
	default:
		return y;
	}
}

/* The cut-off of keep-within: the newest time minus the duration, in calendar terms. */
static int64_t within_cutoff(const struct repo_duration *d, int64_t newest)
{
	time_t t = (time_t)newest;
	struct tm tm;

	localtime_r(&t, &tm);
	tm.tm_year -= d->years;
	tm.tm_mon -= d->months;
	tm.tm_mday -= d->days;
	tm.tm_hour -= d->hours;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

void repo_forget_apply(const struct repo_forget_policy *p, const struct repo_forget_item *items,
		       size_t n, uint32_t *ret_reasons)
{
	int left[6] = { p->last, p->hourly, p->daily, p->weekly, p->monthly, p->yearly };
	int64_t last_bucket[6];
	bool have[6] = { false };
	int64_t cutoff = 0;

	if (p->has_within && n)
		cutoff = within_cutoff(&p->within, items[0].time_sec);
	for (size_t i = 0; i < n; i++) {
		uint32_t why = 0;

		if (repo_forget_policy_empty(p))
			why = REPO_KEEP_LAST;
		if (items[i].tagged)
			why |= REPO_KEEP_TAG;
		if (p->has_within && items[i].time_sec > cutoff)
			why |= REPO_KEEP_WITHIN;
		for (int r = 0; r < 6; r++) {
			int64_t b = bucket(r, items[i].time_sec, i);

			if (!left[r] || (have[r] && last_bucket[r] == b))
				continue;
			/* The newest snapshot of a new period is the one kept for it. */
			why |= 1u << r;
			have[r] = true;
			last_bucket[r] = b;
			if (left[r] > 0)
				left[r]--;
		}
		ret_reasons[i] = why;
	}
}

int repo_group_by_parse(const char *s, unsigned *ret)
{
	unsigned by = 0;

	while (*s) {
		size_t l = strcspn(s, ",");

		if (l == 4 && !strncmp(s, "host", 4))
			by |= REPO_GROUP_HOST;
		else if (l == 5 && !strncmp(s, "paths", 5))
			by |= REPO_GROUP_PATHS;
		else if (l == 4 && !strncmp(s, "tags", 4))
			by |= REPO_GROUP_TAGS;
		else if (l == 6 && !strncmp(s, "volume", 6))
			by |= REPO_GROUP_VOLUME;
		else if (l)
			return -EINVAL;
		s += l + (s[l] == ',');
	}
	*ret = by;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a list sorted, so the key does not depend on the order paths/tags were given. */
static int put_sorted(struct buf *b, char **v, size_t n)
{
	char **s = calloc(n ? n : 1, sizeof(*s));
	int rc = 0;

	if (!s)
		return -ENOMEM;
	if (n) {
		memcpy(s, v, n * sizeof(*s));
		qsort(s, n, sizeof(*s), cmp_str);
	}
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = buf_printf(b, "%s%s", i ? "," : "", s[i]);
	free(s);
	return rc;
}

int repo_forget_group_key(const struct snapshot *s, unsigned by, char **ret)
{
	struct buf b = BUF_INIT;
	int rc = 0;

	buf_init(&b, 1u << 20);
	if (by & REPO_GROUP_VOLUME) {
		const char *ns = snapshot_tag(s, "ns"), *pvc = snapshot_tag(s, "pvc");

		if (pvc)
			rc = buf_printf(&b, "ns=%s pvc=%s", ns ? ns : "", pvc);
		else
			rc = buf_printf(&b, "ns=%s pod=%s volume=%s", ns ? ns : "",
					snapshot_tag(s, "pod") ? snapshot_tag(s, "pod") : "",
					snapshot_tag(s, "volume") ? snapshot_tag(s, "volume") : "");
	}
	if (rc >= 0 && (by & REPO_GROUP_HOST))
		rc = buf_printf(&b, "host=%s ", s->hostname ? s->hostname : "");
	if (rc >= 0 && (by & REPO_GROUP_PATHS)) {
		rc = buf_printf(&b, "paths=[");
		if (rc >= 0)
			rc = put_sorted(&b, s->paths, s->n_paths);
		if (rc >= 0)
			rc = buf_printf(&b, "] ");
	}
	if (rc >= 0 && (by & REPO_GROUP_TAGS)) {
		rc = buf_printf(&b, "tags=[");
		if (rc >= 0)
			rc = put_sorted(&b, s->tags, s->n_tags);
		if (rc >= 0)
			rc = buf_printf(&b, "]");
	}
	if (rc >= 0)
		rc = buf_put_u8(&b, 0);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	*ret = (char *)buf_take(&b, NULL);
	return 0;
}

static bool has_keep_tag(const struct repo_forget_policy *p, const struct snapshot *s)
{
	for (size_t i = 0; i < p->n_tags; i++)
		for (size_t j = 0; j < s->n_tags; j++)
			if (!strcmp(p->tags[i], s->tags[j]))
				return true;
	return false;
}

int repo_forget_plan(const struct snapshot *v, size_t n, const struct repo_forget_policy *p,
		     unsigned by, uint32_t *ret_reasons, size_t *ret_group)
{
	char **keys = calloc(n ? n : 1, sizeof(*keys));
	size_t *order = calloc(n ? n : 1, sizeof(*order)), *group = calloc(n ? n : 1,
									   sizeof(*group));
	struct repo_forget_item *items = calloc(n ? n : 1, sizeof(*items));
	uint32_t *why = calloc(n ? n : 1, sizeof(*why));
	size_t n_groups = 0;
	int rc = -ENOMEM;

	if (!keys || !order || !group || !items || !why)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		rc = repo_forget_group_key(&v[i], by, &keys[i]);
		if (rc < 0)
			goto fail;
		group[i] = n_groups;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(keys[j], keys[i])) {
				group[i] = group[j];
				break;
			}
		if (group[i] == n_groups)
			n_groups++;
	}
	for (size_t g = 0; g < n_groups; g++) {
		size_t m = 0;

		/* Newest first: walk the list from its end, ties keep the later entry first. */
		for (size_t k = n; k-- > 0;) {
			if (group[k] != g)
				continue;
			order[m] = k;
			items[m].time_sec = v[k].time_sec;
			items[m].tagged = has_keep_tag(p, &v[k]);
			m++;
		}
		/* v is not necessarily sorted: sort this group's items newest first. */
		for (size_t a = 1; a < m; a++)
			for (size_t b = a; b > 0 && items[b].time_sec > items[b - 1].time_sec; b--) {
				struct repo_forget_item ti = items[b];
				size_t to = order[b];

				items[b] = items[b - 1];
				items[b - 1] = ti;
				order[b] = order[b - 1];
				order[b - 1] = to;
			}
		repo_forget_apply(p, items, m, why);
		for (size_t k = 0; k < m; k++) {
			ret_reasons[order[k]] = why[k];
			ret_group[order[k]] = g;
		}
	}
	rc = 0;
fail:
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(order);
	free(group);
	free(items);
	free(why);
	return rc;
}
