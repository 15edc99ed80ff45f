/* Blobs indexed in more than one place (repo/idx_dup.c, repo/index_dup.c) and hostile index
 * files: the side table stays empty for blobs indexed once; a blob listed twice in one
 * index file with different lengths, or past its pack's end, reads back from the copy
 * that is whole in either load order; absurd counts are refused; a blob indexed under the
 * other type is not found as its own and does not parse as a tree; an entry shorter than
 * any sealed blob is refused without a read. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/admin.h"
#include "repo/repo-internal.h"
#include "tests/tap.h"

static void entry(struct idx_entry *e, uint8_t tag, uint32_t pack, uint32_t off)
{
	memset(e, 0, sizeof(*e));
	memset(e->id, tag, ID_BYTES);
	e->pack = pack;
	e->offset = off;
	e->stored_len = 100;
	e->raw_len = 60;
}

static int count_one(void *ud, const struct idx_entry *e)
{
	(void)e;
	++*(size_t *)ud;
	return 0;
}

static void test_table(void)
{
	struct idx x = { 0 }, y = { 0 }, z = { 0 };
	struct idx_entry a, b, c[4], pend;
	size_t n = 0;
	bool same = true;

	entry(&a, 7, 1, 0);
	entry(&b, 7, 2, 500);
	ok(idx_put_copy(&x, &a) == 0 && idx_put_copy(&x, &a) == 0 && !x.dups && !x.n_dups,
	   "the same place twice is no duplicate: the side table stays unallocated");
	ok(idx_put_copy(&x, &b) == 0 && idx_find(&x, 0, a.id, &c[0]) && c[0].pack == 2,
	   "a second place: the copy put last is found");
	ok(idx_put_copy(&x, &a) == 0 && idx_dup_copies(&x, 0, a.id, c, 4) == 2,
	   "the first place again (overlapping index files): still two copies");
	ok(idx_dup_foreach(&x, count_one, &n) == 0 && n == 1,
	   "foreach of the copies gives the one lookups do not find");
	is_int(idx_dup_copies(&x, 1, a.id, c, 4), 0, "the other type has no copies");
	entry(&pend, 9, IDX_PENDING, 0);
	ok(idx_put(&x, &pend) == 0, "a pending claim");
	entry(&a, 9, 3, 0);
	ok(idx_put_copy(&x, &a) == 0 && idx_dup_copies(&x, 0, a.id, c, 4) == 0,
	   "a claimed blob's upload is no duplicate");
	/* Common case: the same puts through idx_put and idx_put_copy cost the same. */
	for (uint32_t i = 0; i < 20000; i++) {
		struct idx_entry e;

		entry(&e, 0, i % 50, i * 100);
		randombytes_buf(e.id, ID_BYTES);
		e.id[0] |= 1;
		same = same && idx_put_copy(&z, &e) == 0 && idx_put(&y, &e) == 0;
	}
	ok(same && !z.dups && idx_table_bytes(&z) == idx_table_bytes(&y),
	   "20 000 blobs indexed once add nothing to the side table (%zu vs %zu bytes)",
	   idx_table_bytes(&z), idx_table_bytes(&y));
	idx_release(&x);
	idx_release(&y);
	idx_release(&z);
	ok(!x.dups && !x.n_dups, "release frees the side table");
}

static struct repo *reopen(const char *dir, struct err *e)
{
	struct repo_open_params o = { .url = dir, .password = "pw", .password_len = 2 };
	struct repo *r = NULL;

	err_clear(e);
	return repo_open(&o, &r, e) == 0 ? r : NULL;
}

