/* Compiler attributes shared by every module. */
#pragma once

#define _must_check_    __attribute__((warn_unused_result))
#define _printf_(a, b)  __attribute__((format(printf, a, b)))
#define _nonnull_       __attribute__((nonnull))
#define _unused_        __attribute__((unused))
#define COMPILE_ASSERT(c, m) _Static_assert(c, m)
#define ELEMENTSOF(x)   (sizeof(x) / sizeof((x)[0]))
