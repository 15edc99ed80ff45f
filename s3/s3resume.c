/* Owns the resumption of a GET whose body was cut: the rest is asked for with a Range
 * from the first missing byte and If-Match the first reply's ETag, and each reply is
 * checked to be the same object from that byte on (s3_request drives it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3-internal.h"

#include "util/banned.h"

/* A cut GET that brought at least this much resumes without counting as a failure, but
 * at most RESUMES_FREE times, so a server that trickles bytes cannot keep it forever. */
#define RESUME_PROGRESS (256u << 10)
#define RESUMES_FREE    32u

/* After a cut transfer: keep what arrived if the request can go on from there (the first
 * reply was the body asked for, with a length and an ETag). Returns true when this
 * attempt does not count as a failure: it brought RESUME_PROGRESS and the free ones last. */
bool s3_resume_keep(const struct s3_req *rq, const struct s3_resp *rs, size_t out_base,
                    struct s3_resume *rm)
{
	uint64_t got;

	/* Objects only: a listing is generated per request, a Range means nothing to it. */
	if (!rq->out || strcmp(rq->method, "GET") != 0 || !rq->key || rq->query ||
	    rs->status < 200 || rs->status >= 300)
		return false;
	got = rq->out->len - out_base - rm->done;
	if (!rm->etag[0]) {
		if (!got || !rs->etag[0] || !rs->have_length || rs->length <= got ||
		    rs->status != (rq->range ? 206 : 200))
			return false;
		snprintf(rm->etag, sizeof(rm->etag), "%s", rs->etag);
		rm->total = rs->length;
	}
	rm->done += got;
	if (got < RESUME_PROGRESS || rm->free_used >= RESUMES_FREE)
		return false;
	rm->free_used++;
	return true;
}

/* The request that asks for the rest: Range from the first missing byte, If-Match. */
void s3_resume_req(const struct s3_req *rq, const struct s3_resume *rm, struct s3_req *rr,
                   uint64_t *skip, uint64_t *room)
{
	*rr = *rq;
	*skip = 0;
	*room = UINT64_MAX;
	if (!rm->etag[0]) {
		/* A first ranged GET takes no more than the range, and from a 200 (a server
		 * that ignores Range) only the range's bytes. */
		if (rq->range) {
			*skip = rq->range_off;
			*room = rq->range_len ? rq->range_len : UINT64_MAX;
		}
		return;
	}
	rr->range = true;
	rr->range_off = rq->range_off + rm->done;
	rr->range_len = rq->range_len ? rq->range_len - rm->done : 0;
	rr->if_match = rm->etag;
	*skip = rr->range_off; /* only if the server ignores the Range and sends it all */
	*room = rm->total - rm->done;
}

/* A reply to a resumed GET: the same object (ETag), and the bytes from where we stopped. */
int s3_resume_check(const struct s3_req *rq, const struct s3_req *rr, const struct s3_resp *rs,
                    const struct s3_resume *rm, struct err *e)
{
	const char *key = s3_req_name(rq);

	/* 416: the rest asked for lies inside the first reply's length, so the object is now
	 * shorter than it was (a server may check the Range before If-Match). */
	if (rs->status == 412 || rs->status == 416 ||
	    (rs->status >= 200 && rs->status < 300 && strcmp(rs->etag, rm->etag) != 0))
		return err_set(e, -ESTALE,
		               "S3 %s %s: the object changed while it was read (ETag %s, then %s "
		               "when resuming at byte %llu); nothing of it was kept",
		               rq->op, key, rm->etag,
		               rs->status == 412   ? "412 Precondition Failed"
		               : rs->status == 416 ? "416 Range Not Satisfiable"
		                                   : rs->etag,
		               (unsigned long long)rm->done);
	return s3_range_check(rq, rr, rs, e);
}

int s3_range_check(const struct s3_req *rq, const struct s3_req *rr, const struct s3_resp *rs,
                   struct err *e)
{
	const char *key = s3_req_name(rq);
	unsigned long long start;
	char *end = NULL;
	bool ok;

	if (!rr->range || rs->status != 206)
		return 0;
	errno = 0;
	ok = strncmp(rs->content_range, "bytes ", 6) == 0;
	start = ok ? strtoull(rs->content_range + 6, &end, 10) : 0;
	if (!ok || errno || *end != '-' || start != rr->range_off)
		return err_set(e, -EPROTO,
		               "S3 %s %s: asked for bytes from %llu but the 206 reply's "
		               "Content-Range is '%s'",
		               rq->op, key, (unsigned long long)rr->range_off, rs->content_range);
	return 0;
}
