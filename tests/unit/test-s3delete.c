/* DeleteObjects replies against the keys asked for: success only when every key comes
 * back deleted or already missing; silent, stranger, error and truncated replies fail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "s3/s3-internal.h"
#include "tests/tap.h"

#include "util/banned.h"

#define RES(x) \
	"<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" x "</DeleteResult>"
#define DEL(k)    "<Deleted><Key>" k "</Key></Deleted>"
#define ERR(k, c) "<Error><Key>" k "</Key><Code>" c "</Code><Message>m</Message></Error>"

static const char *const keys[] = { "p/index/aa", "p/index/bb", "p/index/cc" };

static int confirm(const char *reply, struct err *e)
{
	err_clear(e);
	return s3_delete_confirm(keys, 3, reply, strlen(reply), e);
}

int main(void)
{
	struct err e = ERR_INIT;

	is_int(confirm(RES(DEL("p/index/cc") DEL("p/index/aa") DEL("p/index/bb")), &e), 0,
	       "every key deleted, in any order");
	is_int(confirm(RES(DEL("p/index/aa") ERR("p/index/bb", "NoSuchKey") DEL("p/index/cc")), &e),
	       0, "NoSuchKey counts as gone");
	ok(confirm(RES(DEL("p/index/aa") DEL("p/index/cc")), &e) == -EPROTO &&
	       strstr(e.msg, "confirmed 2 of 3 keys (first unconfirmed: p/index/bb)"),
	   "a key the reply is silent about fails: %s", e.msg);
	ok(confirm(RES(""), &e) == -EPROTO && strstr(e.msg, "confirmed 0 of 3"),
	   "an empty (Quiet-style) reply is no confirmation: %s", e.msg);
	ok(confirm(RES(DEL("p/index/aa") DEL("p/index/bb") DEL("p/index/cc") DEL("p/index/dd")),
	           &e) == -EPROTO &&
	       strstr(e.msg, "names p/index/dd, which was not asked for"),
	   "a reply naming another key fails: %s", e.msg);
	ok(confirm(RES(DEL("p/index/aa") ERR("p/index/bb", "AccessDenied") DEL("p/index/cc")),
	           &e) == -EACCES &&
	       strstr(e.msg, "S3 delete p/index/bb: AccessDenied"),
	   "a 200 with an <Error> entry fails, naming the key: %s", e.msg);
	ok(confirm(RES(DEL("p/index/aa") ERR("p/index/bb", "InternalError") DEL("p/index/cc")),
	           &e) == -EPROTO,
	   "InternalError entry fails");
	ok(confirm("<DeleteResult><Deleted><Key>p/index/aa</Key></Deleted><Dele", &e) == -EPROTO &&
	       strstr(e.msg, "malformed"),
	   "a truncated reply fails: %s", e.msg);
	is_int(s3_delete_confirm(keys, 0, RES(""), strlen(RES("")), &e), 0,
	       "no keys, nothing to confirm");
	return tap_done();
}
