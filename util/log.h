/* Leveled logging to stderr as text or JSON lines; only cli/ and agent/ call it. */
#pragma once
#include "util/attr.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, _LOG_LEVEL_MAX, _LOG_LEVEL_INVALID = -22 };
enum log_format { LOG_TEXT, LOG_JSON, _LOG_FORMAT_MAX, _LOG_FORMAT_INVALID = -22 };

/* Set before any thread starts (style rule 11). */
void log_setup(enum log_level level, enum log_format format);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/* Log fmt plus strerror(-r); returns r. */
int log_errno_msg(enum log_level level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                  \
	do {                                            \
		if (log_get_level() >= LOG_DEBUG)       \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)
#define log_errno(r, ...) log_errno_msg(LOG_ERROR, r, __VA_ARGS__)
