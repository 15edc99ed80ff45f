/* Owns the error-context helpers; messages are truncated, never overflow. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static void err_vfmt(struct err *e, int code, const char *fmt, va_list ap) _printf_(3, 0);
static void err_vfmt(struct err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	err_vfit(e->msg, sizeof(e->msg), fmt, ap);
}

void err_vfit(char *out, size_t n, const char *fmt, va_list ap)
{
	size_t head, tail, len;
	char *full = NULL;
	va_list aq;
	int k;

	va_copy(aq, ap);
	k = vsnprintf(out, n, fmt, ap);
	/* Too small to be worth eliding, or it fit. */
	if (k < 0 || (size_t)k < n || n < 64)
		goto done;
	len = (size_t)k;
	full = malloc(len + 1);
	if (!full) /* keep the plain truncation */
		goto done;
	vsnprintf(full, len + 1, fmt, aq);
	head = (n - 1) / 4;
	tail = n - 1 - head - 3;
	/* Cut between characters, not inside a UTF-8 sequence. */
	while (head && ((unsigned char)full[head] & 0xc0) == 0x80)
		head--;
	while (tail && ((unsigned char)full[len - tail] & 0xc0) == 0x80)
		tail--;
	memcpy(out, full, head);
	memcpy(out + head, "...", 3);
	memcpy(out + head + 3, full + len - tail, tail);
	out[head + 3 + tail] = 0;
done:
	va_end(aq);
	free(full);
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	if (e->msg[0] && e->code == code)
		return code;
	va_start(ap, fmt);
	err_vfmt(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_reset(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	err_vfmt(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(struct err *e, int code, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	if (!old[0])
		snprintf(old, sizeof(old), "%s", strerror(code < 0 ? -code : code));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
	e->code = code;
	return code;
}

void err_clear(struct err *e)
{
	e->code = 0;
	e->msg[0] = 0;
}
