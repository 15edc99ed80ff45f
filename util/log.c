/* Owns the process-wide log level and format (set once, before threads start). */
#include "util/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

static enum log_level log_level = LOG_INFO;
static enum log_format log_format = LOG_TEXT;
static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_setup(enum log_level level, enum log_format format)
{
	log_level = level;
	log_format = format;
}

enum log_level log_get_level(void)
{
	return log_level;
}

static void log_emit(enum log_level level, const char *text)
{
	if (log_format == LOG_JSON) {
		struct timespec ts;
		json_t *o;
		char *s;

		clock_gettime(CLOCK_REALTIME, &ts);
		o = json_pack("{s:f, s:s, s:s}", "ts", ts.tv_sec + ts.tv_nsec / 1e9, "level",
			      level_names[level], "msg", text);
		s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s)
			fprintf(stderr, "%s\n", s);
		free(s);
		json_decref(o);
		return;
	}
	if (level == LOG_INFO)
		fprintf(stderr, "%s\n", text);
	else
		fprintf(stderr, "cairn: %s: %s\n", level_names[level], text);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_emit(level, text);
}

int log_errno_msg(enum log_level level, int r, const char *fmt, ...)
{
	char text[1024];
	size_t n;
	va_list ap;

	if (level > log_level)
		return r;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, ": %s", strerror(r < 0 ? -r : r));
	log_emit(level, text);
	return r;
}
