/* Memory of the proposed sharded blob index against repo/idx.c (bench/README.md, "Memory"):
 *   gcc -O2 -o idx-shards bench/idx-shards.c -lsodium && ./idx-shards 1000000
 * Prints the peak RSS growth for N random 48-byte entries. Not built by make. */
/* Proposed: 4096 shards by the id's first 12 bits, each an open-addressing table of 48-byte
 * entries grown by 1.5x at 7/8 load (linear probing stays short at 7/8 with uniformly random
 * keys), so growth copies 1/4096 of the index at a time and the average load is ~0.7. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
struct ent {
	uint8_t id[32];
	uint32_t pack, off, slen, rlen;
};
struct shard {
	struct ent *s;
	uint32_t cap, n;
};
#define SH 4096
static struct shard sh[SH];
static long rss(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}
static uint64_t h64(const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id + 2, 8);
	return h;
}
static int empty(const struct ent *e)
{
	static const uint8_t z[32];
	return !memcmp(e->id, z, 32);
}
static void ins(struct shard *s, const struct ent *e)
{
	for (uint32_t i = h64(e->id) % s->cap;; i = (i + 1) % s->cap)
		if (empty(&s->s[i])) {
			s->s[i] = *e;
			return;
		}
}
static int put(const struct ent *e)
{
	struct shard *s = &sh[(e->id[0] << 4 | e->id[1] >> 4) & (SH - 1)];
	if ((uint64_t)(s->n + 1) * 8 > (uint64_t)s->cap * 7) {
		uint32_t nc = s->cap ? s->cap + s->cap / 2 + 1 : 16;
		struct ent *o = s->s;
		uint32_t oc = s->cap;
		s->s = calloc(nc, sizeof(*o));
		if (!s->s)
			return -1;
		s->cap = nc;
		for (uint32_t i = 0; i < oc; i++)
			if (!empty(&o[i]))
				ins(s, &o[i]);
		free(o);
	}
	ins(s, e);
	s->n++;
	return 0;
}
static struct ent *find(const uint8_t *id)
{
	struct shard *s = &sh[(id[0] << 4 | id[1] >> 4) & (SH - 1)];
	if (!s->cap)
		return NULL;
	for (uint32_t i = h64(id) % s->cap;; i = (i + 1) % s->cap) {
		if (empty(&s->s[i]))
			return NULL;
		if (!memcmp(s->s[i].id, id, 32))
			return &s->s[i];
	}
}
int main(int argc, char **argv)
{
	size_t n = atol(argv[1]);
	long r0 = rss();
	size_t tab = 0;
	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct ent e = { 0 };
		randombytes_buf(e.id, 32);
		e.pack = 1;
		if (put(&e) < 0)
			return 1;
	}
	for (int i = 0; i < SH; i++)
		tab += sh[i].cap * sizeof(struct ent);
	printf("proposed shards: %zu entries: peak RSS +%ld KiB (%.0f B/entry), tables %zu KiB\n",
	       n, rss() - r0, (rss() - r0) * 1024.0 / n, tab / 1024);
	for (size_t i = 0; i < 1000; i++) {
		uint8_t id[32];
		randombytes_buf(id, 32);
		if (find(id))
			return 1;
	} /* misses terminate */
}
