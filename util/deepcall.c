/* Owns deepcall: a recursive walk on a thread of its own with a large, lazily backed stack. */
#include "util/deepcall.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "util/banned.h"

struct deepcall_ctx {
	int (*fn)(void *arg);
	void *arg;
	int rc;
};

static void *deepcall_main(void *p)
{
	struct deepcall_ctx *c = p;

	c->rc = c->fn(c->arg);
	return NULL;
}

int deepcall(int (*fn)(void *arg), void *arg, size_t stack)
{
	struct deepcall_ctx c = { fn, arg, 0 };
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t t;
	int r;

	r = pthread_attr_init(&a);
	if (r)
		return -r;
	r = pthread_attr_setstacksize(&a, stack ? stack : DEEPCALL_STACK);
	if (!r) {
		/* The walker thread inherits a blocked mask: SIGINT/SIGTERM keep reaching the
		 * caller, whose handler sets the cancel flag the walk polls. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r = pthread_create(&t, &a, deepcall_main, &c);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&a);
	if (r)
		return -r;
	pthread_join(t, NULL);
	return c.rc;
}
