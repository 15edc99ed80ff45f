/* A pack we write is finished at PACK_WRITE_BLOBS blobs even far below pack_size
 * (repo/pack.c): the writer's list, the header and the index file that lists the pack stay
 * bounded for any number of tiny blobs. Each pack's header and its index entries agree.
 * Loading those index files leaves the in-memory index in exact packed arrays, at most 40
 * bytes an entry, and no table slack (index_file.c settles after each file). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/admin.h"
#include "repo/repo-internal.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define EXTRA 10u

struct packs {
	uint8_t id[4][ID_BYTES];
	uint64_t size[4];
	size_t n;
	size_t indexed; /* entries in the index files */
};

static int note_pack(void *ud, const char *name, uint64_t size)
{
	struct packs *p = ud;

	if (p->n < 4 && hex_decode(name, p->id[p->n], ID_BYTES) == 0)
		p->size[p->n] = size;
	p->n++;
	return 0;
}

static int count_entry(void *ud, const uint8_t *pack, const struct repo_ix_blob *b)
{
	struct packs *p = ud;

	(void)pack;
	(void)b;
	p->indexed++;
	return 0;
}

static int note_index(void *ud, const char *name, uint64_t size)
{
	struct repo *r = ((void **)ud)[0];
	struct packs *p = ((void **)ud)[1];
	struct err e = ERR_INIT;

	(void)size;
	return repo_index_walk(r, name, count_entry, p, &e);
}

/* Header count of pack i, or -1 when it does not open. */
static long hdr_count(struct repo *r, const struct packs *p, size_t i)
{
	struct repo_pack_hdr *h = NULL;
	struct err e = ERR_INIT;
	long n;

	if (repo_pack_hdr_open(r, p->id[i], p->size[i], &h, &e) < 0)
		return -1;
	n = (long)repo_pack_hdr_count(h);
	repo_pack_hdr_free(h);
	return n;
}

int main(void)
{
	uint8_t sealed[KEY_SEAL_OVERHEAD + 1] = { 0 };
	struct packs p = { .n = 0 };
	struct repo *r = NULL;
	struct err e = ERR_INIT;
	void *both[2];
	struct rfx rf;
	long a, b;
	int rc = 0;

	if (rfx_init(&rf, "packcut") < 0)
		return 1;
	if (!ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg))
		return tap_done();
	for (uint32_t i = 0; rc >= 0 && i < PACK_WRITE_BLOBS + EXTRA; i++) {
		struct repo_ix_blob x = { .type = BLOB_DATA,
			                  .stored_len = sizeof(sealed),
			                  .raw_len = 1 };

		/* Distinct ids, none all-zero; the bytes are never opened here. */
		memset(x.id, 0x5a, ID_BYTES);
		memcpy(x.id, &i, sizeof(i));
		rc = repo_blob_copy(r, &x, sealed, &e);
	}
	ok(rc == 0, "%u tiny blobs appended: %s", PACK_WRITE_BLOBS + EXTRA, e.msg);
	ok(repo_flush(r, &e) == 0, "flush: %s", e.msg);
	ok(backend_list(repo_backend(r), OBJ_DATA, note_pack, &p, &e) == 0, "list data/");
	ok(p.n == 2, "two packs (%zu): one is finished at %u blobs, far below pack_size", p.n,
	   PACK_WRITE_BLOBS);
	a = p.n == 2 ? hdr_count(r, &p, 0) : -1;
	b = p.n == 2 ? hdr_count(r, &p, 1) : -1;
	ok((a == PACK_WRITE_BLOBS && b == EXTRA) || (b == PACK_WRITE_BLOBS && a == EXTRA),
	   "headers hold %u and %u blobs (%ld, %ld)", PACK_WRITE_BLOBS, EXTRA, a, b);
	both[0] = r;
	both[1] = &p;
	ok(backend_list(repo_backend(r), OBJ_INDEX, note_index, both, &e) == 0, "walk index/");
	ok(p.indexed == PACK_WRITE_BLOBS + EXTRA, "every blob indexed once (%zu)", p.indexed);
	repo_free(r);
	r = NULL;
	ok(repo_open(&rf.o, &r, &e) == 0 && repo_index_load(r, &e) == 0, "reopen, load: %s", e.msg);
	if (r) {
		/* Packed records of small blobs in two packs: at most 40 bytes each. */
		size_t want = IDX_SHARDS * sizeof(struct idx_shard) + r->idx.n * 40;

		ok(r->idx.n == PACK_WRITE_BLOBS + EXTRA && idx_table_bytes(&r->idx) <= want,
		   "loaded index: %zu entries in %zu bytes (at most %zu)", r->idx.n,
		   idx_table_bytes(&r->idx), want);
		bool all = true;

		for (uint32_t i = 0; i < PACK_WRITE_BLOBS + EXTRA; i++) {
			uint8_t id[ID_BYTES];

			memset(id, 0x5a, ID_BYTES);
			memcpy(id, &i, sizeof(i));
			all = all && idx_find(&r->idx, BLOB_DATA, id, NULL);
		}
		ok(all, "every entry found after the load");
	}
	repo_free(r);
	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
