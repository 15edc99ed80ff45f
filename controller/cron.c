/* Owns cron expressions: parsing the five fields (lists, ranges, steps, names), the
 * @-names, and finding the next firing time in the schedule's time zone. */
#include "controller/controller.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

static const char *const field_names[5] = { "minute", "hour", "day of month", "month",
	                                    "day of week" };
static const int lo_of[5] = { 0, 0, 1, 1, 0 };
static const int hi_of[5] = { 59, 23, 31, 12, 7 }; /* 7 is Sunday too */
static const char *const months[12] = { "jan", "feb", "mar", "apr", "may", "jun",
	                                "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* A number or (month and weekday fields) a three-letter name. */
static int parse_value(int f, const char **s, int *ret)
{
	const char *p = *s;

	if (isdigit((unsigned char)*p)) {
		long v = 0;

		while (isdigit((unsigned char)*p) && v < 1000)
			v = v * 10 + (*p++ - '0');
		*ret = (int)v;
		*s = p;
		return 0;
	}
	if ((f == 3 || f == 4) && isalpha((unsigned char)p[0]) && isalpha((unsigned char)p[1]) &&
	    isalpha((unsigned char)p[2])) {
		const char *const *names = f == 3 ? months : days;
		int n = f == 3 ? 12 : 7;

		for (int i = 0; i < n; i++)
			if (strncasecmp(p, names[i], 3) == 0) {
				*ret = f == 3 ? i + 1 : i;
				*s = p + 3;
				return 0;
			}
	}
	return -EINVAL;
}

/* One field: comma list of "*", "N", "A-B", each optionally "/STEP". */
static int parse_field(int f, const char *s, uint64_t *bits, bool *any, struct err *e)
{
	int lo = lo_of[f], hi = hi_of[f];

	*bits = 0;
	*any = strcmp(s, "*") == 0 || strcmp(s, "?") == 0;
	for (;;) {
		int a, b, step = 1;

		if (*s == '*' || *s == '?') {
			a = lo;
			b = hi;
			s++;
		} else {
			if (parse_value(f, &s, &a) < 0)
				return err_set(e, -EINVAL, "field %d (%s): '%s' is not a value",
				               f + 1, field_names[f], s);
			b = a;
			if (*s == '-') {
				s++;
				if (parse_value(f, &s, &b) < 0)
					return err_set(e, -EINVAL, "field %d (%s): bad range end",
					               f + 1, field_names[f]);
			}
		}
		if (*s == '/') {
			s++;
			if (parse_value(0, &s, &step) < 0 || step < 1)
				return err_set(e, -EINVAL, "field %d (%s): bad step", f + 1,
				               field_names[f]);
			if (a == b && b != hi)
				b = hi; /* "5/15" means 5-59/15 */
		}
		if (a < lo || a > hi || b < lo || b > hi)
			return err_set(e, -EINVAL, "field %d (%s): %d is out of range %d-%d", f + 1,
			               field_names[f], a < lo || a > hi ? a : b, lo, hi);
		if (a > b)
			return err_set(e, -EINVAL, "field %d (%s): range %d-%d runs backwards",
			               f + 1, field_names[f], a, b);
		for (int v = a; v <= b; v += step)
			*bits |= 1ull << (f == 4 && v == 7 ? 0 : v);
		if (*s == 0)
			return 0;
		if (*s != ',')
			return err_set(e, -EINVAL, "field %d (%s): unexpected '%c'", f + 1,
			               field_names[f], *s);
		s++;
	}
}

static const struct {
	const char *name, *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

int ctl_cron_parse(const char *expr, struct ctl_cron *ret, struct err *e)
{
	struct ctl_cron c = { 0 };
	char buf[256], *fields[6], *save = NULL, *tok;
	int n = 0, r;

	if (!expr || strlen(expr) >= sizeof(buf))
		return err_set(e, -EINVAL, "empty or overlong cron expression");
	while (*expr == ' ')
		expr++;
	if (strncmp(expr, "CRON_TZ=", 8) == 0 || strncmp(expr, "TZ=", 3) == 0) {
		const char *z = strchr(expr, '=') + 1, *sp = strchr(z, ' ');
		size_t zl = sp ? (size_t)(sp - z) : strlen(z);
		char path[128];

		if (zl == 0 || zl >= sizeof(c.tz) || strstr(z, ".."))
			return err_set(e, -EINVAL, "bad time zone in '%s'", expr);
		memcpy(c.tz, z, zl);
		c.tz[zl] = 0;
		/* The C library falls back to UTC for unknown zones without telling: look the
		 * zone up in the TZ database ourselves. */
		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", c.tz);
		if (strcmp(c.tz, "UTC") != 0 && access(path, R_OK) != 0)
			return err_set(e, -EINVAL, "unknown time zone '%s'", c.tz);
		expr = sp ? sp + 1 : z + zl;
		while (*expr == ' ')
			expr++;
	}
	if (strncmp(expr, "@every ", 7) == 0) {
		if (ctl_duration_parse(expr + 7, &c.every_sec) < 0 || c.every_sec < 1)
			return err_set(e, -EINVAL, "bad @every duration '%s'", expr + 7);
		*ret = c;
		return 0;
	}
	if (expr[0] == '@') {
		size_t i;

		for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strcmp(expr, macros[i].name) == 0)
				break;
		if (i == sizeof(macros) / sizeof(macros[0]))
			return err_set(e, -EINVAL, "unknown cron name '%s'", expr);
		expr = macros[i].expr;
	}
	snprintf(buf, sizeof(buf), "%s", expr);
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n == 5)
			return err_set(e, -EINVAL, "more than five fields in '%s'", expr);
		fields[n++] = tok;
	}
	if (n != 5)
		return err_set(e, -EINVAL,
		               "expected five fields (minute hour day-of-month month "
		               "day-of-week), got %d in '%s'",
		               n, expr);
	for (int f = 0; f < 5; f++) {
		uint64_t bits;
		bool any;

		r = parse_field(f, fields[f], &bits, &any, e);
		if (r < 0)
			return r;
		switch (f) {
		case 0:
			c.minute = bits;
			break;
		case 1:
			c.hour = (uint32_t)bits;
			break;
		case 2:
			c.dom = (uint32_t)bits;
			c.dom_any = any;
			break;
		case 3:
			c.month = (uint32_t)bits;
			break;
		default:
			c.dow = (uint8_t)bits;
			c.dow_any = any;
			break;
		}
	}
	*ret = c;
	return 0;
}

