/* Drives every S3 backend operation against a real server (started by
 * tests/e2e/s3-backend.sh): put/get/range/stat/del/list with pagination, multipart,
 * multi-delete, concurrency, and the clear errors. Usage:
 *   test-s3-backend [-o key=value]... [-x sigcheck] s3:URL
 * -x sigcheck: the server verifies signatures (Swift), so a wrong secret must fail.
 * -x badetag -d DIRECT: behind faultproxy FAULTS=bad-etag MATCH=/locks/: a lock PUT
 *   judged failed must not stay on the server (checked at DIRECT, the proxy's upstream).
 * -x redirect: behind faultproxy FAULTS=redirect-301: the message names the region.
 * -x big: a 100 MiB multipart object up and back.
 * -x cut-resume, cut-loop, cut-changed: behind faultproxy FAULTS=cut-body MATCH='GET ':
 *   a GET cut once (twice) resumes to the right bytes; one cut every time gives up after
 *   a bounded number of tries; one whose object changed between tries fails -ESTALE.
 * -x lostcomplete: behind faultproxy FAULTS=reset-body MATCH=?uploadId=: a multipart
 *   upload whose complete replies are all lost still succeeds.
 * -x quick: no listing and no failure cases. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "repo/backend.h"
#include "s3/s3-internal.h"
#include "s3/s3.h"
#include "tests/tap.h"
#include "util/hex.h"

#include "util/banned.h"

#define N_LIST    1100 /* more than one ListObjectsV2 page (1000) */
#define N_THREADS 8
#define N_BATCH   300 /* one DeleteObjects request (Swift deletes them one by one) */
#define BIG       (12u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *opts[32];
static size_t n_opts;
static struct backend_options bo = { opts, 0 };

static void name_of(unsigned i, char out[ID_HEX])
{
	uint8_t id[ID_BYTES] = { 0 };

	id[0] = (uint8_t)(i * 37);
	id[1] = (uint8_t)(i >> 8);
	id[2] = (uint8_t)i;
	hex_encode(id, sizeof(id), out);
}

struct worker {
	struct backend *be;
	unsigned from, to;
	int failures;
	char msg[ERR_MSG_MAX];
};

static void *put_many(void *ud)
{
	struct worker *w = ud;
	char name[ID_HEX], body[64];

	for (unsigned i = w->from; i < w->to; i++) {
		struct err e = ERR_INIT;
		int n;

		name_of(i, name);
		n = snprintf(body, sizeof(body), "object %u", i);
		if (w->be->ops->put(w->be, OBJ_INDEX, name, body, (size_t)n, &e) < 0) {
			w->failures++;
			snprintf(w->msg, sizeof(w->msg), "%s", e.msg);
		}
	}
	return NULL;
}

/* stat every object of the range: the first `gone` must be missing, the rest present
 * with their size. Per key (HEAD), so it does not depend on a listing. */
static void *stat_many(void *ud)
{
	struct worker *w = ud;
	char name[ID_HEX], body[64];

	for (unsigned i = w->from; i < w->to; i++) {
		struct err e = ERR_INIT;
		uint64_t size = 0;
		int r, want;

		name_of(i, name);
		want = snprintf(body, sizeof(body), "object %u", i);
		r = w->be->ops->stat(w->be, OBJ_INDEX, name, &size, &e);
		if (i < N_BATCH ? r != -ENOENT : r != 0 || size != (uint64_t)want) {
			w->failures++;
			snprintf(w->msg, sizeof(w->msg), "object %u: stat %d size %llu %.900s", i,
			         r, (unsigned long long)size, e.msg);
		}
	}
	return NULL;
}

static int each_thread(struct backend *be, void *(*fn)(void *), const char *what)
{
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	int fails = 0;

	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ be, (unsigned)i * N_LIST / N_THREADS,
			                (unsigned)(i + 1) * N_LIST / N_THREADS, 0, "" };
		pthread_create(&th[i], NULL, fn, &w[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		fails += w[i].failures;
		if (w[i].failures)
			tap_diag("%s, thread %d: %s", what, i, w[i].msg);
	}
	return fails;
}

struct tally {
	unsigned n;
	uint64_t bytes;
	bool bad_name;
};

