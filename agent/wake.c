/* Owns the main loop's wake-up: watch threads and jobs say "something changed" and the
 * loop runs at once, instead of finding out at its next timer tick. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <time.h>

#include "util/banned.h"

void agent_wake_init(struct agent_wake *w)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&w->lock, NULL);
	/* Monotonic: a wall-clock step must not stretch or cut the idle wait. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->pending = false;
}

void agent_wake_release(struct agent_wake *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

void agent_wake(struct agent_wake *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->pending = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void agent_wake_wait(struct agent_wake *w, unsigned max_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += max_ms / 1000;
	ts.tv_nsec += (long)(max_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	/* A wake that came while the loop was busy is not lost: it returns at once. */
	while (!w->pending)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
			break;
	w->pending = false;
	pthread_mutex_unlock(&w->lock);
}
