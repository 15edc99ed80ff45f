/* Owns the S3 location syntax (parsed with libcurl's URL API) and the s3.* options.
 * Credentials are s3creds.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3-internal.h"

#include "util/banned.h"

static int opt_u64(const struct backend_options *o, const char *key, uint64_t def, uint64_t min,
                   uint64_t max, uint64_t *ret, struct err *e)
{
	const char *v = backend_option(o, key);
	unsigned long long x;
	char *end;

	*ret = def;
	if (!v)
		return 0;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || v[0] == '-')
		return err_set(e, -EINVAL, "option %s: '%s' is not a number", key, v);
	/* K/M/G suffixes, binary multiples */
	for (const char *u = "KMG"; *end && *u; u++) {
		if (x >> 53)
			return err_set(e, -EINVAL, "option %s: '%s' is too large", key, v);
		x <<= 10;
		if (toupper((unsigned char)*end) == *u) {
			end++;
			break;
		}
		if (!u[1])
			return err_set(e, -EINVAL, "option %s: bad unit in '%s'", key, v);
	}
	if (*end || x < min || x > max)
		return err_set(e, -EINVAL, "option %s: '%s' outside %llu..%llu", key, v,
		               (unsigned long long)min, (unsigned long long)max);
	*ret = x;
	return 0;
}

/* Turning a check off must be spelled out: an empty or mistyped value is an error,
 * never "on". */
static int opt_bool(const struct backend_options *o, const char *key, bool *ret, struct err *e)
{
	static const char *const yes[] = { "true", "1", "yes" }, *const no[] = { "false", "0",
		                                                                 "no" };
	const char *v = backend_option(o, key);

	*ret = false;
	if (!v)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(v, yes[i]) == 0)
			return *ret = true, 0;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return err_set(e, -EINVAL, "option %s: '%.40s' is not true/1/yes or false/0/no", key, v);
}

/* The bucket rules of S3 (3-63 of a-z0-9.-); checked here so a typo reads clearly. */
static bool bucket_ok(const char *b, size_t n)
{
	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)b[i]) && !isdigit((unsigned char)b[i]) && b[i] != '.' &&
		    b[i] != '-')
			return false;
	return true;
}

/* "a/b/" from the path after the bucket: no empty, "." or ".." element (the server
 * would resolve them and sign another key), no control bytes. */
static int prefix_set(const char *p, struct s3_conf *c)
{
	size_t pl;

	while (*p == '/')
		p++;
	pl = strlen(p);
	while (pl && p[pl - 1] == '/')
		pl--;
	for (const char *q = p, *end = p + pl; q < end;) {
		const char *s = memchr(q, '/', (size_t)(end - q));
		size_t n = s ? (size_t)(s - q) : (size_t)(end - q);

		if (!n || (n == 1 && q[0] == '.') || (n == 2 && q[0] == '.' && q[1] == '.'))
			return -EINVAL;
		q += n + 1;
	}
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return -EINVAL;
	c->prefix = malloc(pl + 2);
	if (!c->prefix)
		return -ENOMEM;
	memcpy(c->prefix, p, pl);
	c->prefix[pl] = '/';
	c->prefix[pl + 1] = 0;
	if (!pl)
		c->prefix[0] = 0;
	return 0;
}

/* Host and port as sent in Host ("h", "h:9000", "[::1]:9000"); the name alone for the
 * amazonaws.com test. */
static int host_set(CURLU *u, struct s3_conf *c)
{
	char *host = NULL, *port = NULL, *zone = NULL;
	int r = -EINVAL;

	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
		goto fail;
	/* A zone id ("fe80::1%eth0") is the client's business, never the server's Host. */
	if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK)
		goto fail;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0)
		goto fail;
	r = -ENOMEM;
	c->hostname = strdup(host);
	if (!c->hostname ||
	    asprintf(&c->host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0)
		goto fail;
	r = 0;
fail:
	curl_free(host);
	curl_free(port);
	curl_free(zone);
	return r;
}

/* Parsed with libcurl's URL API; messages echo the URL only when it carries no user
 * info (which could be a key pair pasted into the location). */
