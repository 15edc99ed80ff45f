/* Owns the progress throttle of check --read-data and prune: counts go up with every pack,
 * the caller's callback runs a few times a second at most and once at the end. */
#include "maint/maint-internal.h"

#include <time.h>

#include "util/banned.h"

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

void repo_maint_meter_add(struct repo_maint_meter *m, uint64_t packs, uint64_t bytes)
{
	uint64_t t;
	bool end;

	m->p.packs_done += packs;
	m->p.bytes_done += bytes;
	if (!m->fn)
		return;
	end = m->p.packs_done >= m->p.packs_total;
	t = now_ms();
	/* The first call comes at once: it tells the caller the phase and its totals. */
	if (!end && m->last_ms && t - m->last_ms < m->ms)
		return;
	m->last_ms = t ? t : 1;
	m->fn(m->ud, &m->p);
}
