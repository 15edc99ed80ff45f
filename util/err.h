/* Error context: a negative errno plus a one-line message (curl's ERRORBUFFER). */
#pragma once
#include "util/attr.h"

struct err {
	int code;
	char msg[256];
};

#define ERR_INIT { 0, { 0 } }

/* Record code and a formatted message; returns code so callers can `return err_set(...)`.
 * A message already set is kept (the innermost cause is the most precise) unless
 * the context is empty. */
int err_set(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);
/* Like err_set but overwrites any earlier message. */
int err_reset(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);
/* Prefix the existing message with context ("pack 1a2b: " + msg). */
int err_wrap(struct err *e, int code, const char *fmt, ...) _printf_(3, 4);
void err_clear(struct err *e);
