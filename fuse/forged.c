/* Owns which forged folders and files the mount has named: a listing is rebuilt after each
 * eviction (or forget), a file is opened again and again, and a hostile repository could
 * have the log filled that way. Each is named once per mount; the set is fixed in size,
 * and once it is full one line says that further forged entries are not named. */
#include "fuse/snapfs-internal.h"

#include <string.h>
#include <sys/random.h>
/* For XXH3_state_t on the stack (its size is in the header, not the ABI of a call). */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "util/banned.h"

void forged_init(struct forged *f)
{
	memset(f, 0, sizeof(*f));
	f->max = FORGED_MAX;
	/* Not known to the repository's writer, so two trees cannot be made to meet. */
	if (getrandom(&f->seed, sizeof(f->seed), 0) != (ssize_t)sizeof(f->seed))
		f->seed = (uint64_t)(uintptr_t)f ^ 0x9e3779b97f4a7c15ull;
}

/* A folder's tree is its list of segments: the digest of their ids, in order. A file is
 * known by its name and size too (tag), so that two forged files without content differ. */
static XXH128_hash_t digest(const struct forged *f, const void *tag, size_t tag_len,
                            const struct extent *segs, size_t n)
{
	XXH3_state_t st;
	uint64_t len = tag_len;

	XXH3_128bits_reset_withSeed(&st, f->seed);
	XXH3_128bits_update(&st, &len, sizeof(len));
	if (tag_len)
		XXH3_128bits_update(&st, tag, tag_len);
	for (size_t i = 0; i < n; i++)
		XXH3_128bits_update(&st, segs[i].id, ID_BYTES);
	return XXH3_128bits_digest(&st);
}

enum forged_say forged_note(struct forged *f, const void *tag, size_t tag_len,
                            const struct extent *segs, size_t n)
{
	XXH128_hash_t d = digest(f, tag, tag_len, segs, n);

	for (size_t i = 0; i < f->n; i++)
		if (f->seen[i].lo == d.low64 && f->seen[i].hi == d.high64)
			return FORGED_SEEN;
	if (f->n < f->max) {
		f->seen[f->n].lo = d.low64;
		f->seen[f->n].hi = d.high64;
		f->n++;
		return FORGED_NEW;
	}
	if (f->full_said)
		return FORGED_SEEN;
	f->full_said = true;
	return FORGED_FULL;
}
