/* Fuzz target: cron expressions of a Schedule (fields, lists, ranges, steps, names,
 * macros, @every, CRON_TZ=). An accepted expression must give a next fire time strictly
 * after the given one (or -ERANGE for none), from an ordinary time and from the ends of
 * the time_t range a forged status could hold. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "controller/controller.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_TEXT_MAX 300

static void check_next(const struct ctl_cron *c, time_t after)
{
	time_t t = 0;
	int rc = ctl_cron_next(c, after, &t);

	if ((rc == 0 && t <= after) || (rc < 0 && rc != -ERANGE && rc != -EOVERFLOW))
		__builtin_trap();
}

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct ctl_cron c;
	char s[FUZZ_TEXT_MAX + 1];

	if (size > FUZZ_TEXT_MAX)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (ctl_cron_parse(s, &c, &e) < 0)
		return 0;
	check_next(&c, 1767225600); /* 2026-01-01 */
	check_next(&c, INT64_MAX - 30);
	return 1;
}
