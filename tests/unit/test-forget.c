/* Retention policy: each keep rule and their union against a table of synthetic snapshot
 * times (UTC), durations, grouping keys and the per-group plan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maint/maint.h"
#include "tests/tap.h"

/* Newest first. Comments give the ISO week, which decides the weekly rule. */
static const char *const times[] = {
	"2024-03-15 12:00", /* 1  Fri 2024-W11 */
	"2024-03-15 08:00", /* 2  same day */
	"2024-03-14 23:00", /* 3  Thu 2024-W11 */
	"2024-03-14 10:00", /* 4  same day */
	"2024-03-10 10:00", /* 5  Sun 2024-W10 */
	"2024-03-04 10:00", /* 6  Mon 2024-W10 */
	"2024-02-20 10:00", /* 7  2024-W08 */
	"2024-02-01 10:00", /* 8  */
	"2024-01-05 10:00", /* 9  2024-W01 */
	"2023-12-31 10:00", /* 10 Sun 2023-W52 */
	"2023-06-01 10:00", /* 11 */
	"2022-01-01 10:00", /* 12 Sat 2021-W52 */
};
#define N (sizeof(times) / sizeof(times[0]))

static struct repo_forget_item items[N];

static int64_t at(const char *s)
{
	struct tm tm = { 0 };

	sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	       &tm.tm_min);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The kept items as "1,3,5" (1-based). */
static void kept(const struct repo_forget_policy *p, char *out, size_t max, uint32_t *why)
{
	size_t o = 0;

	repo_forget_apply(p, items, N, why);
	out[0] = 0;
	for (size_t i = 0; i < N; i++)
		if (why[i])
			o += (size_t)snprintf(out + o, max - o, "%s%zu", o ? "," : "", i + 1);
}

static void rule(const struct repo_forget_policy *p, const char *want, const char *name)
{
	uint32_t why[N];
	char got[128];

	kept(p, got, sizeof(got), why);
	is_str(got, want, "%s keeps %s", name, want);
}

static void snap(struct snapshot *s, const char *host, const char *path, char **tags,
		 size_t n_tags, int64_t t)
{
	static char *paths[4];
	static size_t k;

	memset(s, 0, sizeof(*s));
	s->hostname = (char *)host;
	paths[k % 4] = (char *)path;
	s->paths = &paths[k++ % 4];
	s->n_paths = 1;
	s->tags = tags;
	s->n_tags = n_tags;
	s->time_sec = t;
}

