/* The pack header iterator (repo/packhdr.c, repo_pack_hdr_*): a sound header walks entry by
 * entry with offsets computed; hostile ones (truncated, a count that overflows, a blob past
 * the pack's end, a forged seal) are -EBADMSG at open, never a crash or an over-read (the
 * sanitizer build runs this too). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/admin.h"
#include "repo/repo-internal.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define DATA_LEN 1000u

static struct repo *r;

/* A pack of DATA_LEN bytes of blob area, the header plaintext hdr sealed after it and its
 * length; stored as data/<id>. Returns the pack's size. seal_len != 0 overrides the
 * trailing length field; cut drops that many bytes from the end of the object. */
static uint64_t put_pack(const uint8_t id[ID_BYTES], const struct buf *hdr, uint32_t seal_len,
                         size_t cut)
{
	size_t sn = hdr->len + KEY_SEAL_OVERHEAD, total = DATA_LEN + sn + 4;
	uint32_t lf = seal_len ? seal_len : (uint32_t)sn;
	uint8_t *p = calloc(1, total);
	struct err e = ERR_INIT;
	char name[ID_HEX];

	if (!p || key_seal(repo_key(r), KEY_DOMAIN_PACK_HEADER, hdr->p, hdr->len, p + DATA_LEN) < 0)
		abort();
	for (int i = 0; i < 4; i++)
		p[DATA_LEN + sn + (size_t)i] = (uint8_t)(lf >> (8 * i));
	hex_encode(id, ID_BYTES, name);
	if (backend_put(repo_backend(r), OBJ_DATA, name, p, total - cut, &e) < 0)
		abort();
	free(p);
	return total - cut;
}

/* Header plaintext: magic, count, then entries (type, flags, id, stored, raw). */
static void hdr_start(struct buf *b, uint64_t count)
{
	buf_reset(b);
	if (buf_put_le32(b, PACK_HEADER_MAGIC) < 0 || buf_put_varint(b, count) < 0)
		abort();
}

static void hdr_entry(struct buf *b, uint8_t type, uint8_t fill, uint64_t stored, uint64_t raw)
{
	uint8_t id[ID_BYTES];

	memset(id, fill, sizeof(id));
	if (buf_put_u8(b, type) < 0 || buf_put_u8(b, 1) < 0 || buf_append(b, id, ID_BYTES) < 0 ||
	    buf_put_varint(b, stored) < 0 || buf_put_varint(b, raw) < 0)
		abort();
}

static int open_rc(const uint8_t id[ID_BYTES], uint64_t size)
{
	struct repo_pack_hdr *h = NULL;
	struct err e = ERR_INIT;
	int rc = repo_pack_hdr_open(r, id, size, &h, &e);

	if (rc >= 0 && !h)
		rc = -EFAULT;
	repo_pack_hdr_free(h);
	return rc;
}

static void test_sound(struct buf *b)
{
	uint8_t id[ID_BYTES] = { 1 };
	struct repo_pack_hdr *h = NULL;
	struct repo_ix_blob x;
	struct err e = ERR_INIT;
	uint64_t size;
	int rc;

	hdr_start(b, 3);
	hdr_entry(b, BLOB_DATA, 0xa1, 100, 80);
	hdr_entry(b, BLOB_TREE, 0xa2, 300, 1000);
	hdr_entry(b, BLOB_DATA, 0xa3, DATA_LEN - 400, 5); /* ends exactly at the header */
	size = put_pack(id, b, 0, 0);
	ok(repo_pack_hdr_open(r, id, size, &h, &e) == 0, "sound header opens: %s", e.msg);
	if (!h)
		return;
	is_int(repo_pack_hdr_count(h), 3, "three entries");
	rc = repo_pack_hdr_next(h, &x);
	ok(rc == 1 && x.offset == 0 && x.stored_len == 100 && x.raw_len == 80 &&
	       x.type == BLOB_DATA && x.compressed == 1 && x.id[0] == 0xa1,
	   "first entry");
	rc = repo_pack_hdr_next(h, &x);
	ok(rc == 1 && x.offset == 100 && x.stored_len == 300 && x.type == BLOB_TREE &&
	       x.id[31] == 0xa2,
	   "second entry at offset 100");
	rc = repo_pack_hdr_next(h, &x);
	ok(rc == 1 && x.offset == 400 && x.stored_len == DATA_LEN - 400, "third entry at 400");
	is_int(repo_pack_hdr_next(h, &x), 0, "then the end");
	is_int(repo_pack_hdr_next(h, &x), 0, "and the end again");
	repo_pack_hdr_rewind(h);
	ok(repo_pack_hdr_next(h, &x) == 1 && x.offset == 0 && x.id[0] == 0xa1,
	   "rewind starts over");
	repo_pack_hdr_free(h);

	hdr_start(b, 0);
	size = put_pack(id, b, 0, 0);
	ok(repo_pack_hdr_open(r, id, size, &h, &e) == 0 && repo_pack_hdr_count(h) == 0 &&
	       repo_pack_hdr_next(h, &x) == 0,
	   "an empty header opens and ends at once");
	repo_pack_hdr_free(h);
}

