/* Internals shared by mktree's files: the list of created entries whose owner, mode and
 * times are applied in one last pass, and the content writers. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "tests/tools/tt.h"
#include "util/attr.h"
#include "util/err.h"

#define MK_MODE_KEEP ((mode_t)-1) /* leave the mode the kernel gave (ACL'd entries) */
#define MK_MIB       (UINT64_C(1) << 20)

enum mk_content { MK_RANDOM, MK_REPEAT, MK_TEXT, MK_ZERO };

struct mk_ent {
	char *path;
	mode_t mode;
	bool is_link;
	bool has_owner;
	uid_t uid;
	gid_t gid;
	bool fixed_time; /* use ts instead of a seeded time */
	struct timespec ts[2];
};

struct mk {
	struct tt_rng rng;
	struct mk_ent *ents;
	size_t n_ents, cap_ents;
	bool root;
	uint64_t files, big_mib;
	uint8_t *blk; /* MK_MIB scratch */
	struct err err;
};

/* Record an entry for the last pass; returns the entry (valid until the next add). */
int mk_add(struct mk *m, const char *path, mode_t mode, struct mk_ent **ret) _must_check_;
int mk_dir(struct mk *m, const char *path, mode_t mode) _must_check_;
int mk_file(struct mk *m, const char *path, mode_t mode, enum mk_content c,
            uint64_t size) _must_check_;
int mk_symlink(struct mk *m, const char *target, const char *path) _must_check_;
int mk_owned(struct mk *m, const char *path, uid_t uid, gid_t gid) _must_check_;
int mk_xattr(struct mk *m, const char *path, const char *name, const void *v,
             size_t n) _must_check_;
/* Write size bytes of kind c to an open fd, from the current offset. */
int mk_fill_fd(struct mk *m, int fd, enum mk_content c, uint64_t size) _must_check_;
/* The kinds (mktree-kinds.c), each in its own top-level folder. */
int mk_kinds(struct mk *m) _must_check_;