int main(void)
{
	struct repo_forget_policy p;
	struct repo_duration d;
	uint32_t why[N];
	char got[128];
	const char *keep_tags[] = { "keep" };

	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < N; i++)
		items[i].time_sec = at(times[i]);

	rule(&(struct repo_forget_policy){ .last = 3 }, "1,2,3", "last 3");
	rule(&(struct repo_forget_policy){ .hourly = 2 }, "1,2", "hourly 2");
	rule(&(struct repo_forget_policy){ .daily = 3 }, "1,3,5", "daily 3");
	rule(&(struct repo_forget_policy){ .daily = -1 }, "1,3,5,6,7,8,9,10,11,12",
	     "daily unlimited");
	rule(&(struct repo_forget_policy){ .weekly = 3 }, "1,5,7", "weekly 3 (ISO weeks)");
	rule(&(struct repo_forget_policy){ .weekly = -1 }, "1,5,7,8,9,10,11,12",
	     "weekly unlimited: 2023-12-31 and 2024-01-05 are different ISO weeks");
	rule(&(struct repo_forget_policy){ .monthly = 3 }, "1,7,9", "monthly 3");
	rule(&(struct repo_forget_policy){ .yearly = 3 }, "1,10,12", "yearly 3");
	rule(&(struct repo_forget_policy){ .yearly = 10 }, "1,10,12", "yearly 10 (only 3 years)");
	rule(&(struct repo_forget_policy){ .has_within = true, .within = { .days = 2 } },
	     "1,2,3,4", "within 2d of the newest");
	rule(&(struct repo_forget_policy){ .has_within = true, .within = { .months = 1 } },
	     "1,2,3,4,5,6,7", "within 1m");
	rule(&(struct repo_forget_policy){ .has_within = true, .within = { .years = 1 } },
	     "1,2,3,4,5,6,7,8,9,10,11", "within 1y");
	rule(&(struct repo_forget_policy){ 0 }, "1,2,3,4,5,6,7,8,9,10,11,12",
	     "empty policy keeps everything");

	/* Union: every snapshot kept by any rule, each with all its reasons. */
	items[7].tagged = true;
	p = (struct repo_forget_policy){ .last = 1, .monthly = 2, .yearly = 3,
					 .tags = keep_tags, .n_tags = 1 };
	kept(&p, got, sizeof(got), why);
	is_str(got, "1,7,8,10,12", "union of last 1, monthly 2, yearly 3, tag");
	is_int(why[0], REPO_KEEP_LAST | REPO_KEEP_MONTHLY | REPO_KEEP_YEARLY, "newest: 3 reasons");
	is_int(why[6], REPO_KEEP_MONTHLY, "February: monthly");
	is_int(why[7], REPO_KEEP_TAG, "tagged: tag only");
	is_int(why[9], REPO_KEEP_YEARLY, "2023: yearly");
	is_int(why[1], 0, "second of the day: removed");
	rule(&(struct repo_forget_policy){ .tags = keep_tags, .n_tags = 1 }, "8", "tag only");
	items[7].tagged = false;

	/* A snapshot only counts once per rule even when another rule also keeps it. */
	rule(&(struct repo_forget_policy){ .last = 2, .daily = 2 }, "1,2,3", "last 2 + daily 2");

	ok(repo_duration_parse("1y6m", &d) == 0 && d.years == 1 && d.months == 6, "1y6m");
	ok(repo_duration_parse("3w", &d) == 0 && d.days == 21, "3w is 21 days");
	ok(repo_duration_parse("2d12h", &d) == 0 && d.days == 2 && d.hours == 12, "2d12h");
	is_int(repo_duration_parse("", &d), -EINVAL, "empty duration");
	is_int(repo_duration_parse("5", &d), -EINVAL, "no unit");
	is_int(repo_duration_parse("2x", &d), -EINVAL, "unknown unit");
	is_int(repo_duration_parse("-2d", &d), -EINVAL, "negative");
	is_str(repo_keep_reason_name(REPO_KEEP_WEEKLY), "weekly", "reason names");

	{
		unsigned by;
		char *t1[] = { "ns=app", "pvc=data", "pod=web-1" }, *t2[] = { "pod=web-2", "ns=app",
									    "pvc=data" };
		char *t3[] = { "ns=app", "pod=db-0", "volume=scratch" };
		struct snapshot v[4];
		uint32_t w[4];
		size_t g[4];
		char *k1 = NULL, *k2 = NULL, *k3 = NULL;
		struct repo_forget_policy last1 = { .last = 1 };

		ok(repo_group_by_parse("host,paths,tags", &by) == 0 &&
			   by == (REPO_GROUP_HOST | REPO_GROUP_PATHS | REPO_GROUP_TAGS),
		   "group-by default list");
		is_int(repo_group_by_parse("volume,bogus", &by), -EINVAL, "unknown group-by");
		snap(&v[0], "node-a", "/var/lib/kubelet/pods/u1/volumes/x/data", t1, 3, 100);
		snap(&v[1], "node-b", "/var/lib/kubelet/pods/u2/volumes/x/data", t2, 3, 200);
		snap(&v[2], "node-b", "/var/lib/kubelet/pods/u3/volumes/x/scratch", t3, 3, 300);
		snap(&v[3], "node-a", "/var/lib/kubelet/pods/u1/volumes/x/data", t1, 3, 50);
		ok(repo_forget_group_key(&v[0], REPO_GROUP_VOLUME, &k1) == 0 &&
			   repo_forget_group_key(&v[1], REPO_GROUP_VOLUME, &k2) == 0 &&
			   repo_forget_group_key(&v[2], REPO_GROUP_VOLUME, &k3) == 0,
		   "volume keys");
		is_str(k1, k2, "same ns+pvc on another node and pod: same group");
		ok(strcmp(k1, k3) != 0 && strstr(k3, "volume=scratch"), "no pvc: pod+volume (%s)",
		   k3);
		ok(repo_forget_plan(v, 4, &last1, REPO_GROUP_VOLUME, w, g) == 0, "plan by volume");
		ok(g[0] == g[1] && g[1] == g[3] && g[2] != g[0], "two groups");
		ok(!w[0] && w[1] && w[2] && !w[3], "newest of each group kept (unsorted input)");
		ok(repo_forget_plan(v, 4, &last1, REPO_GROUP_HOST | REPO_GROUP_PATHS, w, g) == 0,
		   "plan by host,paths");
		ok(w[0] && !w[3] && w[1] && w[2] && g[0] == g[3] && g[1] != g[2],
		   "host+path groups: three");
		free(k1);
		free(k2);
		free(k3);
	}
	return tap_done();
}
