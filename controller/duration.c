/* Owns Go-style durations ("720h0m0s") and RFC 3339 times as Kubernetes objects carry
 * them. */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

/* Ten years: longer than any ttl or timeout anyone means. */
#define DURATION_MAX_SEC (10LL * 366 * 24 * 3600)

int ctl_duration_parse(const char *s, int64_t *ret_sec)
{
	double total = 0;
	bool any = false;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ret_sec = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v, unit;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = strtod(s, &end);
		if (end == s)
			return -EINVAL;
		s = end;
		if (strncmp(s, "ms", 2) == 0) {
			unit = 0.001;
			s += 2;
		} else if (*s == 'h') {
			unit = 3600;
			s++;
		} else if (*s == 'm') {
			unit = 60;
			s++;
		} else if (*s == 's') {
			unit = 1;
			s++;
		} else {
			return -EINVAL;
		}
		total += v * unit;
		if (total > (double)DURATION_MAX_SEC)
			return -EINVAL;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*ret_sec = (int64_t)total;
	return 0;
}

void ctl_duration_format(int64_t sec, char out[32])
{
	if (sec <= 0) {
		snprintf(out, 32, "0s");
		return;
	}
	if (sec >= 3600)
		snprintf(out, 32, "%lldh%lldm%llds", (long long)(sec / 3600),
		         (long long)(sec % 3600 / 60), (long long)(sec % 60));
	else if (sec >= 60)
		snprintf(out, 32, "%lldm%llds", (long long)(sec / 60), (long long)(sec % 60));
	else
		snprintf(out, 32, "%llds", (long long)sec);
}

int ctl_time_parse(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s)
		return -EINVAL;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.') /* fractions of a second */
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0)
		return -EINVAL;
	*ret = timegm(&tm);
	return 0;
}
