/* backup_stream_*: a stream is stored as one file whose chunks do not depend on how the
 * bytes were split into feeds (the agent relays small exec frames); only a producer
 * status of 0 writes a snapshot; a cancel or a bad name writes none either. */
#include "backup/backup.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"

#define DATA_BYTES (24u * 1024 * 1024)

static char top[] = "/tmp/cairn-test-stream-XXXXXX";

static int open_repo(const char *dir, struct repo **r)
{
	struct repo_create_params cp;
	struct repo_open_params o = { .url = dir, .password = "pw", .password_len = 2 };
	struct err e = ERR_INIT;

	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	cp.pack_size = REPO_PACK_MIN;
	return repo_create(&o, &cp, r, &e);
}

static size_t count_snapshots(struct repo *r)
{
	struct snapshot *all = NULL;
	struct err e = ERR_INIT;
	size_t n = 0;

	if (repo_snapshot_list(r, &all, &n, &e) < 0)
		return (size_t)-1;
	snapshot_list_free(all, n);
	return n;
}

static bool cancel_flag;

static bool on_cancel(void *ud)
{
	(void)ud;
	return cancel_flag;
}

/* Feed data in pieces: a fixed size, or (step 0) pseudo-random sizes of 1 byte .. 64 KiB. */
static int feed_all(struct backup_stream *s, const uint8_t *p, size_t n, size_t step, struct err *e)
{
	uint32_t x = 12345;

	while (n) {
		size_t k = step;
		int rc;

		if (!k) {
			x = x * 1103515245u + 12345u;
			k = 1 + (x >> 8) % 65536;
		}
		if (k > n)
			k = n;
		rc = backup_stream_feed(s, p, k, e);
		if (rc < 0)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static int stream(struct repo *r, const char *name, const uint8_t *p, size_t n, size_t step,
                  int status, struct backup_result *res, struct err *e)
{
	const char *tags[] = { "dump" };
	struct backup_opts o = { .tags = tags, .n_tags = 1, .threads = 2, .cancel = on_cancel };
	struct backup_stream *s = NULL;
	int rc;

	*e = (struct err)ERR_INIT;
	rc = backup_stream_begin(r, &o, name, &s, e);
	if (rc < 0)
		return rc;
	rc = feed_all(s, p, n, step, e);
	if (rc < 0) {
		struct err e2 = ERR_INIT;
		int er = backup_stream_end(s, status, res, &e2);

		/* end reports the latched feed error again */
		return er == rc ? rc : -EPROTO;
	}
	return backup_stream_end(s, status, res, e);
}

/* The stored file's bytes equal p. */
static bool content_is(struct repo *r, const uint8_t id[ID_BYTES], const char *path,
                       const uint8_t *p, size_t n)
{
	char hex[ID_HEX];
	struct snapshot snap = { 0 };
	struct node node = { 0 };
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	bool same = false;

	hex_encode(id, ID_BYTES, hex);
	buf_init(&b, 1u << 30);
	if (repo_snapshot_load(r, hex, &snap, &e) < 0 ||
	    repo_tree_lookup(r, &snap, path, &node, &e) < 0)
		goto out;
	if (node.type != NODE_FILE || node.size != n || (node.mode & 0777) != 0644)
		goto out;
	for (size_t i = 0; i < node.n_content; i++)
		if (repo_blob_get(r, BLOB_DATA, node.content[i].id, &b, &e) < 0)
			goto out;
	same = b.len == n && (!n || !memcmp(b.p, p, n));
out:
	if (e.code)
		tap_diag("%s", e.msg);
	buf_release(&b);
	node_release(&node);
	snapshot_release(&snap);
	return same;
}

int main(void)
{
	static const uint8_t seed[randombytes_SEEDBYTES] = { 7 };
	struct backup_result res;
	struct backup_stream *s = NULL;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	uint8_t *data = malloc(DATA_BYTES);
	char dir[PATH_MAX];
	int rc;

	if (sodium_init() < 0 || !mkdtemp(top) || !data)
		return 1;
	/* Random bytes with a run of zeros and of text: compressible and not. */
	randombytes_buf_deterministic(data, DATA_BYTES, seed);
	memset(data + (4u << 20), 0, 3u << 20);
	for (size_t i = 10u << 20; i < (13u << 20); i++)
		data[i] = "a line of text\n"[i % 15];
	snprintf(dir, sizeof(dir), "%s/repo", top);
	ok(open_repo(dir, &r) == 0, "repository");

	rc = stream(r, "db.dump", data, DATA_BYTES, 4u << 20, 0, &res, &e);
	ok(rc == 0, "a %u MiB stream fed in 4 MiB pieces: %d %s", DATA_BYTES >> 20, rc, e.msg);
	ok(!res.has_parent && res.summary.files_new == 1 && res.summary.total_bytes == DATA_BYTES,
	   "one new file of %u bytes", DATA_BYTES);
	ok(content_is(r, res.snapshot_id, "/db.dump", data, DATA_BYTES),
	   "stored as /db.dump, mode 0644, the same bytes");

	rc = stream(r, "db.dump", data, DATA_BYTES, 0, 0, &res, &e);
	ok(rc == 0, "the same bytes fed in random pieces of 1 B .. 64 KiB: %d %s", rc, e.msg);
	ok(res.has_parent && res.summary.files_unmodified == 1,
	   "the same chunks as the parent's file (cuts do not depend on feed sizes)");
	ok(res.summary.bytes_added < 4096, "almost nothing added: %llu bytes",
	   (unsigned long long)res.summary.bytes_added);
	ok(content_is(r, res.snapshot_id, "/db.dump", data, DATA_BYTES), "and reads back");
	is_int(count_snapshots(r), 2, "two snapshots");

	/* The producer fails after 5 MiB: nothing that looks like a dump is written. */
	rc = stream(r, "db.dump", data, 5u << 20, 1u << 20, 1, &res, &e);
	ok(rc == -EPIPE, "producer status 1: -EPIPE (%d)", rc);
	ok(strstr(e.msg, "status 1") && strstr(e.msg, "no snapshot"), "the message says so: %s",
	   e.msg);
	rc = stream(r, "db.dump", data, 5u << 20, 1u << 20, 137, &res, &e);
	ok(rc == -EPIPE && strstr(e.msg, "status 137"), "killed by SIGKILL (137): %s", e.msg);
	rc = stream(r, "db.dump", data, 1u << 20, 1u << 20, -EIO, &res, &e);
	ok(rc == -EIO && strstr(e.msg, "no snapshot"), "a read error (-EIO): %s", e.msg);
	is_int(count_snapshots(r), 2, "no snapshot for any of them");

	/* What the failed stream uploaded is indexed: a retry stores only what differs. */
	{
		uint8_t *other = malloc(DATA_BYTES);

		randombytes_buf_deterministic(other, DATA_BYTES,
		                              (uint8_t[randombytes_SEEDBYTES]){ 9 });
		rc = stream(r, "other", other, DATA_BYTES, 1u << 20, 1, &res, &e);
		ok(rc == -EPIPE, "a new dump fails at its end");
		rc = stream(r, "other", other, DATA_BYTES, 1u << 20, 0, &res, &e);
		/* At most the tail after the failed run's last cut: under one chunk max. */
		ok(rc == 0 && res.summary.bytes_added < (8u << 20) + 65536,
		   "its retry adds %llu bytes of %u (the tail after the last cut)",
		   (unsigned long long)res.summary.bytes_added, DATA_BYTES);
		free(other);
	}

	/* A cancel (SIGINT through the CLI): the feed stops, no snapshot. */
	cancel_flag = true;
	rc = stream(r, "db.dump", data, 2u << 20, 1u << 20, 0, &res, &e);
	cancel_flag = false;
	ok(rc == -ECANCELED, "cancel: -ECANCELED from feed and end (%d %s)", rc, e.msg);
	is_int(count_snapshots(r), 3, "no snapshot for it");

	/* Names are one path component. */
	{
		const char *bad[] = { "", "a/b", "/x", ".", ".." };
		struct backup_opts o = { 0 };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			e = (struct err)ERR_INIT;
			rc = backup_stream_begin(r, &o, bad[i], &s, &e);
			ok(rc == -EINVAL && !s, "name '%s' refused", bad[i]);
		}
	}

	/* An empty stream is an empty file. */
	rc = stream(r, "empty", data, 0, 1, 0, &res, &e);
	ok(rc == 0 && content_is(r, res.snapshot_id, "/empty", data, 0), "an empty stream");

	repo_free(r);
	free(data);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", top);
	}
	return tap_done();
}
