/* check's header pass (maint/check.c): packs whose index entries agree with their header
 * pass on a digest alone; a pack whose entries differ (a changed length, a missing entry,
 * an entry the header lacks, the entries in another order) is compared entry by entry,
 * and exactly the differences are named. The index is rewritten through the streaming
 * writer (repo_ixw_*) with the changes, as a damaged or forged index would be. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/maint.h"
#include "repo/admin.h"
#include "tests/tap.h"
#include "tests/unit/test-repo-fixture.h"

#define N_BLOBS 40

struct entries {
	uint8_t pack[ID_BYTES];
	struct repo_ix_blob v[N_BLOBS + 1];
	size_t n;
	size_t packs;
};

static int collect(void *ud, const uint8_t *pack, const struct repo_ix_blob *b)
{
	struct entries *x = ud;

	if (x->n && memcmp(pack, x->pack, ID_BYTES))
		x->packs++;
	if (!x->n) {
		memcpy(x->pack, pack, ID_BYTES);
		x->packs = 1;
	}
	if (x->n < N_BLOBS + 1)
		x->v[x->n] = *b;
	x->n++;
	return 0;
}

static int list_index(void *ud, const char *name, uint64_t size)
{
	struct { struct repo *r; struct entries *x; struct err *e; } *c = ud;

	(void)size;
	return repo_index_walk(c->r, name, collect, c->x, c->e);
}

struct problems {
	char msg[8][512];
	size_t n;
};

static void on_problem(void *ud, const char *msg)
{
	struct problems *p = ud;

	if (p->n < 8)
		snprintf(p->msg[p->n], sizeof(p->msg[p->n]), "%s", msg);
	p->n++;
}

static bool said(const struct problems *p, const char *a, const char *b)
{
	for (size_t i = 0; i < p->n && i < 8; i++)
		if (strstr(p->msg[i], a) && (!b || strstr(p->msg[i], b)))
			return true;
	return false;
}

/* Replace every index file by one listing the pack with v[0..n). */
static int rewrite(const struct rfx *rf, const uint8_t pack[ID_BYTES], const struct repo_ix_blob *v,
                   size_t n)
{
	struct repo *r = NULL;
	struct repo_ixw *w = NULL;
	struct err e = ERR_INIT;
	int rc;

	if (rfx_clear_index(rf) != 0)
		return -EIO;
	rc = repo_open(&rf->o, &r, &e);
	if (rc >= 0)
		rc = repo_ixw_new(r, NULL, 0, &w);
	if (rc >= 0)
		rc = repo_ixw_pack(w, pack, n, &e);
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = repo_ixw_blob(w, &v[i], &e);
	if (rc >= 0)
		rc = repo_ixw_finish(w, NULL, &e);
	if (rc < 0)
		tap_diag("rewrite: %s", e.msg);
	repo_ixw_free(w);
	repo_free(r);
	return rc;
}

static int run_check(const struct rfx *rf, struct problems *p, struct repo_check_ext_result *xr)
{
	static const struct repo_check_opts co = { 0 };
	static const struct repo_check_ext x = { .headers = true };
	struct repo_check_result res;
	struct repo *r = NULL;
	struct err e = ERR_INIT;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = repo_open(&rf->o, &r, &e);
	if (rc >= 0)
		rc = repo_check_full(r, &co, &x, on_problem, p, &res, xr, &e);
	if (rc < 0)
		tap_diag("check: %s", e.msg);
	repo_free(r);
	return rc;
}

int main(void)
{
	char hex[ID_HEX], want[160];
	struct rfx rf;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct entries x = { 0 };
	struct repo_ix_blob v[N_BLOBS + 1];
	struct problems p;
	struct repo_check_ext_result xr;
	struct { struct repo *r; struct entries *x; struct err *e; } lc;
	int rc;

	if (rfx_init(&rf, "maint-headers") < 0)
		return 1;
	ok(rfx_create(&rf, &r, &e) == 0, "create: %s", e.msg);
	rc = r ? 0 : -1;
	for (int i = 0; rc >= 0 && i < N_BLOBS; i++) {
		char blob[64];
		int len = snprintf(blob, sizeof(blob), "blob number %d of the header test", i);

		rc = repo_blob_save(r, BLOB_DATA, blob, (size_t)len, NULL, &e) < 0 ? -1 : 0;
	}
	ok(rc >= 0 && repo_flush(r, &e) == 0, "%d blobs stored in one pack: %s", N_BLOBS, e.msg);
	lc.r = r, lc.x = &x, lc.e = &e;
	rc = backend_list(repo_backend(r), OBJ_INDEX, list_index, &lc, &e);
	ok(rc == 0 && x.n == N_BLOBS && x.packs == 1,
	   "the index lists them in one pack (%zu entries, %zu packs)", x.n, x.packs);
	repo_free(r);
	if (x.n != N_BLOBS || x.packs != 1)
		return tap_done();
	hex_encode(x.pack, ID_BYTES, hex);

	ok(run_check(&rf, &p, &xr) == 0 && p.n == 0 && xr.headers_read == 1,
	   "an index that agrees with the header: no problem (%zu), one header read", p.n);

	/* The same entries, listed backwards: they differ from the header's order only. */
	for (size_t i = 0; i < N_BLOBS; i++)
		v[i] = x.v[N_BLOBS - 1 - i];
	ok(rewrite(&rf, x.pack, v, N_BLOBS) == 0, "rewrite the index backwards");
	ok(run_check(&rf, &p, &xr) == 0 && p.n == 0,
	   "entries in another order: compared one by one, no problem (%zu)", p.n);

	/* One length changed, one entry dropped, one entry the header does not have. */
	memcpy(v, x.v, sizeof(x.v[0]) * N_BLOBS);
	v[3].raw_len += 1;
	v[7] = v[N_BLOBS - 1];
	randombytes_buf(v[N_BLOBS - 1].id, ID_BYTES);
	ok(rewrite(&rf, x.pack, v, N_BLOBS) == 0, "rewrite the index with three changes");
	ok(run_check(&rf, &p, &xr) == 0, "check runs");
	hex_encode(x.v[3].id, ID_BYTES, want);
	ok(said(&p, "disagrees with the pack header", want), "the changed entry is named");
	hex_encode(v[N_BLOBS - 1].id, ID_BYTES, want);
	ok(said(&p, "but the pack header does not", want), "the entry the header lacks is named");
	ok(p.n == 2, "exactly two problems (%zu): a header listing the same count", p.n);
	ok(said(&p, hex, NULL), "the lines name the pack");

	/* An entry fewer than the header. */
	ok(rewrite(&rf, x.pack, x.v, N_BLOBS - 1) == 0, "rewrite the index one entry short");
	ok(run_check(&rf, &p, &xr) == 0, "check runs");
	snprintf(want, sizeof(want), "header lists %d blobs, the index %d", N_BLOBS, N_BLOBS - 1);
	ok(said(&p, want, hex), "the count differs: '%s'", p.n ? p.msg[0] : "");
	ok(p.n == 1, "and nothing else (%zu)", p.n);

	ok(rfx_cleanup(&rf) == 0, "clean up");
	return tap_done();
}