static int count(void *ud, const char *name, uint64_t size)
{
	struct tally *t = ud;

	t->n++;
	t->bytes += size;
	if (strlen(name) != ID_HEX - 1 || !hex_valid(name, 0))
		t->bad_name = true;
	return 0;
}

static uint64_t expected_bytes(unsigned from, unsigned to)
{
	char body[64];
	uint64_t sum = 0;

	for (unsigned i = from; i < to; i++)
		sum += (uint64_t)snprintf(body, sizeof(body), "object %u", i);
	return sum;
}

static void basic(struct backend *be)
{
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	char name[ID_HEX];
	uint64_t size = 0;
	int r;

	buf_init(&b, 1 << 20);
	name_of(424242, name);
	r = be->ops->put(be, OBJ_KEY, name, "hello, world", 12, &e);
	if (!ok(r == 0, "put small object"))
		tap_diag("%s", e.msg);
	ok(be->ops->get(be, OBJ_KEY, name, 0, 0, &b, &e) == 0 && b.len == 12 &&
	       memcmp(b.p, "hello, world", 12) == 0,
	   "get it back whole");
	buf_reset(&b);
	ok(be->ops->get(be, OBJ_KEY, name, 7, 5, &b, &e) == 0 && b.len == 5 &&
	       memcmp(b.p, "world", 5) == 0,
	   "range get (7, 5)");
	buf_reset(&b);
	ok(be->ops->get(be, OBJ_KEY, name, 7, 50, &b, &e) == -EBADMSG && b.len == 0,
	   "range past the end is -EBADMSG, buffer untouched");
	ok(be->ops->stat(be, OBJ_KEY, name, &size, &e) == 0 && size == 12, "stat gives the size");
	err_clear(&e);
	name_of(1, name);
	is_int(be->ops->stat(be, OBJ_KEY, name, &size, &e), -ENOENT, "stat of a missing object");
	err_clear(&e);
	is_int(be->ops->get(be, OBJ_KEY, name, 0, 0, &b, &e), -ENOENT, "get of a missing object");
	ok(strstr(e.msg, "no such object") != NULL, "message says so: %s", e.msg);
	err_clear(&e);
	ok(be->ops->del(be, OBJ_KEY, name, &e) == 0, "deleting a missing object succeeds");
	name_of(424242, name);
	ok(be->ops->del(be, OBJ_KEY, name, &e) == 0, "delete");
	is_int(be->ops->stat(be, OBJ_KEY, name, &size, &e), -ENOENT, "gone after delete");
	is_int(be->ops->put(be, OBJ_KEY, "../x", "x", 1, &e), -EINVAL, "non-hex name refused");
	buf_release(&b);
}

static void multipart(struct backend *be)
{
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	uint8_t *data = malloc(BIG);
	char name[ID_HEX];
	uint64_t size = 0;
	int fd = -1, r;

	if (!data)
		return;
	randombytes_buf(data, BIG);
	buf_init(&b, BIG);
	name_of(777, name);
	r = be->ops->tmpfile(be, &fd, &e);
	ok(r == 0 && write(fd, data, BIG) == (ssize_t)BIG, "spool 12 MiB into tmpfile()");
	r = be->ops->put_fd(be, OBJ_DATA, name, fd, BIG, &e);
	if (!ok(r == 0, "put_fd of 12 MiB (multipart above the 5 MiB threshold)"))
		tap_diag("%s", e.msg);
	ok(be->ops->stat(be, OBJ_DATA, name, &size, &e) == 0 && size == BIG, "multipart size");
	ok(be->ops->get(be, OBJ_DATA, name, 0, 0, &b, &e) == 0 && b.len == BIG &&
	       memcmp(b.p, data, BIG) == 0,
	   "multipart object reads back identical");
	buf_reset(&b);
	ok(be->ops->get(be, OBJ_DATA, name, (5u << 20) - 100, 200, &b, &e) == 0 && b.len == 200 &&
	       memcmp(b.p, data + (5u << 20) - 100, 200) == 0,
	   "range across a part boundary");
	r = be->ops->put(be, OBJ_DATA, name, data, BIG - 1, &e);
	buf_reset(&b);
	ok(r == 0 && be->ops->get(be, OBJ_DATA, name, 0, 0, &b, &e) == 0 && b.len == BIG - 1 &&
	       memcmp(b.p, data, BIG - 1) == 0,
	   "multipart put from memory replaces the object");
	ok(be->ops->del(be, OBJ_DATA, name, &e) == 0, "delete multipart object");
	if (fd >= 0)
		close(fd);
	free(data);
	buf_release(&b);
}

