/* Owns the helpers shared by mktree and treecmp (see tt.h). */
#include "tests/tools/tt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void tt_fill(struct tt_rng *r, void *p, size_t n)
{
	uint8_t *o = p;

	while (n >= 8) {
		uint64_t v = tt_next(r);

		memcpy(o, &v, 8);
		o += 8;
		n -= 8;
	}
	if (n > 0) {
		uint64_t v = tt_next(r);

		memcpy(o, &v, n);
	}
}

void tt_put_escaped(FILE *f, const char *name, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		/* Spaces are escaped too: a trailing space must be visible in a report. */
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

void tt_escape(char *out, size_t size, const char *in, size_t n)
{
	size_t o = 0;

	if (size < 8)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (o + 5 >= size - 4) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
}

int tt_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end = NULL;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}