static int parse_location(const char *spec, struct s3_conf *c, struct err *e)
{
	const char *shown = strchr(spec, '@') ? "(location with user info)" : spec;
	const char *sep = strstr(spec, "://");
	char *url = NULL, *scheme = NULL, *path = NULL, *part = NULL, *bucket_end;
	size_t bl;
	CURLU *u = curl_url();
	CURLUcode cu;
	int r = -ENOMEM;

	if (!u)
		goto fail;
	/* "HOST/BUCKET" means HTTPS; curl would guess plain http from the name. */
	if (asprintf(&url, "%s%s", sep ? "" : "https://", spec) < 0) {
		url = NULL;
		goto fail;
	}
	/* "https:///b" would be read as host "b"; "https:/b" is not a URL. */
	if (sep && sep[3] == '/') {
		r = err_set(e, -EINVAL, "s3:%s: no host", shown);
		goto fail;
	}
	cu = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (cu != CURLUE_OK) {
		r = err_set(e, -EINVAL,
		            "s3:%s: %s; expected s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]", shown,
		            curl_url_strerror(cu));
		goto fail;
	}
	r = -EINVAL;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
		r = err_set(e, r, "s3:%s: only http:// and https:// endpoints exist", shown);
		goto fail;
	}
	c->https = scheme[4] == 's';
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
		r = err_set(e, r,
		            "s3:%s: credentials do not belong in the location (use "
		            "AWS_ACCESS_KEY_ID or a credentials file)",
		            shown);
		goto fail;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		r = err_set(e, r, "s3:%s: a location has no ?query or #fragment", shown);
		goto fail;
	}
	r = host_set(u, c);
	if (r < 0) {
		r = r == -EINVAL ? err_set(e, r, "s3:%s: bad host or port", shown) : r;
		goto fail;
	}
	r = -EINVAL;
	if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
		r = err_set(e, r, "s3:%s: bad path", shown);
		goto fail;
	}
	bucket_end = strchr(path + 1, '/');
	bl = bucket_end ? (size_t)(bucket_end - path - 1) : strlen(path + 1);
	if (!bucket_ok(path + 1, bl)) {
		r = err_set(e, r, "s3:%s: '%.*s' is not a valid bucket name (3-63 of a-z 0-9 . -)",
		            shown, (int)(bl < 80 ? bl : 80), path + 1);
		goto fail;
	}
	r = -ENOMEM;
	c->bucket = strndup(path + 1, bl);
	if (!c->bucket)
		goto fail;
	r = prefix_set(bucket_end ? bucket_end : "", c);
	if (r == -EINVAL)
		r = err_set(e, r, "s3:%s: bad prefix (empty, '.' or '..' element, or control byte)",
		            shown);
fail:
	curl_free(part);
	curl_free(path);
	curl_free(scheme);
	free(url);
	curl_url_cleanup(u);
	return r;
}

static int parse_lookup(const struct backend_options *o, struct s3_conf *c, struct err *e)
{
	const char *v = backend_option(o, "s3.bucket-lookup");
	size_t hl = strlen(c->hostname);

	if (!v || strcmp(v, "auto") == 0)
		/* AWS endpoints are virtual-hosted; everything else (Minio, Swift) path style. */
		c->vhost = (hl >= 13 && strcmp(c->hostname + hl - 13, "amazonaws.com") == 0);
	else if (strcmp(v, "dns") == 0)
		c->vhost = true;
	else if (strcmp(v, "path") == 0)
		c->vhost = false;
	else
		return err_set(e, -EINVAL, "option s3.bucket-lookup: '%s' (use auto, dns or path)",
		               v);
	if (c->vhost && strchr(c->bucket, '.') && c->https)
		return err_set(e, -EINVAL,
		               "bucket %s: dotted names break TLS with "
		               "s3.bucket-lookup=dns; use path",
		               c->bucket);
	return 0;
}

int s3_conf_parse(const char *spec, const struct backend_options *o, struct s3_conf *c,
                  struct err *e)
{
	const char *region = backend_option(o, "s3.region"), *v;
	uint64_t x;
	int r;

	memset(c, 0, sizeof(*c));
	r = parse_location(spec, c, e);
	if (r >= 0)
		r = parse_lookup(o, c, e);
	if (r < 0)
		return r;
	if (!region)
		region = getenv("AWS_REGION");
	if (!region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !region[0])
		region = "us-east-1";
	if (strlen(region) >= sizeof(c->region) || strpbrk(region, "/ \n"))
		return err_set(e, -EINVAL, "bad S3 region '%.40s'", region);
	snprintf(c->region, sizeof(c->region), "%s", region);
	v = backend_option(o, "s3.ca-file");
	if (v && !(c->ca_file = strdup(v)))
		return -ENOMEM;
	r = opt_bool(o, "s3.insecure-tls", &c->insecure_tls, e);
	if (r < 0)
		return r;
	v = backend_option(o, "s3.clock-offset");
	if (v) {
		char *end;

		errno = 0;
		c->clock_offset = strtol(v, &end, 10);
		if (errno || end == v || *end || labs(c->clock_offset) > 366L * 86400)
			return err_set(e, -EINVAL, "option s3.clock-offset: '%.40s' is not seconds",
			               v);
	}
	r = opt_u64(o, "s3.connections", 8, 1, 256, &x, e);
	c->connections = (unsigned)x;
	if (r >= 0)
		r = opt_u64(o, "s3.retries", 6, 1, 50, &x, e);
	c->max_attempts = (unsigned)x;
	if (r >= 0)
		r = opt_u64(o, "s3.retry-base-ms", 200, 1, 60000, &x, e);
	c->retry_base_ms = (unsigned)x;
	if (r >= 0)
		r = opt_u64(o, "s3.stall-timeout", 30, 1, 3600, &x, e);
	c->stall_seconds = (long)x;
	if (r >= 0)
		r = opt_u64(o, "s3.min-rate", 16u << 10, 0, 1ull << 40, &c->min_rate, e);
	if (r >= 0)
		r = opt_u64(o, "s3.connect-timeout", 10, 1, 600, &x, e);
	c->connect_timeout = (long)x;
	if (r >= 0)
		r = opt_u64(o, "s3.part-size", 16u << 20, S3_MIN_PART, 5ull << 30, &c->part_size,
		            e);
	if (r >= 0)
		r = opt_u64(o, "s3.multipart-threshold", 64u << 20, S3_MIN_PART, 5ull << 30,
		            &c->multipart_threshold, e);
	return r;
}

void s3_conf_release(struct s3_conf *c)
{
	free(c->host);
	free(c->hostname);
	free(c->bucket);
	free(c->prefix);
	free(c->ca_file);
	memset(c, 0, sizeof(*c));
}
