/* Repository engine on a real directory: concurrent puts, reopen, dedup, corruption
 * named by id, orphan packs adopted after a simulated crash, snapshots and locks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repo/repo.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define BLOBS 64
#define BLOB_LEN (100 * 1024)

static uint8_t data[BLOBS][BLOB_LEN];
static uint8_t ids[BLOBS][ID_BYTES];

struct worker_arg {
	struct repo *r;
	int from, to, failed;
};

static void *put_range(void *p)
{
	struct worker_arg *a = p;

	for (int i = a->from; i < a->to; i++) {
		struct err e = ERR_INIT;

		if (repo_blob_save(a->r, BLOB_DATA, data[i], BLOB_LEN, ids[i], &e) < 0)
			a->failed++;
	}
	return NULL;
}

static int open_repo(const char *dir, const char *pw, struct repo **r, struct err *e)
{
	struct repo_open_params o = { .url = dir, .password = pw, .password_len = strlen(pw) };

	return repo_open(&o, r, e);
}

int main(void)
{
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct buf out = BUF_INIT;
	pthread_t t[4];
	struct worker_arg a[4];
	struct snapshot s = { 0 }, s2 = { 0 };
	struct repo_lock *l1 = NULL, *l2 = NULL;
	int failed = 0, same = 0, rc;

	if (rfx_init(&rf, "repo") < 0)
		return 1;
	rf.cp.pack_size = 1u << 20;
	for (int i = 0; i < BLOBS; i++)
		randombytes_buf(data[i], BLOB_LEN);
	ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg);
	is_int(rfx_create(&rf, &(struct repo *){ NULL }, &e), -EEXIST, "create twice is refused");
	for (int i = 0; i < 4; i++) {
		a[i] = (struct worker_arg){ r, i * BLOBS / 4, (i + 1) * BLOBS / 4, 0 };
		pthread_create(&t[i], NULL, put_range, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		failed += a[i].failed;
	}
	is_int(failed, 0, "64 blobs stored from 4 threads");
	is_int(repo_blob_save(r, BLOB_DATA, data[0], BLOB_LEN, ids[0], &e), 0,
	       "a known blob costs nothing");
	ok(repo_flush(r, &e) == 0, "flush");
	repo_free(r);
	r = NULL;

	err_clear(&e);
	is_int(open_repo(rf.dir, "wrong", &r, &e), -EKEYREJECTED, "wrong password: %s", e.msg);
	ok(open_repo(rf.dir, "pw", &r, &e) == 0, "reopen");
	buf_init(&out, REPO_BLOB_MAX);
	for (int i = 0; i < BLOBS; i++) {
		buf_reset(&out);
		if (repo_blob_get(r, BLOB_DATA, ids[i], &out, &e) == 0 && out.len == BLOB_LEN &&
		    !memcmp(out.p, data[i], BLOB_LEN))
			same++;
	}
	is_int(same, BLOBS, "every blob reads back identical after reopen");

	/* repo_blob_put_room: a raw blob is sealed in the caller's room, a compressible one
	 * through the sealer; both read back identical. */
	{
		static uint8_t room[2][REPO_BLOB_ROOM_BEFORE + BLOB_LEN + REPO_BLOB_ROOM_AFTER];
		static uint8_t plain[2][BLOB_LEN];
		uint8_t rid[2][ID_BYTES];
		struct blob_loc loc[2];
		int back = 0;

		randombytes_buf(plain[0], BLOB_LEN);
		for (size_t i = 0; i < BLOB_LEN; i++)
			plain[1][i] = (uint8_t)"room for a seal "[i % 16];
		err_clear(&e);
		for (int i = 0; i < 2; i++) {
			memcpy(room[i] + REPO_BLOB_ROOM_BEFORE, plain[i], BLOB_LEN);
			key_blob_id(repo_key(r), plain[i], BLOB_LEN, rid[i]);
			ok(repo_blob_claim(r, BLOB_DATA, rid[i]) &&
				   repo_blob_put_room(r, BLOB_DATA, rid[i], room[i], BLOB_LEN, &e) > 0,
			   "put_room %d: %s", i, e.msg);
		}
		ok(repo_flush(r, &e) == 0, "flush the put_room blobs: %s", e.msg);
		for (int i = 0; i < 2; i++) {
			buf_reset(&out);
			back += repo_blob_get(r, BLOB_DATA, rid[i], &out, &e) == 0 &&
				out.len == BLOB_LEN && !memcmp(out.p, plain[i], BLOB_LEN);
		}
		is_int(back, 2, "both put_room blobs read back identical");
		ok(repo_blob_lookup(r, BLOB_DATA, rid[0], &loc[0]) == 0 && !loc[0].compressed &&
			   repo_blob_lookup(r, BLOB_DATA, rid[1], &loc[1]) == 0 && loc[1].compressed,
		   "the random one is stored raw, the repeated text compressed");
	}

	/* Random blobs are stored raw (sealed straight from the caller's buffer after the
	 * compressibility probe), text-like ones compressed, and every pack is named by the
	 * hash of the bytes on disk (the hash is taken while the pack is written). */
	{
		static uint8_t text[BLOB_LEN];
		uint8_t tid[ID_BYTES];
		struct blob_loc loc;
		int raw = 0, named = 0, packs = 0;
		size_t at = 0;

		while (at < BLOB_LEN) {
			char line[64];
			int k = snprintf(line, sizeof(line), "line %zu of a text file\n", at);

			for (int j = 0; j < k && at < BLOB_LEN; j++)
				text[at++] = (uint8_t)line[j];
		}
		ok(repo_blob_save(r, BLOB_DATA, text, BLOB_LEN, tid, &e) > 0 &&
			   repo_flush(r, &e) == 0,
		   "store a text-like blob");
		ok(repo_blob_lookup(r, BLOB_DATA, tid, &loc) == 0 && loc.compressed &&
			   loc.stored_len < BLOB_LEN / 2,
		   "the text-like blob is stored compressed");
		for (int i = 0; i < BLOBS; i++)
			raw += repo_blob_lookup(r, BLOB_DATA, ids[i], &loc) == 0 && !loc.compressed &&
			       loc.stored_len == BLOB_LEN + KEY_SEAL_OVERHEAD;
		is_int(raw, BLOBS, "random blobs are stored raw");
		for (int d = 0; d < 256; d++) {
			char sub[4200], path[4600];
			struct dirent *de;
			DIR *dh;

			snprintf(sub, sizeof(sub), "%s/data/%02x", rf.dir, d);
			dh = opendir(sub);
			while (dh && (de = readdir(dh))) {
				uint8_t want[ID_BYTES], h1[ID_BYTES], h2[ID_BYTES];
				static uint8_t pack[4u << 20];
				ssize_t n;
				int fd;

				if (de->d_name[0] == '.' || hex_decode(de->d_name, want, ID_BYTES) < 0)
					continue;
				snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
				fd = open(path, O_RDONLY);
				n = fd >= 0 ? read(fd, pack, sizeof(pack)) : -1;
				if (fd >= 0)
					close(fd);
				packs++;
				if (n <= 0 || (size_t)n == sizeof(pack))
					continue;
				name_hash(KEY_NAME_SHA256, pack, (size_t)n, h1);
				name_hash(KEY_NAME_BLAKE2B_256, pack, (size_t)n, h2);
				named += !memcmp(h1, want, ID_BYTES) || !memcmp(h2, want, ID_BYTES);
			}
			if (dh)
				closedir(dh);
		}
		ok(packs >= 2 && named == packs, "every pack is named by the hash of its bytes (%d of %d)",
		   named, packs);
	}

	s.hostname = strdup("h");
	s.username = strdup("u");
	s.program_version = strdup("t");
	s.tags = calloc(1, sizeof(char *));
	s.tags[0] = strdup("pvc=db-0");
	s.n_tags = 1;
	s.tree = calloc(1, sizeof(*s.tree));
	s.n_tree = 1;
	s.time_sec = 1700000000;
	s.time_nsec = 123456789;
	ok(repo_snapshot_save(r, &s, &e) == 0, "save a snapshot");
	ok(repo_snapshot_load(r, "latest", &s2, &e) == 0 && !memcmp(s.id, s2.id, ID_BYTES) &&
		   s2.time_nsec == 123456789 && !strcmp(snapshot_tag(&s2, "pvc"), "db-0"),
	   "load latest: same id, time and tags");
	snapshot_release(&s2);
	is_int(repo_snapshot_load(r, "ffffffff", &s2, &e), -ENOENT, "unknown snapshot");

	ok(repo_lock(r, REPO_LOCK_SHARED, &l1, &e) == 0, "shared lock");
	is_int(repo_lock(r, REPO_LOCK_EXCLUSIVE, &l2, &e), -EBUSY, "exclusive blocked: %s", e.msg);
	repo_unlock(l1);
	err_clear(&e);
	ok(repo_lock(r, REPO_LOCK_EXCLUSIVE, &l2, &e) == 0, "exclusive after unlock");
	repo_unlock(l2);

	/* Crash simulation: packs reach the backend, the index never does. */
	{
		static uint8_t more[20][BLOB_LEN];
		uint8_t mid[20][ID_BYTES];
		ssize_t adopted;
		int known = 0;

		for (int i = 0; i < 20; i++) {
			randombytes_buf(more[i], BLOB_LEN);
			rc = (int)repo_blob_save(r, BLOB_DATA, more[i], BLOB_LEN, mid[i], &e);
		}
		repo_free(r); /* no flush: like kill -9 */
		r = NULL;
		ok(open_repo(rf.dir, "pw", &r, &e) == 0 && repo_index_load(r, &e) == 0, "reopen");
		ok(!repo_blob_known(r, BLOB_DATA, mid[0]), "unindexed blob unknown before adoption");
		adopted = repo_index_adopt_orphans(r, &e);
		ok(adopted >= 1, "orphan packs adopted: %zd", adopted);
		for (int i = 0; i < 20; i++)
			known += repo_blob_known(r, BLOB_DATA, mid[i]);
		ok(known >= 9, "blobs of finished packs are reused (%d of 20)", known);
	}
	repo_free(r);
	r = NULL;

	/* Damage one byte inside the stored form of blob 5. */
	ok(open_repo(rf.dir, "pw", &r, &e) == 0 && repo_index_load(r, &e) == 0, "reopen");
	{
		struct blob_loc loc;
		char hex[ID_HEX], path[8192];
		int fd, bad = 0;
		uint8_t c = 0;

		ok(repo_blob_lookup(r, BLOB_DATA, ids[5], &loc) == 0, "blob 5 is indexed");
		hex_encode(loc.pack, ID_BYTES, hex);
		snprintf(path, sizeof(path), "%s/data/%.2s/%s", rf.dir, hex, hex);
		fd = open(path, O_RDWR);
		ok(fd >= 0 && pread(fd, &c, 1, loc.offset + 50) == 1, "read the pack byte");
		c ^= 0x40;
		ok(pwrite(fd, &c, 1, loc.offset + 50) == 1, "flip it");
		close(fd);
		for (int i = 0; i < BLOBS; i++) {
			buf_reset(&out);
			err_clear(&e);
			rc = repo_blob_get(r, BLOB_DATA, ids[i], &out, &e);
			if (rc == -EBADMSG && strstr(e.msg, hex) && strstr(e.msg, "blob ")) {
				bad++;
				tap_diag("%s", e.msg);
			}
		}
		is_int(bad, 1, "exactly the damaged blob fails, named by pack and blob");
	}
	buf_release(&out);
	repo_free(r);
	snapshot_release(&s);
	if (rfx_cleanup(&rf) != 0)
		tap_diag("cleanup failed");
	return tap_done();
}
