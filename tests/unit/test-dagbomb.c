/* Shared subtrees in stats and diff (maint/stats.c, maint/diff.c): a forged "tree bomb" of
 * 40 levels, each folder holding a and b that point at the same folder below (80 tree
 * blobs, 2^40 paths), is counted exactly by stats and compared at once by diff, because
 * each distinct tree is read once (stats) and equal subtrees are skipped (diff). Before
 * the fix both walked every path and never ended: the alarm below fails the test then.
 * Also the order diff reports paths in: full paths in byte order ("foo", "foo.bak",
 * "foo/x"), as before.
 *
 * test-dagbomb --write REPO (CAIRN_PASSWORD): write the bomb snapshots into REPO and print
 * their ids (bomb, bomb with one leaf changed), for tests/e2e/dagbomb.sh. */
#include "maint/maint.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"
#include "util/banned.h"
#include "util/hex.h"

#define LEVELS 40

static void base(struct node *n, enum node_type t, const char *name)
{
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->mode = t == NODE_DIR ? S_IFDIR | 0755 : S_IFREG | 0644;
	n->mtime_sec = n->atime_sec = n->ctime_sec = 1700000000;
	n->nlink = 1;
	n->name = strdup(name);
	n->name_len = strlen(name);
}

/* One segment of the nodes k[0..n): its id. Takes the nodes. */
static int seg(struct repo *r, struct node *k, size_t n, uint8_t id[ID_BYTES], struct err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_init(&b, 1u << 20);
	rc = tree_encode_header(&b);
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = tree_encode_node(&b, &k[i]);
	if (rc >= 0)
		rc = (int)repo_blob_save(r, BLOB_TREE, b.p, b.len, id, e);
	for (size_t i = 0; i < n; i++)
		node_release(&k[i]);
	buf_release(&b);
	return rc < 0 ? rc : 0;
}

static void dir_to(struct node *n, const char *name, const uint8_t id[ID_BYTES], size_t len)
{
	base(n, NODE_DIR, name);
	n->content = calloc(1, sizeof(*n->content));
	if (!n->content)
		abort();
	n->n_content = 1;
	n->content[0].len = len;
	memcpy(n->content[0].id, id, ID_BYTES);
}

/* A folder holding one file "leaf" of size bytes and content text; then levels-1 levels
 * of folders {a, b} both pointing at the level below (when alt is set, only b does: a
 * points at alt's level, so the two bombs differ along the a/a/.../a path only). The
 * root segment ids of each level go to ids[0..levels). */
static int bomb(struct repo *r, uint64_t size, const char *text, uint8_t (*alt)[ID_BYTES],
		uint8_t (*ids)[ID_BYTES], struct err *e)
{
	struct node k[2];
	int rc;

	base(&k[0], NODE_FILE, "leaf");
	k[0].size = size;
	k[0].content = calloc(1, sizeof(*k[0].content));
	if (!k[0].content)
		abort();
	k[0].n_content = 1;
	k[0].content[0].len = strlen(text);
	rc = (int)repo_blob_save(r, BLOB_DATA, text, strlen(text), k[0].content[0].id, e);
	if (rc < 0) {
		node_release(&k[0]);
		return rc;
	}
	rc = seg(r, k, 1, ids[0], e);
	for (int l = 1; rc >= 0 && l < LEVELS; l++) {
		dir_to(&k[0], "a", ids[l - 1], l == 1 ? 1 : 2);
		dir_to(&k[1], "b", alt ? alt[l - 1] : ids[l - 1], l == 1 ? 1 : 2);
		rc = seg(r, k, 2, ids[l], e);
	}
	return rc;
}

static void snap_of(struct snapshot *s, const uint8_t id[ID_BYTES], size_t len)
{
	memset(s, 0, sizeof(*s));
	s->tree = calloc(1, sizeof(*s->tree));
	if (!s->tree)
		abort();
	s->n_tree = 1;
	s->tree[0].len = len;
	memcpy(s->tree[0].id, id, ID_BYTES);
}

struct seen {
	uint64_t calls;
	char first[512];
	char kinds[64];
	char paths[64][64];
};

static void on_diff(void *ud, enum repo_diff_kind k, const char *path, enum node_type t)
{
	struct seen *s = ud;

	(void)t;
	if (s->calls < 64) {
		s->kinds[s->calls] = (char)k;
		snprintf(s->paths[s->calls], sizeof(s->paths[0]), "%s", path);
	}
	if (!s->calls)
		snprintf(s->first, sizeof(s->first), "%s", path);
	s->calls++;
}

