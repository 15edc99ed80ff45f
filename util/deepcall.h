/* Run a deeply recursive function on a thread with a large stack. Walkers recurse once
 * per folder level and a pod can nest folders thousands deep (openat has no PATH_MAX):
 * the default 8 MiB stack overflows near 2 000 levels under ASan. The big stack is only
 * reserved address space; untouched pages cost no memory. */
#pragma once
#include <stddef.h>

#include "util/attr.h"

/* 512 MiB: about 100 000 levels of the backup or restore walker (ASan frames included). */
#define DEEPCALL_STACK (512ul << 20)

/* fn(arg) on a new thread with a stack of `stack` bytes (DEEPCALL_STACK when 0); returns
 * what fn returned, or a negative errno when the thread could not start (-EAGAIN,
 * -ENOMEM), in which case fn did not run. Signals stay with the calling thread. */
int deepcall(int (*fn)(void *arg), void *arg, size_t stack) _must_check_;
