/* Owns parallel content hashing for the walker: BLAKE2b is the single most expensive step
 * the walker does itself, so the chunks cut from one buffer are hashed by the walker and a
 * few helper threads together, and the walker goes on once all ids are known. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <stdlib.h>

#include "util/banned.h"

static int hash_one(void *ud, void *tls, void *item, struct err *e)
{
	struct hashpool *h = ud;
	struct htask *t = *(struct htask **)item;

	(void)tls;
	(void)e;
	key_blob_id(h->key, t->p, t->n, t->id);
	return 0;
}

int hashpool_start(struct hashpool *h, const struct key *k, int helpers, struct err *e)
{
	struct wq_config cfg = {
		.threads = (unsigned)helpers,
		.item_size = sizeof(struct htask *),
		.max_items = HASH_BATCH,
		.run = hash_one,
		.ud = h,
	};

	h->key = k;
	h->q = NULL;
	if (helpers <= 0)
		return 0;
	return wq_new(&cfg, &h->q, e);
}

void hashpool_stop(struct hashpool *h)
{
	wq_free(h->q);
	h->q = NULL;
}

void hashpool_run(struct hashpool *h, struct htask *tasks, size_t n)
{
	size_t queued = 0;

	if (n > 1 && h->q) {
		/* Hashing cannot fail, so neither can these pushes: HASH_BATCH slots hold a
		 * batch and nothing cancels this queue. */
		for (; queued < n; queued++) {
			struct htask *t = &tasks[queued];

			if (wq_push(h->q, &t, 0, -1) < 0)
				break;
		}
		/* The walker hashes too rather than sleeping. */
		while (wq_help(h->q, NULL) > 0)
			;
		if (wq_drain(h->q) < 0)
			queued = 0; /* cannot happen (see above); hash everything here then */
	}
	for (size_t i = queued; i < n; i++)
		key_blob_id(h->key, tasks[i].p, tasks[i].n, tasks[i].id);
}
