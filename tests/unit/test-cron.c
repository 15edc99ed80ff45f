/* Cron expressions (controller/cron.c) and Go durations (controller/duration.c): field
 * syntax, the @-names, time zones with DST, impossible dates, error messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/controller.h"
#include "kube/kube.h"
#include "tests/tap.h"

static time_t utc(const char *s)
{
	time_t t = 0;

	if (ctl_time_parse(s, &t) < 0)
		tap_diag("bad time %s", s);
	return t;
}

/* next(expr, after) == want */
static void next_is(const char *expr, const char *after, const char *want)
{
	struct ctl_cron c;
	struct err e = ERR_INIT;
	time_t t = 0;
	char got[32] = "";
	int r = ctl_cron_parse(expr, &c, &e);

	if (r == 0)
		r = ctl_cron_next(&c, utc(after), &t);
	if (r == 0)
		kube_timestamp(t, got);
	tap_ok(r == 0 && strcmp(got, want) == 0, "'%s' after %s -> %s (got %s %s)", expr, after,
	       want, r == 0 ? got : "error", e.msg);
}

static void bad(const char *expr, const char *needle)
{
	struct ctl_cron c;
	struct err e = ERR_INIT;
	int r = ctl_cron_parse(expr, &c, &e);

	tap_ok(r == -EINVAL && strstr(e.msg, needle), "'%s' rejected: %s", expr, e.msg);
}

int main(void)
{
	int64_t d;
	char buf[32];
	struct ctl_cron c;
	struct err e = ERR_INIT;
	time_t t;

	next_is("0 2 * * *", "2024-01-01T00:00:00Z", "2024-01-01T02:00:00Z");
	next_is("0 2 * * *", "2024-01-01T02:00:00Z", "2024-01-02T02:00:00Z");
	next_is("*/15 * * * *", "2024-01-01T00:07:30Z", "2024-01-01T00:15:00Z");
	next_is("5-20/5 * * * *", "2024-01-01T00:20:00Z", "2024-01-01T01:05:00Z");
	next_is("0 0 1,15 * *", "2024-01-02T00:00:00Z", "2024-01-15T00:00:00Z");
	next_is("30 4 * feb mon", "2024-01-01T00:00:00Z", "2024-02-05T04:30:00Z");
	next_is("0 0 * * 7", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"); /* 7 = Sunday */
	/* both day fields restricted: either matches (the 13th, or a Friday) */
	next_is("0 0 13 * fri", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z");
	next_is("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
	next_is("@daily", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00Z");
	next_is("@hourly", "2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z");
	next_is("@weekly", "2024-01-01T12:00:00Z", "2024-01-07T00:00:00Z");
	next_is("@monthly", "2024-01-31T12:00:00Z", "2024-02-01T00:00:00Z");
	next_is("@yearly", "2024-01-31T12:00:00Z", "2025-01-01T00:00:00Z");
	next_is("@every 90m", "2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z");
	/* 02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in summer */
	next_is("CRON_TZ=Europe/Berlin 0 2 * * *", "2024-01-10T12:00:00Z", "2024-01-11T01:00:00Z");
	next_is("CRON_TZ=Europe/Berlin 0 2 * * *", "2024-07-10T12:00:00Z", "2024-07-11T00:00:00Z");
	/* 02:30 does not exist in Berlin on 2024-03-31: the next one is on April 1st */
	next_is("TZ=Europe/Berlin 30 2 * * *", "2024-03-30T12:00:00Z", "2024-04-01T00:30:00Z");
	next_is("CRON_TZ=America/New_York 0 9 * * 1-5", "2024-01-05T15:00:00Z",
	        "2024-01-08T14:00:00Z");

	bad("0 24 * * *", "out of range 0-23");
	bad("61 * * * *", "field 1 (minute)");
	bad("* * *", "expected five fields");
	bad("* * * * * *", "more than five fields");
	bad("@fortnightly", "unknown cron name");
	bad("10-5 * * * *", "runs backwards");
	bad("*/0 * * * *", "bad step");
	bad("CRON_TZ=Mars/Olympus 0 0 * * *", "unknown time zone");
	bad("0 0 * foo *", "not a value");
	tap_ok(ctl_cron_parse("0 0 30 2 *", &c, &e) == 0 &&
	           ctl_cron_next(&c, utc("2024-01-01T00:00:00Z"), &t) == -ERANGE,
	       "February 30th never comes: -ERANGE");

	tap_ok(ctl_duration_parse("720h0m0s", &d) == 0 && d == 720 * 3600, "720h0m0s");
	tap_ok(ctl_duration_parse("1h30m", &d) == 0 && d == 5400, "1h30m");
	tap_ok(ctl_duration_parse("1.5h", &d) == 0 && d == 5400, "1.5h");
	tap_ok(ctl_duration_parse("45s", &d) == 0 && d == 45, "45s");
	tap_ok(ctl_duration_parse("10", &d) == -EINVAL, "a bare number is not a duration");
	tap_ok(ctl_duration_parse("-1h", &d) == -EINVAL, "negative rejected");
	tap_ok(ctl_duration_parse("3d", &d) == -EINVAL, "days are not a Go unit");
	ctl_duration_format(720 * 3600, buf);
	tap_ok(strcmp(buf, "720h0m0s") == 0, "format 720h0m0s (%s)", buf);
	ctl_duration_format(90, buf);
	tap_ok(strcmp(buf, "1m30s") == 0, "format 1m30s (%s)", buf);
	tap_ok(ctl_time_parse("2024-01-02T03:04:05Z", &t) == 0 && t == 1704164645,
	       "RFC 3339 parse");
	tap_ok(ctl_time_parse("2024-01-02T03:04:05.123Z", &t) == 0 && t == 1704164645,
	       "RFC 3339 with fractions");
	tap_ok(ctl_time_parse("2024-01-02 03:04:05", &t) == -EINVAL, "not RFC 3339");
	return tap_done();
}