static void clear_index(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/index/*", dir);
	if (system(cmd) != 0)
		tap_diag("rm failed");
}

/* One index file: pack, then the blobs as given, in order. */
static int forge(struct repo *r, const uint8_t pack[ID_BYTES], const struct repo_ix_blob *b,
                 size_t n)
{
	struct repo_ixw *w = NULL;
	struct err e = ERR_INIT;
	int rc = repo_ixw_new(r, NULL, 0, &w);

	if (rc >= 0)
		rc = repo_ixw_pack(w, pack, n, &e);
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = repo_ixw_blob(w, &b[i], &e);
	if (rc >= 0)
		rc = repo_ixw_finish(w, NULL, &e);
	repo_ixw_free(w);
	return rc;
}

/* Reads blob id as data in a fresh handle: 0 when the bytes are want's. */
static int read_back(const char *dir, const uint8_t id[ID_BYTES], const uint8_t *want, size_t n,
                     enum blob_type t)
{
	struct err e = ERR_INIT;
	struct repo *r = reopen(dir, &e);
	struct buf out = BUF_INIT;
	int rc;

	if (!r)
		return -EIO;
	buf_init(&out, REPO_BLOB_MAX);
	rc = repo_blob_get(r, t, id, &out, &e);
	if (rc == 0 && (out.len != n || memcmp(out.p, want, n)))
		rc = -EILSEQ;
	if (rc < 0 && rc != -ENOENT)
		tap_diag("read: %s", e.msg);
	buf_release(&out);
	repo_free(r);
	return rc;
}

static void both_orders(const char *dir, const uint8_t id[ID_BYTES], const uint8_t *data, size_t n,
                        const char *what)
{
	unsetenv("CAIRN_TEST_INDEX_ORDER");
	is_int(read_back(dir, id, data, n, BLOB_DATA), 0, "%s: reads back (listing order)", what);
	setenv("CAIRN_TEST_INDEX_ORDER", "reverse", 1);
	is_int(read_back(dir, id, data, n, BLOB_DATA), 0, "%s: reads back (reverse order)", what);
	unsetenv("CAIRN_TEST_INDEX_ORDER");
}

/* A sealed index object of arbitrary plaintext. */
static int put_raw(struct repo *r, const uint8_t *p, size_t n)
{
	struct err e = ERR_INIT;

	return obj_seal_put(r, OBJ_INDEX, KEY_DOMAIN_INDEX, p, n, NULL, &e);
}

static int load_fresh(const char *dir)
{
	struct err e = ERR_INIT;
	struct repo *r = reopen(dir, &e);
	int rc = r ? repo_index_load(r, &e) : -EIO;

	repo_free(r);
	return rc;
}

static void test_counts(struct repo *r, const char *dir, const uint8_t pack[ID_BYTES])
{
	/* magic, 0 supersedes, n_packs = 2^62 with nothing after */
	uint8_t huge[] = { 0x49, 0x44, 0x58, 0x31, 0x00, 0x80, 0x80,
		           0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40 };
	uint8_t many[4 + 1 + 1 + ID_BYTES + 4] = { 0x49, 0x44, 0x58, 0x31, 0x00, 0x01 };
	uint8_t sup[] = { 0x49, 0x44, 0x58, 0x31, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00 };

	clear_index(dir);
	ok(put_raw(r, huge, sizeof(huge)) == 0 && load_fresh(dir) == -EBADMSG,
	   "2^62 packs in a 14-byte index file: malformed");
	clear_index(dir);
	memcpy(many + 6, pack, ID_BYTES);
	/* varint 2^20 + 1 blobs in the pack */
	many[6 + ID_BYTES] = 0x81, many[7 + ID_BYTES] = 0x80, many[8 + ID_BYTES] = 0x40;
	ok(put_raw(r, many, sizeof(many) - 1) == 0 && load_fresh(dir) == -EBADMSG,
	   "a pack of more blobs than a pack holds: malformed");
	clear_index(dir);
	ok(put_raw(r, sup, sizeof(sup)) == 0 && load_fresh(dir) == -EBADMSG,
	   "4 billion supersedes in 10 bytes: malformed");
	clear_index(dir);
}

static void test_hostile(const char *dir)
{
	static uint8_t data[5000];
	struct repo_create_params cp;
	struct repo_open_params o = { .url = dir, .password = "pw", .password_len = 2 };
	struct repo_ix_blob b[2];
	struct blob_loc loc;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	uint8_t id[ID_BYTES];
	struct buf out = BUF_INIT;
	struct tree_rd rd;
	char pack[ID_HEX], path[256];
	uint64_t size = 0;
	FILE *f;

	randombytes_buf(data, sizeof(data));
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
	if (!r)
		return;
	ok(repo_blob_save(r, BLOB_DATA, data, sizeof(data), id, &e) > 0 && repo_flush(r, &e) == 0 &&
	       repo_blob_lookup(r, BLOB_DATA, id, &loc) == 0,
	   "a blob stored: %s", e.msg);
	hex_encode(loc.pack, ID_BYTES, pack);
	snprintf(path, sizeof(path), "%s/data/%.2s/%s", dir, pack, pack);
	f = fopen(path, "rb");
	if (f && fseek(f, 0, SEEK_END) == 0)
		size = (uint64_t)ftell(f);
	if (f)
		fclose(f);
	memset(b, 0, sizeof(b));
	memcpy(b[0].id, id, ID_BYTES);
	b[0].type = BLOB_DATA;
	b[0].compressed = loc.compressed;
	b[0].offset = loc.offset;
	b[0].stored_len = loc.stored_len;
	b[0].raw_len = loc.raw_len;
	b[1] = b[0];

	/* One index file naming the blob twice in its pack, one length wrong. */
	b[1].stored_len = loc.stored_len - 1;
	clear_index(dir);
	ok(forge(r, loc.pack, b, 2) == 0, "forge: right length, then a wrong one");
	both_orders(dir, id, data, sizeof(data), "the wrong length read last");
	clear_index(dir);
	b[1] = b[0];
	b[0].stored_len = loc.stored_len - 1;
	ok(forge(r, loc.pack, b, 2) == 0, "forge: wrong length, then the right one");
	both_orders(dir, id, data, sizeof(data), "the wrong length read first");

	/* Past the pack's end: alone it fails cleanly; beside a whole copy it loses. */
	b[0] = b[1];
	b[0].offset = (uint32_t)size + 100;
	clear_index(dir);
	ok(forge(r, loc.pack, b, 1) == 0, "forge: the blob past its pack's end");
	is_int(read_back(dir, id, data, sizeof(data), BLOB_DATA), -EBADMSG,
	       "alone, it fails as damage (-EBADMSG), nothing read past the end");
	ok(forge(r, loc.pack, b + 1, 1) == 0, "a second index file with the whole copy");
	both_orders(dir, id, data, sizeof(data), "past the end beside a whole copy");

	/* Indexed only under the other type. */
	clear_index(dir);
	b[1].type = BLOB_TREE;
	ok(forge(r, loc.pack, b + 1, 1) == 0, "forge: the data blob indexed as a tree");
	is_int(read_back(dir, id, data, sizeof(data), BLOB_DATA), -ENOENT,
	       "it is not found as data");
	buf_init(&out, REPO_BLOB_MAX);
	repo_free(r);
	r = reopen(dir, &e);
	ok(r && repo_blob_get(r, BLOB_TREE, id, &out, &e) == 0 &&
	       (tree_rd_init(&rd, out.p, out.len) == -EBADMSG ||
	        tree_rd_next(&rd, &(struct node){ 0 }) == -EBADMSG),
	   "read as a tree, its bytes do not parse as one");
	buf_release(&out);

	/* Shorter than any sealed blob: refused before any read (0 would read to the end). */
	clear_index(dir);
	b[1].type = BLOB_DATA;
	b[1].stored_len = 0;
	ok(r && forge(r, loc.pack, b + 1, 1) == 0, "forge: a stored length of 0");
	is_int(read_back(dir, id, data, sizeof(data), BLOB_DATA), -EBADMSG,
	       "it is damage (-EBADMSG)");
	if (r)
		test_counts(r, dir, loc.pack);
	repo_free(r);
}

int main(void)
{
	char dir[] = "/tmp/cairn-test-idxdup-XXXXXX", cmd[96];

	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	test_table();
	test_hostile(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "clean up");
	return tap_done();
}