static bool day_matches(const struct ctl_cron *c, const struct tm *tm)
{
	bool dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

	/* Classic cron: when both day fields are restricted, either one matching is enough. */
	if (!c->dom_any && !c->dow_any)
		return dom || dow;
	return dom && dow;
}

/* localtime/mktime read TZ: switching it is process-wide, so one switch at a time. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

int ctl_cron_next(const struct ctl_cron *c, time_t after, time_t *ret)
{
	char old[128] = "";
	const char *prev;
	bool had;
	struct tm tm;
	time_t t;
	int r = -ERANGE;

	/* A time read from a forged status may sit at the end of time_t: never wrap. */
	if (c->every_sec > 0) {
		if (__builtin_add_overflow(after, (time_t)c->every_sec, ret))
			return -EOVERFLOW;
		return 0;
	}
	if (after > INT64_MAX - 120)
		return -EOVERFLOW;
	pthread_mutex_lock(&tz_lock);
	prev = getenv("TZ");
	had = prev != NULL;
	if (had)
		snprintf(old, sizeof(old), "%s", prev);
	setenv("TZ", c->tz[0] ? c->tz : "UTC", 1);
	tzset();
	t = after - after % 60 + 60;
	/* Each step moves to the start of the next month, day, hour or minute that could
	 * match; eight years of steps is far more than any satisfiable expression needs. */
	for (int i = 0; i < 200000; i++) {
		if (!localtime_r(&t, &tm) || tm.tm_year > 1900 + 10000 || t > INT64_MAX - 60)
			break;
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!((c->minute >> tm.tm_min) & 1)) {
			tm.tm_min++;
		} else {
			if (t - after > 8LL * 366 * 24 * 3600)
				break;
			*ret = t;
			r = 0;
			break;
		}
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		{
			time_t n = mktime(&tm);

			/* A local time skipped by a DST change can normalise backwards: always
			 * move forward by at least a minute. */
			t = n > t ? n : t + 60;
		}
	}
	if (had)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	pthread_mutex_unlock(&tz_lock);
	return r;
}
