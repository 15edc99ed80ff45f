/* The resumption of a cut GET, attempt by attempt: what is kept, the Range and If-Match
 * of the next request, the checks on its reply, and the bound on free resumes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "s3/s3-internal.h"
#include "tests/tap.h"

#include "util/banned.h"

#define KIB 1024u

static struct buf out = BUF_INIT;

/* A reply that brought n more bytes into out. */
static struct s3_resp reply(long status, const char *etag, uint64_t length, size_t n)
{
	struct s3_resp rs = { .status = status, .length = length, .have_length = true };
	static const uint8_t zero[64 * 1024];

	snprintf(rs.etag, sizeof(rs.etag), "%s", etag);
	while (n) {
		size_t k = n < sizeof(zero) ? n : sizeof(zero);

		if (buf_append(&out, zero, k) < 0)
			break;
		n -= k;
	}
	return rs;
}

static void whole_object(void)
{
	struct s3_req rq = {
		.op = "get", .method = "GET", .key = "p/data/ab/ab", .fd = -1, .out = &out
	};
	struct s3_req rr;
	struct s3_resume rm = { 0 };
	struct s3_resp rs;
	struct err e = ERR_INIT;
	uint64_t skip, room;

	buf_reset(&out);
	s3_resume_req(&rq, &rm, &rr, &skip, &room);
	ok(!rr.range && !rr.if_match && room == UINT64_MAX, "the first attempt is the request");
	rs = reply(200, "\"e1\"", 1000 * KIB, 300 * KIB);
	ok(s3_resume_keep(&rq, &rs, 0, &rm) && rm.done == 300 * KIB,
	   "a cut after 300 KiB keeps them and is free");
	s3_resume_req(&rq, &rm, &rr, &skip, &room);
	ok(rr.range && rr.range_off == 300 * KIB && rr.range_len == 0 && rr.if_match &&
	       strcmp(rr.if_match, "\"e1\"") == 0,
	   "the next asks for bytes=307200- with If-Match the first ETag");
	ok(skip == 300 * KIB && room == 700 * KIB, "a 200 would have 300 KiB dropped, 700 wanted");
	rs = reply(206, "\"e1\"", 700 * KIB, 0);
	snprintf(rs.content_range, sizeof(rs.content_range), "bytes 307200-1023999/1024000");
	is_int(s3_resume_check(&rq, &rr, &rs, &rm, &e), 0, "a 206 from byte 307200 is accepted");
	snprintf(rs.content_range, sizeof(rs.content_range), "bytes 0-1023999/1024000");
	err_clear(&e);
	is_int(s3_resume_check(&rq, &rr, &rs, &rm, &e), -EPROTO,
	       "a 206 from another byte is refused: %s", e.msg);
	rs.status = 200;
	is_int(s3_resume_check(&rq, &rr, &rs, &rm, &e), 0, "a 200 (Range ignored) is accepted");
	snprintf(rs.etag, sizeof(rs.etag), "\"e2\"");
	err_clear(&e);
	is_int(s3_resume_check(&rq, &rr, &rs, &rm, &e), -ESTALE, "another ETag is -ESTALE");
	ok(strstr(e.msg, "changed while it was read (ETag \"e1\", then \"e2\" when resuming at "
	                 "byte 307200)"),
	   "%s", e.msg);
	rs = reply(412, "", 0, 0);
	err_clear(&e);
	is_int(s3_resume_check(&rq, &rr, &rs, &rm, &e), -ESTALE, "a 412 is -ESTALE");
	ok(strstr(e.msg, "then 412 Precondition Failed when resuming"), "%s", e.msg);
	rs = reply(416, "", 0, 0);
	err_clear(&e);
	is_int(s3_resume_check(&rq, &rr, &rs, &rm, &e), -ESTALE,
	       "a 416 (now shorter than the bytes kept) is -ESTALE");
	ok(strstr(e.msg, "then 416 Range Not Satisfiable when resuming"), "%s", e.msg);
	rs = reply(206, "\"e1\"", 700 * KIB, 100 * KIB);
	ok(!s3_resume_keep(&rq, &rs, 0, &rm) && rm.done == 400 * KIB,
	   "a cut after 100 KiB more keeps them but counts as a failure");
}

static void ranged_and_bounds(void)
{
	struct s3_req rq = { .op = "get",
		             .method = "GET",
		             .key = "p/data/ab/ab",
		             .fd = -1,
		             .out = &out,
		             .range = true,
		             .range_off = 1000,
		             .range_len = 10000 * KIB };
	struct s3_req rr;
	struct s3_resume rm = { 0 };
	struct s3_resp rs;
	uint64_t skip, room;
	unsigned free_ = 0;

	buf_reset(&out);
	rs = reply(200, "\"e1\"", 20000 * KIB, 300 * KIB);
	ok(!s3_resume_keep(&rq, &rs, 0, &rm) && !rm.etag[0],
	   "a 200 to a ranged GET (the whole object) is not resumed");
	buf_reset(&out);
	rs = reply(206, "", 10000 * KIB, 300 * KIB);
	ok(!s3_resume_keep(&rq, &rs, 0, &rm) && !rm.etag[0], "nor a reply without an ETag");
	buf_reset(&out);
	rs = reply(206, "\"e1\"", 10000 * KIB, 300 * KIB);
	s3_resume_keep(&rq, &rs, 0, &rm);
	s3_resume_req(&rq, &rm, &rr, &skip, &room);
	ok(rr.range_off == 1000 + 300 * KIB && rr.range_len == 9700 * KIB &&
	       skip == 1000 + 300 * KIB && room == 9700 * KIB,
	   "a ranged GET goes on inside its range");
	for (unsigned i = 0; i < 35; i++) {
		rs = reply(206, "\"e1\"", 9000 * KIB, 256 * KIB);
		free_ += s3_resume_keep(&rq, &rs, 0, &rm);
	}
	is_int(free_, 31, "free resumes stop at 32 (one was the first cut)");
	buf_reset(&out);
	rm = (struct s3_resume){ 0 };
	rq.query = "list-type=2";
	rs = reply(200, "\"e1\"", 20000 * KIB, 300 * KIB);
	ok(!s3_resume_keep(&rq, &rs, 0, &rm), "a GET with a query (a listing) is not resumed");
}

int main(void)
{
	buf_init(&out, 64u << 20);
	whole_object();
	ranged_and_bounds();
	buf_release(&out);
	return tap_done();
}
