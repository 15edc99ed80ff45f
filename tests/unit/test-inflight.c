/* bk_submit waits for room in the pipeline before it copies a chunk (backup/queue.c,
 * reserve): with the in-flight bytes at the bound it must neither copy nor queue, must
 * check for a cancel while it waits and give up on one, and must go on once a finished job
 * makes room; an empty pipeline takes a blob of any size; every job gives its bytes back.
 * No timing: the cancel callback, called at each wait slice, is the test's clock. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

#define BLOB_LEN (600u * 1024)

static char top[] = "/tmp/cairn-test-inflight-XXXXXX";
static struct bk b;
static int checks;        /* calls of the cancel callback: one per wait slice, at least */
static int cancel_after;  /* answer yes from this many calls on (0: never) */
static int release_after; /* make room at this many calls (0: never) */

static bool on_cancel(void *ud)
{
	(void)ud;
	checks++;
	if (release_after && checks == release_after) {
		/* What recycle does when a running job ends. */
		pthread_mutex_lock(&b.spare_lock);
		b.inflight = 0;
		pthread_cond_signal(&b.room);
		pthread_mutex_unlock(&b.spare_lock);
	}
	return cancel_after && checks >= cancel_after;
}

static size_t inflight(void)
{
	size_t n;

	pthread_mutex_lock(&b.spare_lock);
	n = b.inflight;
	pthread_mutex_unlock(&b.spare_lock);
	return n;
}

int main(void)
{
	struct repo_create_params cp;
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct backup_opts bo = { .cancel = on_cancel };
	struct err e = ERR_INIT, be = ERR_INIT;
	struct repo *r = NULL;
	char repo_dir[64], cmd[96];
	uint8_t id[ID_BYTES];
	uint8_t *data = malloc(8u << 20);
	int rc;

	if (sodium_init() < 0 || !mkdtemp(top) || !data)
		return 1;
	snprintf(repo_dir, sizeof(repo_dir), "%s/repo", top);
	o.url = repo_dir;
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
	if (!r)
		return tap_done();
	randombytes_buf(data, 8u << 20);
	b = (struct bk){ .repo = r, .o = &bo, .e = &be };
	pthread_mutex_init(&b.spare_lock, NULL);
	ok(bk_workers_start(&b, 1) == 0, "one worker");
	ok(b.inflight_max >= 2 * BLOB_LEN, "the bound (%zu bytes) holds two blobs", b.inflight_max);

	/* At the bound, a job that ends makes room and the blob goes through. */
	b.inflight = b.inflight_max;
	release_after = 2;
	key_blob_id(repo_key(r), data, BLOB_LEN, id);
	rc = bk_submit(&b, BLOB_DATA, id, data, BLOB_LEN);
	is_int(rc, 0, "at the bound, room made by a finished job lets the blob through");
	ok(checks >= 2, "after waiting, checking for a cancel at each slice (%d checks)", checks);
	ok(wq_drain(b.q) == 0, "the pipeline drained");
	ok(inflight() == 0, "the job gave its bytes back");

	/* An empty pipeline takes a blob bigger than the bound, without waiting. */
	release_after = 0;
	cancel_after = 1; /* would end any wait at once */
	checks = 0;
	key_blob_id(repo_key(r), data, 8u << 20, id);
	rc = bk_submit(&b, BLOB_DATA, id, data, 8u << 20);
	ok(rc == 0 && checks == 0, "an empty pipeline takes 8 MiB, more than the bound, at once");
	ok(wq_drain(b.q) == 0 && inflight() == 0, "and gets the 8 MiB back when done");

	/* At the bound, a cancel ends the wait (last: it cancels the queue too). */
	b.inflight = b.inflight_max;
	checks = 0;
	cancel_after = 3;
	key_blob_id(repo_key(r), data + 1, BLOB_LEN, id);
	rc = bk_submit(&b, BLOB_DATA, id, data + 1, BLOB_LEN);
	is_int(rc, -ECANCELED, "at the bound, a cancel ends bk_submit's wait");
	ok(checks == 3, "after the wait slices up to the cancel (%d checks)", checks);
	ok(inflight() == b.inflight_max, "the cancelled blob was never counted in flight");
	b.inflight = 0;
	is_int(bk_workers_stop(&b), -ECANCELED, "the workers stop, cancelled");
	ok(repo_flush(r, &e) == 0, "flush: %s", e.msg);
	ok(repo_blob_count(r) == 2, "only the two blobs that went through are stored (%zu)",
	   repo_blob_count(r));
	pthread_mutex_destroy(&b.spare_lock);
	repo_free(r);
	free(data);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", top);
	return tap_done();
}
