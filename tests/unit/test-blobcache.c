/* The shared blob cache: hits, the byte budget, pinned blobs, one fetch per id in flight,
 * failures not cached, prefetch, and a concurrent stress run. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/tap.h"
#include "util/banned.h"

#define BLOB 4096

static atomic_int fetches;
static atomic_int delay_ms;
static uint8_t fail_id = 0xff;

static void mkid(uint8_t id[ID_BYTES], unsigned k)
{
	memset(id, 0, ID_BYTES);
	id[0] = (uint8_t)k;
	id[1] = (uint8_t)(k >> 8);
	id[7] = 0x5a;
}

static uint8_t pattern(const uint8_t id[ID_BYTES], size_t i)
{
	return (uint8_t)(id[0] * 31 + id[1] * 7 + i);
}

static int fake_fetch(void *ud, const uint8_t id[ID_BYTES], struct buf *out, struct err *e)
{
	uint8_t tmp[BLOB];

	(void)ud;
	atomic_fetch_add(&fetches, 1);
	if (atomic_load(&delay_ms))
		usleep((useconds_t)atomic_load(&delay_ms) * 1000);
	if (id[0] == fail_id)
		return err_set(e, -EBADMSG, "blob fails authentication");
	for (size_t i = 0; i < BLOB; i++)
		tmp[i] = pattern(id, i);
	return buf_append(out, tmp, BLOB);
}

static bool blob_right(const struct cblob *b, const uint8_t id[ID_BYTES])
{
	if (cblob_len(b) != BLOB)
		return false;
	for (size_t i = 0; i < BLOB; i++)
		if (cblob_data(b)[i] != pattern(id, i))
			return false;
	return true;
}

static struct blobcache *shared;

static void *same_id(void *arg)
{
	uint8_t id[ID_BYTES];
	struct cblob *b;
	struct err e = ERR_INIT;
	intptr_t good = 0;

	(void)arg;
	mkid(id, 77);
	if (blobcache_get(shared, id, &b, &e) == 0) {
		good = blob_right(b, id);
		blobcache_put(shared, b);
	}
	return (void *)good;
}

static void *stress(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	intptr_t bad = 0;

	for (int k = 0; k < 3000; k++) {
		uint8_t id[ID_BYTES];
		struct cblob *b;
		struct err e = ERR_INIT;

		mkid(id, 1000 + (unsigned)rand_r(&seed) % 50);
		if (blobcache_get(shared, id, &b, &e) < 0 || !blob_right(b, id))
			bad++;
		else
			blobcache_put(shared, b);
	}
	return (void *)bad;
}

int main(void)
{
	struct blobcache *c = NULL;
	struct blobcache_stats st;
	struct cblob *b, *held[3];
	struct err e = ERR_INIT;
	uint8_t id[ID_BYTES];
	pthread_t th[8];
	intptr_t res, sum = 0;

	ok(blobcache_new(10 * 1024, 0, fake_fetch, NULL, &c) == 0, "new: 10 KiB budget");
	mkid(id, 1);
	ok(blobcache_get(c, id, &b, &e) == 0 && blob_right(b, id), "miss fetches the blob");
	blobcache_put(c, b);
	ok(blobcache_get(c, id, &b, &e) == 0 && blob_right(b, id), "second get returns it");
	blobcache_put(c, b);
	is_int(atomic_load(&fetches), 1, "second get was served from the cache");

	for (unsigned k = 2; k <= 5; k++) {
		mkid(id, k);
		if (blobcache_get(c, id, &b, &e) == 0)
			blobcache_put(c, b);
	}
	blobcache_stats(c, &st);
	ok(st.bytes <= 10 * 1024 && st.evictions >= 2, "budget holds: %zu bytes, %llu evictions",
	   st.bytes, (unsigned long long)st.evictions);
	atomic_store(&fetches, 0);
	mkid(id, 1);
	ok(blobcache_get(c, id, &b, &e) == 0 && blob_right(b, id) && atomic_load(&fetches) == 1,
	   "the coldest blob was evicted and is fetched again");
	blobcache_put(c, b);

	for (unsigned k = 0; k < 3; k++) {
		mkid(id, 10 + k);
		if (blobcache_get(c, id, &held[k], &e) < 0)
			held[k] = NULL;
	}
	for (unsigned k = 0; k < 3; k++) {
		mkid(id, 20 + k);
		if (blobcache_get(c, id, &b, &e) == 0)
			blobcache_put(c, b);
	}
	sum = 0;
	for (unsigned k = 0; k < 3; k++) {
		mkid(id, 10 + k);
		sum += held[k] && blob_right(held[k], id);
		blobcache_put(c, held[k]);
	}
	is_int(sum, 3, "blobs in use survive pressure intact");
	blobcache_stats(c, &st);
	ok(st.bytes <= 10 * 1024, "budget holds again once they are put back (%zu)", st.bytes);

	fail_id = 99;
	mkid(id, 99);
	atomic_store(&fetches, 0);
	is_int(blobcache_get(c, id, &b, &e), -EBADMSG, "a failing fetch is reported");
	is_int(blobcache_get(c, id, &b, &e), -EBADMSG, "and again");
	is_int(atomic_load(&fetches), 2, "failures are not cached");
	blobcache_free(c);

	ok(blobcache_new(1 << 20, 2, fake_fetch, NULL, &shared) == 0, "new with 2 prefetchers");
	atomic_store(&fetches, 0);
	atomic_store(&delay_ms, 100);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, same_id, NULL);
	sum = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], (void **)&res);
		sum += res;
	}
	is_int(sum, 8, "8 concurrent readers of one blob all get it");
	is_int(atomic_load(&fetches), 1, "with a single fetch");

	atomic_store(&fetches, 0);
	mkid(id, 200);
	blobcache_prefetch(shared, id);
	for (int i = 0; i < 300; i++) {
		blobcache_stats(shared, &st);
		if (st.entries == 2 && st.bytes == 2 * BLOB)
			break;
		usleep(10000);
	}
	ok(st.entries == 2, "prefetch loads the blob in the background");
	atomic_store(&delay_ms, 0);
	ok(blobcache_get(shared, id, &b, &e) == 0 && blob_right(b, id) &&
	       atomic_load(&fetches) == 1,
	   "a prefetched blob is a hit");
	blobcache_put(shared, b);
	blobcache_free(shared);

	/* 50 ids of 4 KiB through a 64 KiB cache from 4 threads. */
	ok(blobcache_new(64 * 1024, 2, fake_fetch, NULL, &shared) == 0, "new for stress");
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, stress, (void *)(uintptr_t)(i + 1));
	sum = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], (void **)&res);
		sum += res;
	}
	is_int(sum, 0, "12000 concurrent gets all return the right bytes");
	blobcache_stats(shared, &st);
	ok(st.bytes <= 64 * 1024 && st.evictions > 0, "budget held under contention (%zu bytes)",
	   st.bytes);
	blobcache_free(shared);
	blobcache_free(NULL);
	return tap_done();
}
