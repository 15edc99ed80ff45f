/* Owns the S3 location syntax, the s3.* options and where credentials come from
 * (explicit file, environment, AWS shared credentials file with profiles). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3-internal.h"
#include "util/fsutil.h"

#include "util/banned.h"

#define MAX_CRED_FILE (256u << 10)

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

static int dupn(const char *s, size_t n, char **ret)
{
	*ret = strndup(s, n);
	return *ret ? 0 : -ENOMEM;
}

/* The bucket rules of S3 (3-63 of a-z0-9.-); checked here so a typo reads clearly. */
static bool bucket_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)b[i]) && !isdigit((unsigned char)b[i]) && b[i] != '.' &&
		    b[i] != '-')
			return false;
	return true;
}

static int parse_location(const char *spec, struct s3_conf *c, struct err *e)
{
	const char *p = spec, *slash, *end;
	size_t pl;
	int r;

	c->https = true;
	if (strncmp(p, "https://", 8) == 0) {
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		p += 7;
		c->https = false;
	} else if (strstr(p, "://")) {
		return err_set(e, -EINVAL, "s3:%s: only http:// and https:// endpoints exist",
		               spec);
	}
	slash = strchr(p, '/');
	if (!slash || slash == p)
		return err_set(e, -EINVAL,
		               "s3:%s: expected s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]", spec);
	r = dupn(p, (size_t)(slash - p), &c->host);
	if (r < 0)
		return r;
	p = slash + 1;
	end = strchr(p, '/');
	r = dupn(p, end ? (size_t)(end - p) : strlen(p), &c->bucket);
	if (r < 0)
		return r;
	if (!bucket_ok(c->bucket))
		return err_set(e, -EINVAL,
		               "s3:%s: '%s' is not a valid bucket name (3-63 of a-z 0-9 . -)", spec,
		               c->bucket);
	p = end ? end + 1 : "";
	while (*p == '/')
		p++;
	pl = strlen(p);
	while (pl && p[pl - 1] == '/')
		pl--;
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

static int parse_lookup(const struct backend_options *o, struct s3_conf *c, struct err *e)
{
	const char *v = backend_option(o, "s3.bucket-lookup");
	size_t hl = strlen(c->host);

	if (!v || strcmp(v, "auto") == 0)
		/* AWS endpoints are virtual-hosted; everything else (Minio, Swift) path style. */
		c->vhost = (hl >= 13 && strcmp(c->host + hl - 13, "amazonaws.com") == 0);
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
	v = backend_option(o, "s3.insecure-tls");
	c->insecure_tls = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || !v[0]);
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
	free(c->bucket);
	free(c->prefix);
	free(c->ca_file);
	memset(c, 0, sizeof(*c));
}

static int secret_dup(const char *s, size_t n, char **ret)
{
	char *p = sodium_malloc(n + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p, s, n);
	p[n] = 0;
	*ret = p;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* One "key = value" line inside the wanted [profile] section. */
static int cred_line(const char *l, size_t n, struct s3_creds *c)
{
	const char *eq = memchr(l, '=', n), *v;
	size_t kl, vl;

	if (!eq)
		return 0;
	kl = (size_t)(eq - l);
	v = eq + 1;
	vl = n - kl - 1;
	trim(&l, &kl);
	trim(&v, &vl);
	if (kl == 17 && strncasecmp(l, "aws_access_key_id", kl) == 0 && !c->access_key)
		return (c->access_key = strndup(v, vl)) ? 0 : -ENOMEM;
	if (kl == 21 && strncasecmp(l, "aws_secret_access_key", kl) == 0 && !c->secret)
		return secret_dup(v, vl, &c->secret);
	if (kl == 17 && strncasecmp(l, "aws_session_token", kl) == 0 && !c->token)
		return secret_dup(v, vl, &c->token);
	return 0;
}

static int cred_file(const char *path, const char *profile, struct s3_creds *c, struct err *e)
{
	struct buf b = BUF_INIT;
	const char *p, *end;
	bool in = false;
	int r;

	buf_init(&b, MAX_CRED_FILE);
	r = read_file_at(AT_FDCWD, path, &b);
	if (r < 0) {
		buf_release(&b);
		return err_set(e, r == -ENOENT ? -EACCES : r, "S3 credentials file %s: %s", path,
		               strerror(-r));
	}
	for (p = (const char *)b.p, end = p + b.len; p < end && r >= 0;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *l = p;

		p += n + 1;
		trim(&l, &n);
		if (!n || l[0] == '#' || l[0] == ';')
			continue;
		if (l[0] == '[') {
			const char *name = l + 1;
			size_t nn = n >= 2 && l[n - 1] == ']' ? n - 2 : 0;

			trim(&name, &nn);
			/* ~/.aws/config spells sections "[profile NAME]" */
			if (nn > 8 && strncmp(name, "profile ", 8) == 0)
				name += 8, nn -= 8;
			in = nn == strlen(profile) && strncmp(name, profile, nn) == 0;
			continue;
		}
		if (in)
			r = cred_line(l, n, c);
	}
	sodium_memzero(b.p, b.len);
	buf_release(&b);
	if (r < 0)
		return r;
	if (!c->access_key || !c->secret)
		return err_set(e, -EACCES,
		               "S3 credentials file %s: profile '%s' has no "
		               "aws_access_key_id/aws_secret_access_key",
		               path, profile);
	return 0;
}

int s3_creds_load(const struct backend_options *o, struct s3_creds *c, struct err *e)
{
	const char *file = backend_option(o, "s3.credentials-file");
	const char *profile = backend_option(o, "s3.profile");
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN"), *home = getenv("HOME");
	char path[4096];
	int r;

	memset(c, 0, sizeof(*c));
	if (!profile)
		profile = getenv("AWS_PROFILE");
	/* Explicit choices (a file or a profile) beat the environment's keys. */
	if (!file && !profile && ak && ak[0] && sk && sk[0]) {
		if (!(c->access_key = strdup(ak)))
			return -ENOMEM;
		r = secret_dup(sk, strlen(sk), &c->secret);
		if (r >= 0 && tok && tok[0])
			r = secret_dup(tok, strlen(tok), &c->token);
		return r;
	}
	if (!file)
		file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	if (!file && home) {
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
		file = path;
	}
	if (!file || access(file, F_OK) != 0)
		return err_set(e, -EACCES,
		               "no S3 credentials: set AWS_ACCESS_KEY_ID and "
		               "AWS_SECRET_ACCESS_KEY, or give a credentials file");
	return cred_file(file, profile ? profile : "default", c, e);
}

void s3_creds_release(struct s3_creds *c)
{
	free(c->access_key);
	if (c->secret)
		sodium_free(c->secret); /* sodium_free wipes before unmapping */
	if (c->token)
		sodium_free(c->token);
	memset(c, 0, sizeof(*c));
}