static void test_truncated(struct buf *b)
{
	uint8_t id[ID_BYTES] = { 2 };
	uint64_t size;

	hdr_start(b, 2);
	hdr_entry(b, BLOB_DATA, 0xb1, 100, 100);
	hdr_entry(b, BLOB_DATA, 0xb2, 100, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, 10), -EBADMSG, "a pack shorter than a seal and its length");
	is_int(open_rc(id, size + 100), -EBADMSG, "listed larger than stored: no sane length");
	size = put_pack(id, b, 0, 3);
	is_int(open_rc(id, size), -EBADMSG, "last bytes cut off: the length field is garbage");
	size = put_pack(id, b, (uint32_t)(size + 1), 0);
	is_int(open_rc(id, size), -EBADMSG, "header length past the start of the pack");
	size = put_pack(id, b, KEY_SEAL_OVERHEAD - 1, 0);
	is_int(open_rc(id, size), -EBADMSG, "header length shorter than a seal");
	size = put_pack(id, b, PACK_HEADER_MAX + KEY_SEAL_OVERHEAD + 1, 0);
	is_int(open_rc(id, size), -EBADMSG, "header length over the format's limit");
	b->len -= 20; /* the second entry stops inside its id */
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "an entry cut short inside the sealed header");
	b->len = 3;
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "a header cut short inside its magic");
}

static void test_counts(struct buf *b)
{
	uint8_t id[ID_BYTES] = { 3 };
	uint64_t size;

	hdr_start(b, UINT64_MAX);
	hdr_entry(b, BLOB_DATA, 0xc1, 100, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "count 2^64-1 (a multiply would overflow)");
	hdr_start(b, (UINT64_C(1) << 62) + 1);
	hdr_entry(b, BLOB_DATA, 0xc1, 100, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "count 2^62+1 (times 4 wraps to 4)");
	hdr_start(b, PACK_MAX_BLOBS + 1);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "count over the format's limit");
	hdr_start(b, 3);
	hdr_entry(b, BLOB_DATA, 0xc1, 100, 100);
	hdr_entry(b, BLOB_DATA, 0xc2, 100, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "count one more than the entries");
	buf_reset(b);
	if (buf_put_le32(b, PACK_HEADER_MAGIC) < 0 || buf_append(b, "\xff\xff\xff", 3) < 0)
		abort();
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "count varint that never ends");
}

static void test_lengths(struct buf *b)
{
	uint8_t id[ID_BYTES] = { 4 };
	uint64_t size;

	hdr_start(b, 2);
	hdr_entry(b, BLOB_DATA, 0xd1, 600, 100);
	hdr_entry(b, BLOB_DATA, 0xd2, 401, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "second blob ends one byte into the header");
	hdr_start(b, 1);
	hdr_entry(b, BLOB_DATA, 0xd1, UINT64_C(1) << 32, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "stored length over 32 bits");
	hdr_start(b, 3);
	hdr_entry(b, BLOB_DATA, 0xd1, UINT32_MAX, 100);
	hdr_entry(b, BLOB_DATA, 0xd2, UINT32_MAX, 100);
	hdr_entry(b, BLOB_DATA, 0xd3, 2, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "lengths whose 32-bit sum wraps to 0");
	hdr_start(b, 1);
	hdr_entry(b, BLOB_DATA, 0xd1, KEY_SEAL_OVERHEAD - 1, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "stored length shorter than a seal");
	hdr_start(b, 1);
	hdr_entry(b, BLOB_DATA, 0xd1, 100, (uint64_t)REPO_BLOB_MAX + 1);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "raw length over the blob limit");
	hdr_start(b, 1);
	hdr_entry(b, _BLOB_TYPE_MAX, 0xd1, 100, 100);
	size = put_pack(id, b, 0, 0);
	is_int(open_rc(id, size), -EBADMSG, "unknown blob type");
}

static void test_seal(struct buf *b)
{
	uint8_t id[ID_BYTES] = { 5 }, gone[ID_BYTES] = { 6 };
	struct err e = ERR_INIT;
	struct buf raw = BUF_INIT;
	char name[ID_HEX];
	uint64_t size;

	hdr_start(b, 1);
	hdr_entry(b, BLOB_DATA, 0xe1, 100, 100);
	size = put_pack(id, b, 0, 0);
	hex_encode(id, ID_BYTES, name);
	buf_init(&raw, (size_t)size);
	if (backend_get(repo_backend(r), OBJ_DATA, name, 0, 0, &raw, &e) < 0)
		abort();
	raw.p[DATA_LEN + KEY_NONCE_BYTES + 2] ^= 1;
	if (backend_put(repo_backend(r), OBJ_DATA, name, raw.p, raw.len, &e) < 0)
		abort();
	is_int(open_rc(id, size), -EBADMSG, "one flipped bit in the sealed header");
	buf_release(&raw);
	is_int(open_rc(gone, 500), -ENOENT, "a missing pack is -ENOENT");
}

int main(void)
{
	struct rfx rf;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;

	if (rfx_init(&rf, "packhdr") < 0)
		return 1;
	if (!ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg))
		return tap_done();
	buf_init(&b, 1u << 20);
	test_sound(&b);
	test_truncated(&b);
	test_counts(&b);
	test_lengths(&b);
	test_seal(&b);
	buf_release(&b);
	repo_free(r);
	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
