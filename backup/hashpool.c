/* Owns parallel content hashing for the walker: BLAKE2b is the single most expensive step
 * the walker does itself, so the chunks cut from one buffer are hashed by the walker and a
 * few helper threads together, and the walker goes on once all ids are known. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <stdlib.h>

#include "util/banned.h"

static bool take(struct hashpool *h, size_t *ret)
{
	if (h->next >= h->n_tasks)
		return false;
	*ret = h->next++;
	return true;
}

static void run_one(struct hashpool *h, size_t i)
{
	struct htask *t = &h->tasks[i];

	key_blob_id(h->key, t->p, t->n, t->id);
	pthread_mutex_lock(&h->lock);
	if (--h->remaining == 0)
		pthread_cond_signal(&h->done);
	pthread_mutex_unlock(&h->lock);
}

static void *helper(void *arg)
{
	struct hashpool *h = arg;
	size_t i;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->stop && !take(h, &i))
			pthread_cond_wait(&h->work, &h->lock);
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->lock);
		run_one(h, i);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int hashpool_start(struct hashpool *h, const struct key *k, int helpers)
{
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->work, NULL);
	pthread_cond_init(&h->done, NULL);
	h->key = k;
	h->threads = calloc(helpers > 0 ? (size_t)helpers : 1, sizeof(*h->threads));
	if (!h->threads)
		return -ENOMEM;
	for (; h->n_threads < helpers; h->n_threads++)
		if (pthread_create(&h->threads[h->n_threads], NULL, helper, h) != 0)
			return -EAGAIN;
	h->started = true;
	return 0;
}

void hashpool_stop(struct hashpool *h)
{
	if (!h->started)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->work);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < h->n_threads; i++)
		pthread_join(h->threads[i], NULL);
	free(h->threads);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->work);
	pthread_cond_destroy(&h->done);
	h->started = false;
}

void hashpool_run(struct hashpool *h, struct htask *tasks, size_t n)
{
	size_t i;

	if (n == 1 || !h->n_threads) {
		for (i = 0; i < n; i++)
			key_blob_id(h->key, tasks[i].p, tasks[i].n, tasks[i].id);
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->tasks = tasks;
	h->n_tasks = n;
	h->next = 0;
	h->remaining = n;
	pthread_cond_broadcast(&h->work);
	/* The walker hashes too rather than sleeping. */
	while (take(h, &i)) {
		pthread_mutex_unlock(&h->lock);
		run_one(h, i);
		pthread_mutex_lock(&h->lock);
	}
	while (h->remaining)
		pthread_cond_wait(&h->done, &h->lock);
	h->tasks = NULL;
	h->n_tasks = 0;
	pthread_mutex_unlock(&h->lock);
}
