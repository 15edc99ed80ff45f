/* Internals shared by treecmp's files: the comparison context, difference reporting and
 * the per-entry checks. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/attr.h"
#include "util/buf.h"
#include "util/err.h"

#define TC_BLOCK (1u << 20)

struct tc_opts {
	bool no_atime, no_owner, no_xattr, ignore_root_times;
};

/* One side-by-side record per multiply-linked non-directory, to compare link groups. */
struct tc_link {
	dev_t ad, bd;
	ino_t ai, bi;
	char *path;
};

struct tc {
	struct tc_opts o;
	struct buf path; /* relative path of the current entry, NUL-terminated */
	uint64_t entries, diffs, sparse_files;
	struct tc_link *links;
	size_t n_links, cap_links;
	uint8_t *ba, *bb; /* TC_BLOCK each */
	struct err err;
	char err_path[512]; /* escaped path of the entry where an error stopped the walk */
};

/* Print "<escaped path>: <message>" and count a difference. */
void tc_diff(struct tc *t, const char *fmt, ...) _printf_(2, 3);
/* Compare one entry present on both sides (da/db: parent directory fds). Returns 1 when
 * both are directories of the same type to descend into, 0 otherwise, -errno on error. */
int tc_entry(struct tc *t, int da, int db, const char *name, const struct stat *sa,
             const struct stat *sb, bool is_root) _must_check_;
/* After the walk: report link groups that differ. */
void tc_links_check(struct tc *t);
