/* Owns the set of blobs that check and prune mark: one bit per blob of the loaded index
 * (a million blobs cost 128 KiB rather than a hash table of their ids), and an exact id
 * set per type for the few ids the index does not hold (a snapshot's missing blobs). */
#include "maint/maint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

int repo_blobset_init(struct repo_blobset *s, struct repo *r)
{
	uint64_t words;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = repo_blob_ranks_new(r, &s->ranks);
	if (rc < 0)
		return rc;
	words = repo_blob_ranks_total(s->ranks) / 64 + 1;
	if (words > SIZE_MAX / sizeof(*s->bits) ||
	    !(s->bits = calloc((size_t)words, sizeof(*s->bits)))) {
		repo_blobset_release(s);
		return -ENOMEM;
	}
	s->n_words = (size_t)words;
	return 0;
}

int repo_blobset_add(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES])
{
	uint64_t k, bit;

	if (repo_blob_rank(s->ranks, type, id, &k) < 0)
		return repo_idset_add(&s->spill[type != 0], id);
	if (k / 64 >= s->n_words) /* cannot happen: the prefix sum bounds k */
		return repo_idset_add(&s->spill[type != 0], id);
	bit = 1ull << (k % 64);
	if (s->bits[k / 64] & bit)
		return 0;
	s->bits[k / 64] |= bit;
	s->n++;
	return 1;
}

bool repo_blobset_has(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES])
{
	uint64_t k;

	if (repo_blob_rank(s->ranks, type, id, &k) < 0 || k / 64 >= s->n_words)
		return repo_idset_has(&s->spill[type != 0], id);
	return s->bits[k / 64] >> (k % 64) & 1;
}

size_t repo_blobset_bytes(const struct repo_blobset *s)
{
	return s->n_words * sizeof(*s->bits) + (s->ranks ? repo_blob_ranks_bytes() : 0) +
	       repo_idset_bytes(&s->spill[0]) + repo_idset_bytes(&s->spill[1]);
}

void repo_blobset_release(struct repo_blobset *s)
{
	repo_blob_ranks_free(s->ranks);
	free(s->bits);
	repo_idset_release(&s->spill[0]);
	repo_idset_release(&s->spill[1]);
	memset(s, 0, sizeof(*s));
}
