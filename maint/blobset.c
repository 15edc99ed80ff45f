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

void repo_blobset_key(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES],
                      struct repo_blobkey *k)
{
	k->type = type;
	k->id = id;
	k->n_words = s->n_words;
	k->indexed = repo_blob_rank(s->ranks, type, id, &k->rank) == 0 && k->rank / 64 < s->n_words;
}

/* A key from a set of another size was taken over another index: look the id up again. */
static bool key_fits(const struct repo_blobset *s, const struct repo_blobkey *k)
{
	return k->n_words == s->n_words;
}

int repo_blobset_add_key(struct repo_blobset *s, const struct repo_blobkey *k)
{
	uint64_t bit;

	if (!key_fits(s, k))
		return repo_blobset_add(s, k->type, k->id);
	if (!k->indexed)
		return repo_idset_add(&s->spill[k->type != 0], k->id);
	bit = 1ull << (k->rank % 64);
	if (s->bits[k->rank / 64] & bit)
		return 0;
	s->bits[k->rank / 64] |= bit;
	s->n++;
	return 1;
}

bool repo_blobset_has_key(struct repo_blobset *s, const struct repo_blobkey *k)
{
	if (!key_fits(s, k))
		return repo_blobset_has(s, k->type, k->id);
	if (!k->indexed)
		return repo_idset_has(&s->spill[k->type != 0], k->id);
	return s->bits[k->rank / 64] >> (k->rank % 64) & 1;
}

int repo_blobset_add(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES])
{
	struct repo_blobkey k;

	repo_blobset_key(s, type, id, &k);
	return repo_blobset_add_key(s, &k);
}

bool repo_blobset_has(struct repo_blobset *s, unsigned type, const uint8_t id[ID_BYTES])
{
	struct repo_blobkey k;

	repo_blobset_key(s, type, id, &k);
	return repo_blobset_has_key(s, &k);
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
