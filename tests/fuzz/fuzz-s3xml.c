/* Fuzz target: the S3 XML reply parsers (expat). Every reply goes through all five; it
 * decodes when one of them accepts it. */
#include <string.h>

#include "s3/s3xml.h"
#include "tests/fuzz/fuzz.h"

static int on_entry(void *ud, const char *key, uint64_t size)
{
	(void)size;
	*(size_t *)ud += strlen(key);
	return 0;
}

static int on_delete(void *ud, const char *key, const char *code, const char *msg)
{
	*(size_t *)ud += strlen(key) + strlen(code) + strlen(msg);
	return 0;
}

int fuzz_decode(const uint8_t *data, size_t size)
{
	char upload[S3XML_MAX_TEXT + 1], etag[S3XML_MAX_TEXT + 1];
	struct s3xml_error er;
	struct s3xml_list ls;
	size_t seen = 0;
	int good = 0;

	good += s3xml_list(data, size, on_entry, &seen, &ls) >= 0;
	good += s3xml_error(data, size, &er) >= 0;
	good += s3xml_upload_id(data, size, upload, sizeof(upload)) >= 0;
	good += s3xml_complete(data, size, etag, sizeof(etag), &er) >= 0;
	good += s3xml_delete(data, size, on_delete, &seen) >= 0;
	return good > 0;
}