static void listing(struct backend *be)
{
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	struct tally t = { 0 };
	struct err e = ERR_INIT;
	const char *keys[N_BATCH];
	char(*names)[2048] = calloc(N_BATCH, sizeof(*names));
	int fails = 0, r;

	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ be, (unsigned)i * N_LIST / N_THREADS,
			                (unsigned)(i + 1) * N_LIST / N_THREADS, 0, "" };
		pthread_create(&th[i], NULL, put_many, &w[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		fails += w[i].failures;
		if (w[i].failures)
			tap_diag("thread %d: %s", i, w[i].msg);
	}
	is_int(fails, 0, "%d objects put from %d threads at once", N_LIST, N_THREADS);
	r = be->ops->list(be, OBJ_INDEX, count, &t, &e);
	if (!ok(r == 0, "list over more than one page"))
		tap_diag("%s", e.msg);
	is_int(t.n, N_LIST, "every object listed once");
	is_int(t.bytes, expected_bytes(0, N_LIST), "sizes listed");
	ok(!t.bad_name, "bare names (no prefix, no folder)");
	for (unsigned i = 0; i < N_BATCH && names; i++) {
		char name[ID_HEX];

		name_of(i, name);
		if (s3_obj_key((struct s3 *)be, OBJ_INDEX, name, names[i], sizeof(names[i])) < 0)
			break;
		keys[i] = names[i];
	}
	r = names ? s3_delete_many((struct s3 *)be, keys, N_BATCH, &e) : -ENOMEM;
	if (!ok(r == 0, "multi-object delete of %d keys", N_BATCH))
		tap_diag("%s", e.msg);
	is_int(each_thread(be, stat_many, "stat"), 0,
	       "each deleted key is gone and each other key there (HEAD per key)");
	t = (struct tally){ 0 };
	ok(be->ops->list(be, OBJ_INDEX, count, &t, &e) == 0 && t.n == N_LIST - N_BATCH &&
	       t.bytes == expected_bytes(N_BATCH, N_LIST),
	   "exactly the other %d remain", N_LIST - N_BATCH);
	free(names);
}

static void data_shards(struct backend *be)
{
	struct tally t = { 0 };
	struct err e = ERR_INIT;
	char name[ID_HEX];
	int fails = 0;

	for (unsigned i = 0; i < 20; i++) {
		name_of(i * 11, name);
		fails += be->ops->put(be, OBJ_DATA, name, name, 10, &e) < 0;
	}
	is_int(fails, 0, "20 packs put");
	ok(be->ops->list(be, OBJ_DATA, count, &t, &e) == 0 && t.n == 20 && t.bytes == 200 &&
	       !t.bad_name,
	   "data listing strips the shard folder");
	{
		char hex[20][ID_HEX];
		const char *names[20];

		for (unsigned i = 0; i < 20; i++) {
			name_of(i * 11, hex[i]);
			names[i] = hex[i];
		}
		t = (struct tally){ 0 };
		ok(backend_del_many(be, OBJ_DATA, names, 20, &e) == 0 &&
		       be->ops->list(be, OBJ_DATA, count, &t, &e) == 0 && t.n == 0,
		   "del_many of the 20 packs (one DeleteObjects) leaves none: %s", e.msg);
	}
	ok(be->ops->put(be, OBJ_CONFIG, NULL, "cfg", 3, &e) == 0, "put config");
	err_clear(&e);
	is_int(be->ops->create(be, &e), -EEXIST, "create over an existing repository");
}

/* A lock whose PUT was judged failed (every ETag the proxy returns is wrong) is not
 * left behind, and the message says why it failed and that the copy was deleted. */
