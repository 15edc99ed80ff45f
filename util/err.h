/* Error context: a negative errno plus a one-line message (curl's ERRORBUFFER). */
#pragma once
#include <stdarg.h>
#include <stddef.h>

#include "util/attr.h"

/* Long enough for an S3 URL with a deep prefix plus the server's reason: a message cut
 * short loses its cause, which sits at the end. */
#define ERR_MSG_MAX 1024

struct err {
	int code;
	char msg[ERR_MSG_MAX];
};

#define ERR_INIT { 0, { 0 } }

/* Record code and a formatted message; returns code so callers can `return err_set(...)`.
 * A message already set with the same code is kept (the innermost cause, set first, is
 * the most precise); a different code replaces it. e may be NULL. */
int err_set(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);
/* Like err_set but overwrites any earlier message. */
int err_reset(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);
/* Prefix the existing message with context ("pack 1a2b: " + msg). */
int err_wrap(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);
void err_clear(struct err *e);
/* vsnprintf into out[n] that keeps both ends of a message too long for it: the head and
 * the tail joined by "...". Messages name a path first and their reason last, so plain
 * truncation of a deep path would drop the reason. */
void err_vfit(char *out, size_t n, const char *fmt, va_list ap) _printf_(3, 0);
