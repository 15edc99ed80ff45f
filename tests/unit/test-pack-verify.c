/* check --read-data on a store that returns a pack shorter than it lists: every blob slice
 * is bounded by the bytes actually read (reported as a problem, never read past). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

/* "short:PATH": the directory store, except that a pack's bytes end at half its size for
 * every read that starts before the half (whole or ranged, as check --read-data reads);
 * reads from the half on, as for the header, are honest. */
struct shortbe {
	struct backend be;
	struct backend *in;
};
#define IN(be) (((struct shortbe *)(be))->in)

static int s_create(struct backend *be, struct err *e)
{
	return IN(be)->ops->create(IN(be), e);
}
static int s_put(struct backend *be, enum obj_type t, const char *name, const void *p, size_t n,
                 struct err *e)
{
	return IN(be)->ops->put(IN(be), t, name, p, n, e);
}
static int s_put_fd(struct backend *be, enum obj_type t, const char *name, int fd, uint64_t n,
                    struct err *e)
{
	return IN(be)->ops->put_fd(IN(be), t, name, fd, n, e);
}
static int s_tmpfile(struct backend *be, int *fd, struct err *e)
{
	return IN(be)->ops->tmpfile(IN(be), fd, e);
}
static int s_get(struct backend *be, enum obj_type t, const char *name, uint64_t off, uint64_t n,
                 struct buf *out, struct err *e)
{
	uint64_t size;

	if (t == OBJ_DATA && IN(be)->ops->stat(IN(be), t, name, &size, e) == 0 && off < size / 2 &&
	    (n == 0 || n > size / 2 - off))
		n = size / 2 - off;
	return IN(be)->ops->get(IN(be), t, name, off, n, out, e);
}
static int s_stat(struct backend *be, enum obj_type t, const char *name, uint64_t *size,
                  struct err *e)
{
	return IN(be)->ops->stat(IN(be), t, name, size, e);
}
static int s_del(struct backend *be, enum obj_type t, const char *name, struct err *e)
{
	return IN(be)->ops->del(IN(be), t, name, e);
}
static int s_list(struct backend *be, enum obj_type t, backend_list_fn fn, void *ud, struct err *e)
{
	return IN(be)->ops->list(IN(be), t, fn, ud, e);
}
static void s_free(struct backend *be)
{
	backend_free(IN(be));
	free(be);
}
static const struct backend_ops short_ops = {
	.scheme = "short",
	.create = s_create,
	.put = s_put,
	.put_fd = s_put_fd,
	.tmpfile = s_tmpfile,
	.get = s_get,
	.stat = s_stat,
	.del = s_del,
	.list = s_list,
	.free = s_free,
};

static int s_open(const char *spec, const struct backend_options *o, struct backend **ret,
                  struct err *e)
{
	struct shortbe *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = backend_local_open(spec, o, &s->in, e);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->be.ops = &short_ops;
	snprintf(s->be.where, sizeof(s->be.where), "short:%s", spec);
	*ret = &s->be;
	return 0;
}
static const struct backend_scheme short_scheme = { "short:", s_open };

struct seen {
	int problems, past, size;
};

static void on_problem(void *ud, const uint8_t pack[ID_BYTES], const uint8_t *blob, const char *msg)
{
	struct seen *s = ud;

	s->problems++;
	if (strstr(msg, "lies past the"))
		s->past++;
	if (strstr(msg, "but listed as"))
		s->size++;
}

struct packs {
	uint8_t id[8][ID_BYTES];
	int n;
};

static int note(void *ud, const uint8_t pack[ID_BYTES], uint64_t size)
{
	struct packs *p = ud;

	if (p->n < 8)
		memcpy(p->id[p->n++], pack, ID_BYTES);
	return 0;
}

int main(void)
{
	char url[96];
	static uint8_t blob[200 * 1024];
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct packs pk = { 0 };
	struct seen s = { 0 };

	if (rfx_init(&rf, "verify") < 0 || backend_register(&short_scheme) < 0)
		return 1;
	ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg);
	for (int i = 0; i < 8; i++) {
		randombytes_buf(blob, sizeof(blob));
		ok(repo_blob_save(r, BLOB_DATA, blob, sizeof(blob), NULL, &e) >= 0, "blob %d", i);
	}
	ok(repo_flush(r, &e) == 0, "flush: %s", e.msg);
	repo_free(r);
	r = NULL;

	snprintf(url, sizeof(url), "short:%s", rf.dir);
	rf.o.url = url;
	ok(repo_open(&rf.o, &r, &e) == 0, "open through the short-reading store: %s", e.msg);
	ok(r && repo_index_load(r, &e) == 0 && repo_pack_list(r, note, &pk, &e) == 0 && pk.n == 1,
	   "one pack");
	ok(r && repo_pack_verify(r, pk.id[0], on_problem, &s, &e) > 0, "verify finds problems");
	ok(s.size == 1, "the short read is reported");
	ok(s.past == 1, "the first blob past the bytes read is reported, none is sliced");
	repo_free(r);
	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