static void bad_etag(struct backend *be, const char *direct)
{
	struct backend *d = NULL;
	struct err e = ERR_INIT;
	char name[ID_HEX];
	uint64_t size;
	int r;

	name_of(4711, name);
	r = be->ops->put(be, OBJ_LOCK, name, "lock", 4, &e);
	ok(r < 0 && strstr(e.msg, "ETag") && strstr(e.msg, "locks/") &&
	       strstr(e.msg, "the copy left on the server was deleted"),
	   "lock PUT with a wrong ETag fails, copy deleted: %s", e.msg);
	err_clear(&e);
	bo.n = n_opts;
	r = backend_open(direct, &bo, &d, &e);
	if (!ok(r == 0, "open the server directly"))
		return;
	is_int(d->ops->stat(d, OBJ_LOCK, name, &size, &e), -ENOENT, "no lock left on the server");
	r = d->ops->put(d, OBJ_LOCK, name, "lock", 4, &e);
	err_clear(&e);
	r = r == 0 ? be->ops->put(be, OBJ_INDEX, name, "lock", 4, &e) : r;
	is_int(r, 0, "an object the proxy does not touch still goes up");
	backend_free(d);
}

/* 100 MiB in 20 parts of 5 MiB, uploaded in parallel, read back identical. */
static void big(struct backend *be)
{
	const size_t n = 100u << 20;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	uint8_t *data = malloc(n);
	char name[ID_HEX];
	uint64_t size = 0;
	double t0;
	int fd = -1, r;

	if (!ok(data != NULL, "100 MiB buffer"))
		return;
	randombytes_buf(data, n);
	buf_init(&b, n);
	name_of(100100, name);
	r = be->ops->tmpfile(be, &fd, &e);
	ok(r == 0 && write(fd, data, n) == (ssize_t)n, "spool 100 MiB");
	t0 = now();
	r = be->ops->put_fd(be, OBJ_DATA, name, fd, n, &e);
	if (!ok(r == 0, "put_fd of 100 MiB in 20 parts"))
		tap_diag("%s", e.msg);
	tap_diag("100 MiB up in %.2f s", now() - t0);
	ok(be->ops->stat(be, OBJ_DATA, name, &size, &e) == 0 && size == n, "size is 100 MiB");
	t0 = now();
	r = be->ops->get(be, OBJ_DATA, name, 0, 0, &b, &e);
	if (!ok(r == 0 && b.len == n && memcmp(b.p, data, n) == 0, "100 MiB read back identical"))
		tap_diag("get returned %d, %zu bytes: %s", r, b.len,
		         r < 0 ? e.msg : "content differs");
	tap_diag("100 MiB down in %.2f s", now() - t0);
	ok(be->ops->del(be, OBJ_DATA, name, &e) == 0, "delete it");
	if (fd >= 0)
		close(fd);
	free(data);
	buf_release(&b);
}

/* Behind faultproxy FAULTS=reset-body MATCH=?uploadId=: every complete reaches the
 * server but its reply is cut, and s3rver answers each retry 500 (the upload is gone).
 * The upload did complete: put_fd must say so, not fail. */
static void lost_complete(struct backend *be)
{
	const size_t n = 12u << 20;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	uint8_t *data = malloc(n);
	char name[ID_HEX];
	int fd = -1, r;

	if (!ok(data != NULL, "12 MiB buffer"))
		return;
	randombytes_buf(data, n);
	buf_init(&b, n);
	name_of(120120, name);
	r = be->ops->tmpfile(be, &fd, &e);
	ok(r == 0 && write(fd, data, n) == (ssize_t)n, "spool 12 MiB");
	r = be->ops->put_fd(be, OBJ_DATA, name, fd, n, &e);
	if (!ok(r == 0, "put_fd whose every complete reply is lost succeeds"))
		tap_diag("%s", e.msg);
	r = be->ops->get(be, OBJ_DATA, name, 0, 0, &b, &e);
	if (!ok(r == 0 && b.len == n && memcmp(b.p, data, n) == 0, "12 MiB read back identical"))
		tap_diag("get returned %d, %zu bytes: %s", r, b.len, r < 0 ? e.msg : "content differs");
	if (fd >= 0)
		close(fd);
	free(data);
	buf_release(&b);
}