static int write_mode(const char *url)
{
	const char *pw = getenv("CAIRN_PASSWORD");
	struct repo_open_params o = { .url = url };
	uint8_t ids[LEVELS][ID_BYTES], alt[LEVELS][ID_BYTES];
	struct snapshot sn[2];
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	char hex[ID_HEX];
	char *paths[] = { (char *)"/forged" };
	int rc;

	if (!pw || sodium_init() < 0)
		return 2;
	o.password = pw;
	o.password_len = strlen(pw);
	rc = repo_open(&o, &r, &e);
	if (rc >= 0)
		rc = repo_index_load(r, &e);
	if (rc >= 0)
		rc = bomb(r, 1, "x", NULL, ids, &e);
	if (rc >= 0)
		rc = bomb(r, 1, "y", ids, alt, &e);
	if (rc >= 0)
		rc = repo_flush(r, &e);
	snap_of(&sn[0], ids[LEVELS - 1], 2);
	snap_of(&sn[1], alt[LEVELS - 1], 2);
	/* Two separate variables are not an array: walking from one to the other with a
	 * pointer wrote past the first (ASan: stack-buffer-overflow). */
	for (size_t k = 0; rc >= 0 && k < 2; k++) {
		struct snapshot *s = &sn[k];

		s->hostname = strdup("forge");
		s->username = strdup("forge");
		s->program_version = strdup("forge");
		s->paths = paths;
		s->n_paths = 1;
		s->time_sec = 1700000000 + (int64_t)k;
		rc = repo_snapshot_save(r, s, &e);
		if (rc >= 0) {
			hex_encode(s->id, ID_BYTES, hex);
			printf("%s\n", hex);
		}
		s->paths = NULL;
		s->n_paths = 0;
	}
	if (rc < 0)
		fprintf(stderr, "test-dagbomb: %s\n", e.msg);
	snapshot_release(&sn[0]);
	snapshot_release(&sn[1]);
	repo_free(r);
	return rc < 0;
}

/* Root folder {a, b} to level 38 holds 2 folders, each 2 below, ... : 2^40 - 2 folders
 * and 2^39 files. */
static void bombs(struct repo *r)
{
	static uint8_t ids[LEVELS][ID_BYTES], alt[LEVELS][ID_BYTES], big[LEVELS][ID_BYTES];
	struct snapshot s1, s2, s3;
	struct repo_stats st = { 0 };
	struct repo_diff_result res = { 0 };
	struct seen seen = { 0 };
	struct err e = ERR_INIT;
	char want[512] = "";
	int rc;

	rc = bomb(r, 1, "x", NULL, ids, &e);
	if (rc >= 0)
		rc = bomb(r, 1, "y", ids, alt, &e);
	if (rc >= 0)
		rc = bomb(r, (uint64_t)1 << 40, "z", NULL, big, &e);
	if (rc >= 0)
		rc = repo_flush(r, &e);
	is_int(rc, 0, "three bombs written (%s)", e.msg);
	snap_of(&s1, ids[LEVELS - 1], 2);
	snap_of(&s2, alt[LEVELS - 1], 2);
	snap_of(&s3, big[LEVELS - 1], 2);

	rc = repo_stats_compute(r, REPO_STATS_RESTORE_SIZE, &s1, 1, &st, &e);
	is_int(rc, 0, "stats of a 2^40-path bomb ends (%s)", e.msg);
	is_int(st.files, (uint64_t)1 << 39, "it counts 2^39 files, as a full walk would");
	is_int(st.dirs, ((uint64_t)1 << 40) - 2, "and 2^40 - 2 folders");
	is_int(st.bytes, (uint64_t)1 << 39, "and 2^39 bytes");
	is_int(st.others, 0, "and nothing else");

	rc = repo_stats_compute(r, REPO_STATS_RESTORE_SIZE, &s3, 1, &st, &e);
	is_int(rc, 0, "stats of 2^39 files of 2^40 bytes ends");
	is_int(st.bytes, INT64_MAX, "its 2^79 bytes stop at INT64_MAX, not wrapped");

	{
		struct snapshot two[2] = { s1, s1 };

		rc = repo_stats_compute(r, REPO_STATS_RESTORE_SIZE, two, 2, &st, &e);
		is_int(rc, 0, "stats of the bomb twice ends");
		is_int(st.files, (uint64_t)1 << 40, "each snapshot counts in full: 2^40 files");
	}

	rc = repo_stats_compute(r, REPO_STATS_RAW_DATA, &s1, 1, &st, &e);
	is_int(rc, 0, "raw-data stats of the bomb ends");
	is_int(st.blobs, LEVELS + 1, "it counts %d tree blobs and 1 data blob", LEVELS);

	rc = repo_diff(r, &s1, &s1, on_diff, &seen, &res, &e);
	is_int(rc, 0, "diff of the bomb with itself ends");
	is_int(seen.calls + res.added + res.removed + res.modified, 0, "with no difference");

	memset(&seen, 0, sizeof(seen));
	rc = repo_diff(r, &s1, &s2, on_diff, &seen, &res, &e);
	is_int(rc, 0, "diff of two bombs differing in one leaf ends (%s)", e.msg);
	is_int(res.modified, 1, "one modified");
	is_int(res.added + res.removed, 0, "nothing added or removed");
	for (int l = 1; l < LEVELS; l++)
		memcpy(want + 2 * (l - 1), "/a", 2);
	memcpy(want + 2 * (LEVELS - 1), "/leaf", 6);
	is_str(seen.first, want, "the leaf at the end of a/a/.../a");
	ok(seen.kinds[0] == REPO_DIFF_MODIFIED, "reported as modified");

	snapshot_release(&s1);
	snapshot_release(&s2);
	snapshot_release(&s3);
}

