/* The blob cache shared by all readers of a mount: a byte-bounded LRU of decrypted data
 * blobs keyed by id, with one fetch per id in flight (later readers wait for it) and a few
 * prefetch workers that load the blobs a sequential reader will want next. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/wq.h"

enum cblob_state { CB_LOADING, CB_READY, CB_FAILED };

struct cblob {
	uint8_t id[ID_BYTES];
	uint8_t *data;
	size_t len;
	unsigned refs;
	enum cblob_state state;
	int error;
	struct cblob *hnext;
	struct cblob *prev, *next; /* LRU ring, READY entries only; head is most recent */
};

#define PREFETCH_QUEUE 32

struct blobcache {
	pthread_mutex_t lock;
	pthread_cond_t loaded; /* some LOADING entry changed state */
	struct cblob **bucket;
	size_t n_bucket, count;
	struct cblob lru;
	size_t bytes, max;
	blobcache_fetch_fn fetch;
	void *ud;
	struct wq *prefetch; /* items are ids; NULL without workers */
	struct blobcache_stats stats;
};

const uint8_t *cblob_data(const struct cblob *b)
{
	return b->data;
}

size_t cblob_len(const struct cblob *b)
{
	return b->len;
}

static size_t slot(const struct blobcache *c, const uint8_t id[ID_BYTES])
{
	uint64_t h;

	/* Ids are keyed hashes already: their first bytes are uniformly distributed. */
	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (c->n_bucket - 1));
}

static struct cblob *find(struct blobcache *c, const uint8_t id[ID_BYTES])
{
	for (struct cblob *b = c->bucket[slot(c, id)]; b; b = b->hnext)
		if (memcmp(b->id, id, ID_BYTES) == 0)
			return b;
	return NULL;
}

static void grow(struct blobcache *c)
{
	size_t n = c->n_bucket * 2;
	struct cblob **nb = calloc(n, sizeof(*nb));

	/* A failed grow only makes chains longer. */
	if (!nb)
		return;
	for (size_t i = 0; i < c->n_bucket; i++) {
		struct cblob *b = c->bucket[i], *next;

		for (; b; b = next) {
			uint64_t h;

			next = b->hnext;
			memcpy(&h, b->id, sizeof(h));
			b->hnext = nb[h & (n - 1)];
			nb[h & (n - 1)] = b;
		}
	}
	free(c->bucket);
	c->bucket = nb;
	c->n_bucket = n;
}

static void unhash(struct blobcache *c, struct cblob *b)
{
	struct cblob **pp = &c->bucket[slot(c, b->id)];

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	c->count--;
}

static void lru_unlink(struct cblob *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
	b->prev = b->next = b;
}

static void lru_push(struct blobcache *c, struct cblob *b)
{
	b->next = c->lru.next;
	b->prev = &c->lru;
	c->lru.next->prev = b;
	c->lru.next = b;
}

static void drop(struct blobcache *c, struct cblob *b)
{
	if (b->state == CB_READY) {
		lru_unlink(b);
		unhash(c, b);
		c->bytes -= b->len;
	}
	free(b->data);
	free(b);
}

/* Evict unreferenced blobs from the cold end until the budget holds again. Referenced ones
 * stay: the overshoot is bounded by readers in flight times the largest blob. */
static void evict(struct blobcache *c)
{
	struct cblob *b = c->lru.prev;

	while (c->bytes > c->max && b != &c->lru) {
		struct cblob *prev = b->prev;

		if (b->refs == 0) {
			drop(c, b);
			c->stats.evictions++;
		}
		b = prev;
	}
}

static void unref(struct blobcache *c, struct cblob *b)
{
	if (--b->refs > 0)
		return;
	if (b->state == CB_FAILED)
		drop(c, b);
	else
		evict(c);
}

static int load(struct blobcache *c, struct cblob *b, struct err *e)
{
	struct buf out = BUF_INIT;
	int r;

	buf_init(&out, REPO_BLOB_MAX);
	r = c->fetch(c->ud, b->id, &out, e);
	pthread_mutex_lock(&c->lock);
	if (r < 0) {
		b->state = CB_FAILED;
		b->error = r;
		unhash(c, b);
		buf_release(&out);
	} else {
		b->data = buf_take(&out, &b->len);
		b->state = CB_READY;
		c->bytes += b->len;
		lru_push(c, b);
	}
	pthread_cond_broadcast(&c->loaded);
	return r;
}