/* A 12 MiB object read back through a proxy that cuts GET bodies (see the usage). */
static void cut(struct backend *be, const char *mode)
{
	const size_t n = BIG, off = 1u << 20, len = 6u << 20;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	uint8_t *data = malloc(n);
	char name[ID_HEX];
	int r;

	if (!ok(data != NULL, "12 MiB buffer"))
		return;
	randombytes_buf(data, n);
	buf_init(&b, n);
	name_of(4242, name);
	r = be->ops->put(be, OBJ_DATA, name, data, n, &e);
	if (!ok(r == 0, "put 12 MiB"))
		tap_diag("%s", e.msg);
	r = be->ops->get(be, OBJ_DATA, name, 0, 0, &b, &e);
	if (strcmp(mode, "cut-resume") == 0) {
		if (!ok(r == 0 && b.len == n && memcmp(b.p, data, n) == 0,
		        "a GET cut mid-body reads the right 12 MiB"))
			tap_diag("get returned %d, %zu bytes: %s", r, b.len, r < 0 ? e.msg : "");
		buf_reset(&b);
		r = be->ops->get(be, OBJ_DATA, name, off, len, &b, &e);
		if (!ok(r == 0 && b.len == len && memcmp(b.p, data + off, len) == 0,
		        "a ranged GET cut mid-body reads the right 6 MiB"))
			tap_diag("get returned %d, %zu bytes: %s", r, b.len, r < 0 ? e.msg : "");
	} else if (strcmp(mode, "cut-loop") == 0) {
		ok(r == -EAGAIN && b.len == 0 && strstr(e.msg, "resumed after each cut"),
		   "a GET cut every time gives up, nothing kept (%d, %zu bytes): %s", r, b.len,
		   e.msg);
	} else {
		ok(r == -ESTALE && b.len == 0 && strstr(e.msg, "changed while it was read") &&
		       !strchr(e.msg, '\n'),
		   "a GET whose object changed between tries fails, nothing kept (%d, %zu bytes): "
		   "%s",
		   r, b.len, e.msg);
	}
	free(data);
	buf_release(&b);
}

/* A 301 names the bucket's region, from x-amz-bucket-region (HEAD) or the body. */
static void redirect(struct backend *be)
{
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	uint64_t size;
	int r;

	buf_init(&b, 4096);
	r = be->ops->stat(be, OBJ_CONFIG, NULL, &size, &e);
	ok(r == -EPROTO &&
	       strstr(e.msg, "is in region eu-central-1; use -o s3.region=eu-central-1"),
	   "HEAD 301: %s", e.msg);
	err_clear(&e);
	r = be->ops->get(be, OBJ_CONFIG, NULL, 0, 0, &b, &e);
	ok(r == -EPROTO && strstr(e.msg, "S3 get repo/config: bucket cairn-redirect is in region "
	                                 "eu-central-1; use -o s3.region=eu-central-1 (HTTP 301 "
	                                 "PermanentRedirect)"),
	   "GET 301: %s", e.msg);
	buf_release(&b);
}

static struct backend *open_be(const char *url, struct err *e, int *ret)
{
	struct backend *be = NULL;

	bo.n = n_opts;
	*ret = s3_register();
	if (*ret >= 0)
		*ret = backend_open(url, &bo, &be, e);
	return *ret < 0 ? NULL : be;
}

static void failures(const char *url, bool sigcheck)
{
	char other[1024], *slash;
	struct backend *be;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	char saved[256];
	int r;

	buf_init(&b, 1024);
	/* the bucket is the first path element after the host */
	snprintf(other, sizeof(other), "%s", url);
	slash = strstr(other, "://");
	slash = slash ? strchr(slash + 3, '/') : NULL;
	if (slash) {
		snprintf(slash, sizeof(other) - (size_t)(slash - other), "/nosuchbucket-cairn/p");
		be = open_be(other, &e, &r);
		r = be ? be->ops->get(be, OBJ_CONFIG, NULL, 0, 0, &b, &e) : r;
		is_int(r, -ENOENT, "missing bucket is -ENOENT");
		ok(strstr(e.msg, "bucket nosuchbucket-cairn does not exist (run cairn init to "
		                 "create it)") != NULL,
		   "clear message: %s", e.msg);
		backend_free(be);
	}
	if (sigcheck && sk) {
		snprintf(saved, sizeof(saved), "%s", sk);
		setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
		err_clear(&e);
		be = open_be(url, &e, &r);
		r = be ? be->ops->get(be, OBJ_CONFIG, NULL, 0, 0, &b, &e) : r;
		is_int(r, -EACCES, "wrong secret is -EACCES");
		ok(strstr(e.msg, "signature rejected: check the secret key") &&
		       !strstr(e.msg, "not-the-secret"),
		   "clear message without the secret: %s", e.msg);
		backend_free(be);
		setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
	}
	err_clear(&e);
	opts[n_opts++] = "s3.retries=2";
	opts[n_opts++] = "s3.retry-base-ms=10";
	be = open_be("s3:http://127.0.0.1:1/bucket1", &e, &r);
	r = be ? be->ops->put(be, OBJ_KEY, "abcd", "x", 1, &e) : r;
	is_int(r, -EHOSTUNREACH, "unreachable endpoint is -EHOSTUNREACH after retries");
	ok(strstr(e.msg, "unreachable") && strstr(e.msg, "keys/abcd") &&
	       strstr(e.msg, "2 attempts"),
	   "message names the operation, the key and the attempts: %s", e.msg);
	backend_free(be);
	n_opts -= 2;
	buf_release(&b);
}

