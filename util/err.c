/* Owns the error-context helpers; messages are truncated, never overflow. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static void err_vfmt(struct err *e, int code, const char *fmt, va_list ap) _printf_(3, 0);
static void err_vfmt(struct err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
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
