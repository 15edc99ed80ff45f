/* The names seen at the snapshot root (restore/rootnames.c): a repeat is told apart from a
 * new name, and the set stops at RS_ROOT_MAX_NAMES instead of growing with a forged root.
 * Also the mount's set of forged folders named (fuse/forged.c): each tree once, one
 * "full" answer, then silence. */
#include "fuse/snapfs-internal.h"
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "util/banned.h"

static void roots(void)
{
	struct rs_roots r = { 0 };
	char name[32];
	size_t bad = 0;
	int k;

	is_int(rs_roots_add(&r, "data", 4), 1, "a first name is new");
	is_int(rs_roots_add(&r, "data", 4), 0, "its repeat is seen");
	is_int(rs_roots_add(&r, "data-2", 6), 1, "data-2 is another name");
	is_int(rs_roots_add(&r, "dat", 3), 1, "a prefix is another name");
	for (unsigned i = 3; i < RS_ROOT_MAX_NAMES; i++) {
		int n = snprintf(name, sizeof(name), "n%u", i);

		bad += rs_roots_add(&r, name, (size_t)n) != 1;
	}
	is_int(bad, 0, "distinct names up to %u are each new", RS_ROOT_MAX_NAMES);
	is_int(rs_roots_add(&r, "n77", 3), 0, "a repeat is still seen when the set is full");
	k = rs_roots_add(&r, "one-more", 8);
	is_int(k, -EFBIG, "a name past %u is refused (-EFBIG), not remembered", RS_ROOT_MAX_NAMES);
	ok(r.cap <= 2 * (size_t)RS_ROOT_MAX_NAMES, "the table holds at most %zu slots (%zu)",
	   2 * (size_t)RS_ROOT_MAX_NAMES, r.cap);
	rs_roots_release(&r);
}

static void forged(void)
{
	struct forged *f = calloc(1, sizeof(*f));
	struct extent a = { .len = 1 }, b = { .len = 1 }, two[2];

	if (!f)
		return;
	memset(a.id, 1, ID_BYTES);
	memset(b.id, 2, ID_BYTES);
	two[0] = a;
	two[1] = b;
	forged_init(f);
	f->max = 2;
	is_int(forged_note(f, NULL, 0, &a, 1), FORGED_NEW, "a forged folder is named");
	is_int(forged_note(f, NULL, 0, &a, 1), FORGED_SEEN, "the same tree is not named again");
	is_int(forged_note(f, NULL, 0, two, 2), FORGED_NEW, "a tree of two segments is another folder");
	f->max = 4;
	is_int(forged_note(f, "x", 1, NULL, 0), FORGED_NEW, "a file without extents is named");
	is_int(forged_note(f, "y", 1, NULL, 0), FORGED_NEW, "another name is another file");
	is_int(forged_note(f, "x", 1, NULL, 0), FORGED_SEEN, "the same file is not named again");
	is_int(forged_note(f, NULL, 0, &b, 1), FORGED_FULL, "past the set's size: one 'full' answer");
	is_int(forged_note(f, NULL, 0, &b, 1), FORGED_SEEN, "then silence");
	is_int(forged_note(f, NULL, 0, &a, 1), FORGED_SEEN, "a folder named before stays named");
	free(f);
}

int main(void)
{
	roots();
	forged();
	return tap_done();
}