int main(int argc, char **argv)
{
	bool sigcheck = false, quick = false;
	const char *mode = "", *direct = NULL;
	struct backend *be;
	struct err e = ERR_INIT;
	const char *url;
	double t0;
	int c, r;

	if (sodium_init() < 0)
		return 1;
	while ((c = getopt(argc, argv, "o:x:d:")) != -1) {
		if (c == 'o' && n_opts < ELEMENTSOF(opts) - 4)
			opts[n_opts++] = optarg;
		else if (c == 'd')
			direct = optarg;
		else if (c == 'x' &&
		         (strcmp(optarg, "badetag") == 0 || strcmp(optarg, "redirect") == 0 ||
		          strcmp(optarg, "big") == 0 || strncmp(optarg, "cut-", 4) == 0 ||
		          strcmp(optarg, "lostcomplete") == 0))
			mode = optarg;
		else if (c == 'x' && strcmp(optarg, "sigcheck") == 0)
			sigcheck = true;
		else if (c == 'x' && strcmp(optarg, "quick") == 0)
			quick = true; /* the listing is covered by the plain-HTTP runs */
		else
			return 2;
	}
	if (optind >= argc)
		return 2;
	url = argv[optind];
	opts[n_opts++] = "s3.multipart-threshold=5M";
	opts[n_opts++] = "s3.part-size=5M";
	be = open_be(url, &e, &r);
	if (!ok(be != NULL, "open %s", url)) {
		tap_diag("%s", e.msg);
		return tap_done();
	}
	if (getenv("EXPECT_CAUTION"))
		ok(strstr(be->caution, getenv("EXPECT_CAUTION")) != NULL,
		   "caution to show at open: %s", be->caution);
	else
		ok(!be->caution[0], "no caution for a verified TLS endpoint");
	if (strcmp(mode, "redirect") == 0) {
		redirect(be);
		backend_free(be);
		return tap_done();
	}
	r = be->ops->create(be, &e);
	if (!ok(r == 0, "create (makes the bucket)"))
		tap_diag("%s", e.msg);
	if (strcmp(mode, "big") == 0) {
		big(be);
		backend_free(be);
		return tap_done();
	}
	if (strcmp(mode, "lostcomplete") == 0) {
		lost_complete(be);
		backend_free(be);
		return tap_done();
	}
	if (strncmp(mode, "cut-", 4) == 0) {
		cut(be, mode);
		backend_free(be);
		return tap_done();
	}
	if (strcmp(mode, "badetag") == 0 && direct) {
		bad_etag(be, direct);
		backend_free(be);
		return tap_done();
	}
	t0 = now();
	basic(be);
	tap_diag("basic: %.2f s", now() - t0);
	t0 = now();
	multipart(be);
	tap_diag("multipart: %.2f s", now() - t0);
	t0 = now();
	if (!quick)
		listing(be);
	tap_diag("listing: %.2f s", now() - t0);
	data_shards(be);
	backend_free(be);
	t0 = now();
	if (!quick)
		failures(url, sigcheck);
	tap_diag("failures: %.2f s", now() - t0);
	return tap_done();
}
