/* Owns parallel content hashing for the walker: the keyed content hash is the single most
 * expensive step the walker does itself, so chunks are hashed by helper threads while the
 * walker reads and cuts the next ones, and the walker hashes too when it has to wait. */
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
	pthread_mutex_lock(&h->lock);
	t->done = true;
	pthread_cond_broadcast(&h->done);
	pthread_mutex_unlock(&h->lock);
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
	int rc;

	h->key = k;
	h->q = NULL;
	if (helpers <= 0)
		return 0;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->done, NULL);
	rc = wq_new(&cfg, &h->q, e);
	if (rc < 0) {
		pthread_cond_destroy(&h->done);
		pthread_mutex_destroy(&h->lock);
	}
	return rc;
}

void hashpool_stop(struct hashpool *h)
{
	if (!h->q)
		return;
	wq_free(h->q);
	h->q = NULL;
	pthread_cond_destroy(&h->done);
	pthread_mutex_destroy(&h->lock);
}

void hashpool_add(struct hashpool *h, struct htask *t)
{
	t->done = false;
	/* Hashing cannot fail and nothing cancels this queue, so a push fails only when the
	 * queue is full (a caller over HASH_BATCH): that task is hashed when waited for. */
	t->queued = h->q && wq_push(h->q, &t, 0, 0) == 0;
}

static bool task_done(struct hashpool *h, struct htask *t)
{
	bool d;

	pthread_mutex_lock(&h->lock);
	d = t->done;
	pthread_mutex_unlock(&h->lock);
	return d;
}

void hashpool_wait_one(struct hashpool *h, struct htask *t)
{
	if (!t->queued) {
		key_blob_id(h->key, t->p, t->n, t->id);
		return;
	}
	/* Queued tasks run in order, so helping runs t or an earlier one: hashing here beats
	 * sleeping. Once none is queued, t is running on a helper. */
	while (!task_done(h, t))
		if (wq_help(h->q, NULL) <= 0)
			break;
	pthread_mutex_lock(&h->lock);
	while (!t->done)
		pthread_cond_wait(&h->done, &h->lock);
	pthread_mutex_unlock(&h->lock);
	t->queued = false;
}

void hashpool_wait(struct hashpool *h, struct htask *tasks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hashpool_wait_one(h, &tasks[i]);
}

void hashpool_run(struct hashpool *h, struct htask *tasks, size_t n)
{
	/* One task is hashed here at once: waking a helper for it costs more than it saves. */
	for (size_t i = 0; i < n; i++) {
		tasks[i].queued = false;
		if (n > 1)
			hashpool_add(h, &tasks[i]);
	}
	hashpool_wait(h, tasks, n);
}
