/* Fuzz target: Go durations ("720h0m0s") and RFC 3339 times as Kubernetes objects carry
 * them (a Backup's ttl, a Schedule's timestamps). A duration that parses must be within
 * the ten-year bound and read back the same once formatted; the input decodes when either
 * parser accepts it. */
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_TEXT_MAX 512

int fuzz_decode(const uint8_t *data, size_t size)
{
	char s[FUZZ_TEXT_MAX + 1], out[32];
	int64_t sec, again;
	time_t t;
	int ok = 0;

	if (size > FUZZ_TEXT_MAX)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (ctl_duration_parse(s, &sec) == 0) {
		if (sec < 0 || sec > 10LL * 366 * 24 * 3600)
			__builtin_trap();
		ctl_duration_format(sec, out);
		if (!memchr(out, 0, sizeof(out)) || ctl_duration_parse(out, &again) != 0 ||
		    again != sec)
			__builtin_trap();
		ok = 1;
	}
	if (ctl_time_parse(s, &t) == 0)
		ok = 1;
	return ok;
}