/* Folders A and B, as a backup writes them: entries sorted by name bytes. */
static int tree_of(struct repo *r, int side, uint8_t id[ID_BYTES], size_t *len,
		   struct err *e)
{
	struct node k[8], in[2];
	uint8_t sub[ID_BYTES], sub2[ID_BYTES];
	size_t n = 0;
	int rc;

	/* foo/ holds x (and, on side 1, y) */
	base(&in[0], NODE_FILE, "x");
	base(&in[1], NODE_FILE, "y");
	rc = seg(r, in, side ? 2 : 1, sub, e);
	if (!side)
		node_release(&in[1]);
	base(&in[0], NODE_FILE, side ? "q" : "p");
	if (rc >= 0)
		rc = seg(r, in, 1, sub2, e);
	if (rc < 0)
		return rc;
	dir_to(&k[n++], "foo", sub, side ? 2 : 1);
	dir_to(&k[n++], "foo-2", sub2, 1);
	base(&k[n++], NODE_FILE, "foo.bak");
	k[n - 1].size = side ? 5 : 4;
	dir_to(&k[n++], "foo.d", sub2, 1);
	if (side) {
		base(&k[n++], NODE_FILE, "t");
	} else {
		dir_to(&k[n++], "t", sub, 1);
	}
	base(&k[n++], NODE_FILE, "zz");
	*len = n;
	return seg(r, k, n, id, e);
}

static void order(struct repo *r)
{
	static const char *want[] = {
		"-/foo-2/p", "+/foo-2/q", "M/foo.bak", "-/foo.d/p", "+/foo.d/q", "+/foo/y",
		"T/t", "-/t/x",
	};
	uint8_t ia[ID_BYTES], ib[ID_BYTES];
	size_t la = 0, lb = 0, nw = sizeof(want) / sizeof(*want);
	struct snapshot a, b;
	struct repo_diff_result res = { 0 };
	struct seen seen = { 0 };
	struct err e = ERR_INIT;
	char got[1024] = "", exp[1024] = "";
	int rc;

	rc = tree_of(r, 0, ia, &la, &e);
	if (rc >= 0)
		rc = tree_of(r, 1, ib, &lb, &e);
	if (rc >= 0)
		rc = repo_flush(r, &e);
	is_int(rc, 0, "two small trees written");
	snap_of(&a, ia, la);
	snap_of(&b, ib, lb);
	rc = repo_diff(r, &a, &b, on_diff, &seen, &res, &e);
	is_int(rc, 0, "diff of the small trees");
	for (size_t i = 0; i < seen.calls && i < 64; i++) {
		size_t k = strlen(got);

		snprintf(got + k, sizeof(got) - k, "%c%s ", seen.kinds[i], seen.paths[i]);
	}
	for (size_t i = 0; i < nw; i++) {
		size_t k = strlen(exp);

		snprintf(exp + k, sizeof(exp) - k, "%s ", want[i]);
	}
	is_str(got, exp, "changes in full-path byte order: foo-2/, foo.bak, foo.d/, foo/, t");
	is_int(res.added, 3, "3 added");
	is_int(res.removed, 3, "3 removed");
	is_int(res.modified, 2, "2 modified");
	snapshot_release(&a);
	snapshot_release(&b);
}

int main(int argc, char **argv)
{
	struct rfx f;
	struct repo *r = NULL;
	struct err e = ERR_INIT;

	if (argc == 3 && !strcmp(argv[1], "--write"))
		return write_mode(argv[2]);
	/* A walk of every path (the old code) never ends: fail instead of hanging. */
	alarm(120);
	if (rfx_init(&f, "dagbomb") < 0 || rfx_create(&f, &r, &e) < 0) {
		printf("Bail out! repository: %s\n", e.msg);
		return 1;
	}
	bombs(r);
	order(r);
	repo_free(r);
	rfx_cleanup(&f);
	return tap_done();
}
