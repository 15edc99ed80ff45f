/* Owns the names of a snapshot's roots: each path given to backup becomes one entry of
 * the snapshot's root folder, named by its last component ("root" for "/"). Two paths
 * with the same last component get "-2", "-3" ..., and a suffixed name never lands on a
 * name another path holds: a/data, b/data and c/data-2 are data, data-2 and data-2-2.
 * Restore and the mount keep the first of two equal root names (a forged snapshot may
 * repeat one), so a repeat here would cost the second path its restore. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ckd.h"

_Static_assert(BK_NAME_MAX == NAME_MAX, "a root name is one file name");
#include "util/banned.h"

static uint64_t root_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: names come from our own command line */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* Slot of name in the table (cap a power of two, slots hold index + 1, 0 empty): where
 * it is, or the empty slot where it would go. */
static size_t name_slot(const size_t *slots, size_t cap, char (*names)[BK_NAME_MAX + 1],
                        const char *name)
{
	size_t i = (size_t)root_hash(name) & (cap - 1);

	while (slots[i] && strcmp(names[slots[i] - 1], name))
		i = (i + 1) & (cap - 1);
	return i;
}

/* The last component of path, as backup has always named a root. */
static void last_component(const char *path, char out[NAME_MAX + 1])
{
	char tmp[PATH_MAX];
	const char *base;

	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	if (!strcmp(base, "/") || !base[0])
		base = "root";
	snprintf(out, NAME_MAX + 1, "%s", base);
}

int bk_root_names(char *const *paths, size_t n, char (**ret)[BK_NAME_MAX + 1], struct err *e)
{
	char(*names)[BK_NAME_MAX + 1] = NULL;
	size_t *slots = NULL, cap = 16, bytes;
	int rc = 0;

	*ret = NULL;
	while (cap < 2 * n)
		cap *= 2;
	if (ckd_mul(&bytes, n ? n : 1, sizeof(*names)))
		return err_set(e, -ENOMEM, "out of memory");
	names = malloc(bytes);
	slots = calloc(cap, sizeof(*slots));
	if (!names || !slots) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char base[NAME_MAX + 1];
		size_t at;

		last_component(paths[i], base);
		snprintf(names[i], sizeof(names[i]), "%s", base);
		at = name_slot(slots, cap, names, names[i]);
		/* Each try takes one more suffix; at most n names are taken, so one of the
		 * first n + 1 suffixes is free. */
		for (size_t k = 2; slots[at]; k++) {
			char suffix[24];
			int len = snprintf(suffix, sizeof(suffix), "-%zu", k);

			/* Cut the base, not the suffix, where the two pass NAME_MAX. */
			snprintf(names[i], sizeof(names[i]), "%.*s%s", NAME_MAX - len, base,
			         suffix);
			at = name_slot(slots, cap, names, names[i]);
		}
		slots[at] = i + 1;
	}
	*ret = names;
	names = NULL;
fail:
	free(names);
	free(slots);
	return rc;
}