int blobcache_get(struct blobcache *c, const uint8_t id[ID_BYTES], struct cblob **ret,
                  struct err *e)
{
	struct cblob *b;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	b = find(c, id);
	if (b) {
		b->refs++;
		while (b->state == CB_LOADING)
			pthread_cond_wait(&c->loaded, &c->lock);
		if (b->state == CB_FAILED) {
			r = b->error;
			unref(c, b);
			pthread_mutex_unlock(&c->lock);
			return err_set(e, r, "blob could not be read");
		}
		c->stats.hits++;
		lru_unlink(b);
		lru_push(c, b);
		pthread_mutex_unlock(&c->lock);
		*ret = b;
		return 0;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	memcpy(b->id, id, ID_BYTES);
	b->refs = 1;
	b->state = CB_LOADING;
	b->prev = b->next = b;
	b->hnext = c->bucket[slot(c, id)];
	c->bucket[slot(c, id)] = b;
	if (++c->count > c->n_bucket)
		grow(c);
	c->stats.misses++;
	pthread_mutex_unlock(&c->lock);

	r = load(c, b, e); /* returns with the lock held */
	if (r < 0) {
		unref(c, b);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	evict(c);
	pthread_mutex_unlock(&c->lock);
	*ret = b;
	return 0;
}

void blobcache_put(struct blobcache *c, struct cblob *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&c->lock);
	unref(c, b);
	pthread_mutex_unlock(&c->lock);
}

void blobcache_prefetch(struct blobcache *c, const uint8_t id[ID_BYTES])
{
	if (!c->prefetch)
		return;
	pthread_mutex_lock(&c->lock);
	/* A full queue drops the hint (timeout 0): prefetching is an optimisation, never a
	 * debt. The queue's lock nests inside ours and workers never take them the other
	 * way round. */
	if (!find(c, id) && wq_push(c->prefetch, id, 0, 0) == 0)
		c->stats.prefetches++;
	pthread_mutex_unlock(&c->lock);
}

static int prefetch_one(void *ud, void *tls, void *item, struct err *e)
{
	struct blobcache *c = ud;
	struct cblob *b = NULL;

	(void)tls;
	/* Errors are left for the reader that needs the blob to meet and report. */
	if (blobcache_get(c, item, &b, e) == 0)
		blobcache_put(c, b);
	return 0;
}

int blobcache_new(size_t max_bytes, size_t workers, blobcache_fetch_fn fetch, void *ud,
                  struct blobcache **ret)
{
	struct blobcache *c = calloc(1, sizeof(*c));
	struct err e = ERR_INIT;
	int r = -ENOMEM;

	if (!c)
		return -ENOMEM;
	if (workers > BLOBCACHE_MAX_WORKERS)
		workers = BLOBCACHE_MAX_WORKERS;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->loaded, NULL);
	c->lru.prev = c->lru.next = &c->lru;
	c->max = max_bytes;
	c->fetch = fetch;
	c->ud = ud;
	c->n_bucket = 256;
	c->bucket = calloc(c->n_bucket, sizeof(*c->bucket));
	if (!c->bucket)
		goto fail;
	r = 0;
	if (workers) {
		/* The queue's workers block SIGINT/SIGTERM: they must reach the thread that
		 * waits in the FUSE loop, or the mount would not notice it should stop. */
		struct wq_config cfg = {
			.threads = (unsigned)workers,
			.item_size = ID_BYTES,
			.max_items = PREFETCH_QUEUE,
			.run = prefetch_one,
			.ud = c,
		};

		r = wq_new(&cfg, &c->prefetch, &e);
	}
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	blobcache_free(c);
	return r;
}

void blobcache_stats(struct blobcache *c, struct blobcache_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = c->stats;
	ret->bytes = c->bytes;
	ret->entries = c->count;
	pthread_mutex_unlock(&c->lock);
}

void blobcache_free(struct blobcache *c)
{
	if (!c)
		return;
	/* Queued hints are dropped; a prefetch in flight finishes and puts its blob back. */
	wq_free(c->prefetch);
	/* Every reader has put its blobs back by now, so everything left is READY and cold. */
	while (c->lru.next != &c->lru)
		drop(c, c->lru.next);
	free(c->bucket);
	pthread_cond_destroy(&c->loaded);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
