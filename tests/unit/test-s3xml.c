/* S3 XML replies: listings, errors, multipart and multi-delete replies, and the
 * malformed, hostile (DOCTYPE/entities) and oversized inputs that must be refused. */
#include "s3/s3xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

#include "util/banned.h"

struct seen {
	int n;
	uint64_t total;
	char last[S3XML_MAX_KEY + 1];
};

static int on_entry(void *ud, const char *key, uint64_t size)
{
	struct seen *s = ud;

	s->n++;
	s->total += size;
	snprintf(s->last, sizeof(s->last), "%s", key);
	return 0;
}

static int stop_at_two(void *ud, const char *key, uint64_t size)
{
	struct seen *s = ud;

	return ++s->n == 2 ? -ECANCELED : 0;
}

#define NS " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static int parse_list(const char *x, struct seen *s, struct s3xml_list *l)
{
	*s = (struct seen){ 0 };
	return s3xml_list(x, strlen(x), on_entry, s, l);
}

static void lists(void)
{
	static const char page[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult" NS ">"
	    "<Name>b</Name><Prefix>p/data/</Prefix><KeyCount>2</KeyCount>"
	    "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
	    "</NextContinuationToken>"
	    "<Contents><Key>p/data/ab/abcd</Key><LastModified>2024-01-01T00:00:00.000Z"
	    "</LastModified><ETag>&quot;x&quot;</ETag><Size>17</Size></Contents>"
	    "<Contents><Size>25</Size><Key>p/data/cd/cd&amp;ef</Key></Contents>"
	    "</ListBucketResult>";
	static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
	                           "<KeyCount>0</KeyCount></ListBucketResult>";
	struct s3xml_list l;
	struct seen s;

	is_int(parse_list(page, &s, &l), 0, "list page parses");
	is_int(s.n, 2, "two entries");
	is_int(s.total, 42, "sizes read");
	is_str(s.last, "p/data/cd/cd&ef", "entities in keys decoded, fields in any order");
	ok(l.truncated, "IsTruncated read");
	is_str(l.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=", "continuation token");
	is_int(l.count, 2, "count");
	is_int(parse_list(last, &s, &l), 0, "empty last page parses");
	ok(!l.truncated && s.n == 0, "empty last page: no entries, not truncated");
	s = (struct seen){ 0 };
	is_int(s3xml_list(page, strlen(page), stop_at_two, &s, &l), -ECANCELED,
	       "callback error stops the listing and is returned");
	is_int(parse_list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
	                  &s, &l),
	       -EPROTO, "truncated listing without a token refused (would loop)");
	is_int(parse_list("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
	                  "</ListBucketResult>",
	                  &s, &l),
	       -EPROTO, "negative size refused");
	is_int(parse_list("<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents>"
	                  "</ListBucketResult>",
	                  &s, &l),
	       -EPROTO, "non-numeric size refused");
	is_int(parse_list("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
	                  &s, &l),
	       -EPROTO, "entry without size refused");
	is_int(
	    parse_list("<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents>", &s, &l),
	    -EPROTO, "unterminated document refused");
	is_int(parse_list("<Error><Code>NoSuchBucket</Code></Error>", &s, &l), -EPROTO,
	       "wrong root element refused");
	is_int(parse_list("", &s, &l), -EPROTO, "empty reply refused");
	is_int(parse_list("<html><body>Bad Gateway</body></html>", &s, &l), -EPROTO,
	       "HTML from a proxy refused");
}

static void hostile(void)
{
	static const char laughs[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE ListBucketResult [<!ENTITY a \"aaaaaaaaaa\">"
	    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
	    "<ListBucketResult><Contents><Key>&b;</Key><Size>1</Size></Contents>"
	    "</ListBucketResult>";
	static const char ext[] = "<?xml version=\"1.0\"?><!DOCTYPE Error SYSTEM "
	                          "\"file:///etc/passwd\"><Error><Code>x</Code></Error>";
	struct s3xml_error e;
	struct s3xml_list l;
	struct seen s;
	char *big;
	size_t n = 2 * S3XML_MAX_TEXT + 64, o;

	is_int(parse_list(laughs, &s, &l), -EPROTO, "DOCTYPE with entities refused");
	is_int(s3xml_error(ext, strlen(ext), &e), -EPROTO, "external DTD refused");
	big = malloc(n + 64);
	if (!ok(big != NULL, "alloc"))
		return;
	o = (size_t)snprintf(big, 64, "<ListBucketResult><Contents><Key>");
	memset(big + o, 'k', S3XML_MAX_TEXT + 1);
	o += S3XML_MAX_TEXT + 1;
	o += (size_t)snprintf(big + o, 64, "</Key><Size>1</Size></Contents></ListBucketResult>");
	is_int(s3xml_list(big, o, on_entry, &s, &l), -EPROTO, "oversized text field refused");
	is_int(s3xml_list(big, (size_t)S3XML_MAX_REPLY + 1, on_entry, &s, &l), -EFBIG,
	       "reply over S3XML_MAX_REPLY refused before parsing");
	free(big);
	big = calloc(1, 400 * 12 + 64);
	if (!big)
		return;
	o = 0;
	o += (size_t)snprintf(big + o, 64, "<ListBucketResult>");
	for (int i = 0; i < 400; i++)
		o += (size_t)snprintf(big + o, 12, "<a>");
	is_int(s3xml_list(big, o, on_entry, &s, &l), -EPROTO, "deep nesting refused");
	free(big);
}

static void errors(void)
{
	static const char auth[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AuthorizationHeaderMalformed"
	    "</Code><Message>The authorization header is malformed; the region 'us-east-1' is "
	    "wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region>"
	    "<RequestId>1</RequestId></Error>";
	static const char sig[] = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
	                          "signature we calculated does not match</Message></Error>";
	struct s3xml_error e;

	is_int(s3xml_error(auth, strlen(auth), &e), 0, "error document parses");
	is_str(e.code, "AuthorizationHeaderMalformed", "code");
	is_str(e.region, "eu-west-1", "region hint");
	is_int(s3xml_error(sig, strlen(sig), &e), 0, "signature error parses");
	is_str(e.code, "SignatureDoesNotMatch", "signature code");
	ok(strstr(e.message, "does not match") != NULL, "message kept");
	ok(e.region[0] == 0, "no region when absent");
	is_int(s3xml_error("<Error><Message>x</Message></Error>", 35, &e), -EPROTO,
	       "error without code refused");
	is_int(s3xml_error("<Error><Code>x</Code>", 21, &e), -EPROTO, "truncated error refused");
}

static void multipart(void)
{
	static const char init[] = "<InitiateMultipartUploadResult" NS "><Bucket>b</Bucket>"
	                           "<Key>k</Key><UploadId>VXBsb2FkIElE-1</UploadId>"
	                           "</InitiateMultipartUploadResult>";
	static const char done[] = "<CompleteMultipartUploadResult><Location>x</Location>"
	                           "<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
	                           "</CompleteMultipartUploadResult>";
	static const char failed[] = "<Error><Code>InternalError</Code><Message>We encountered "
	                             "an internal error</Message></Error>";
	struct s3xml_error e;
	char id[128], etag[128];

	is_int(s3xml_upload_id(init, strlen(init), id, sizeof(id)), 0, "upload id parses");
	is_str(id, "VXBsb2FkIElE-1", "upload id");
	is_int(s3xml_upload_id("<InitiateMultipartUploadResult/>", 32, id, sizeof(id)), -EPROTO,
	       "missing upload id refused");
	is_int(s3xml_upload_id(init, strlen(init), id, 8), -EPROTO,
	       "upload id longer than the buffer refused");
	is_int(s3xml_complete(done, strlen(done), etag, sizeof(etag), &e), 0, "complete parses");
	is_str(etag, "\"3858f62230ac3c915f300c664312c11f-9\"", "multipart etag");
	is_int(s3xml_complete(failed, strlen(failed), etag, sizeof(etag), &e), 1,
	       "200 carrying an Error is reported as an error");
	is_str(e.code, "InternalError", "its code");
	is_int(s3xml_complete("<x/>", 4, etag, sizeof(etag), &e), -EPROTO,
	       "neither result nor error refused");
}

static int on_del_err(void *ud, const char *key, const char *code, const char *msg)
{
	int *n = ud;

	if (!code[0])
		return strcmp(key, "p/keys/aa") == 0 || strcmp(key, "p/keys/ac") == 0 ? 0 : -EINVAL;
	(*n)++;
	return strcmp(key, "p/keys/ab") == 0 && strcmp(code, "AccessDenied") == 0 ? 0 : -EINVAL;
}

static void deletes(void)
{
	static const char rep[] = "<DeleteResult" NS "><Deleted><Key>p/keys/aa</Key></Deleted>"
	                          "<Deleted><Key>p/keys/ac</Key></Deleted><Error><Key>p/keys/ab"
	                          "</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
	                          "</DeleteResult>";
	int n = 0;

	is_int(s3xml_delete(rep, strlen(rep), on_del_err, &n), 2, "two deleted");
	is_int(n, 1, "one error reported with its key and code");
	is_int(s3xml_delete("<DeleteResult>", 14, on_del_err, &n), -EPROTO, "truncated refused");
	is_int(s3xml_delete("<DeleteResult><Deleted></Deleted></DeleteResult>", 48, on_del_err, &n),
	       -EPROTO, "a <Deleted> without a key refused");
}

int main(void)
{
	lists();
	hostile();
	errors();
	multipart();
	deletes();
	return tap_done();
}
