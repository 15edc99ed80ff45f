/* Minimal TAP emitter for unit tests (header-only, one test binary per source file). */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n)
{
	printf("1..%d\n", n);
}

static inline bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_int(got, want, ...)                                                          \
	do {                                                                            \
		long long g_ = (long long)(got), w_ = (long long)(want);                \
		if (!tap_ok(g_ == w_, __VA_ARGS__))                                     \
			tap_diag("got %lld, want %lld", g_, w_);                        \
	} while (0)
#define is_mem(a, b, n, ...) tap_ok(memcmp((a), (b), (n)) == 0, __VA_ARGS__)
#define is_str(a, b, ...)                                                               \
	do {                                                                            \
		const char *a_ = (a), *b_ = (b);                                        \
		if (!tap_ok(a_ && b_ && strcmp(a_, b_) == 0, __VA_ARGS__))              \
			tap_diag("got '%s', want '%s'", a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)

/* Ends the run with the TAP plan (done-testing style). */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
