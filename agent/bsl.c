/* Owns turning a velero.io/v1 BackupStorageLocation into a cairn repository URL and S3
 * backend options: one repository per pod namespace under <prefix>/plugins/cairn/. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/hex.h"

#include "util/banned.h"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int add_opt(char **opts, size_t n_max, size_t *n, const char *k, const char *v)
{
	char *s;

	if (*n >= n_max)
		return -E2BIG;
	if (asprintf(&s, "%s=%s", k, v) < 0)
		return -ENOMEM;
	opts[(*n)++] = s;
	return 0;
}

#define CA_CERT_MAX (256u * 1024)

/* spec.objectStorage.caCert is base64 PEM; libcurl wants a file. Write it once, named by
 * its hash, so concurrent jobs of one location share it and nothing is rewritten. */
static int ca_file(const char *b64, char *path, size_t n, struct err *e)
{
	size_t len = strlen(b64), got = 0;
	uint8_t *pem = NULL, h[16];
	char hex[33];
	const char *tmp = getenv("TMPDIR");
	int r;

	if (len > CA_CERT_MAX * 2)
		return err_set(e, -EFBIG, "caCert of the backup storage location is too large");
	pem = malloc(len + 1);
	if (!pem)
		return -ENOMEM;
	if (sodium_base642bin(pem, len, b64, len, " \n\r", &got, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) < 0) {
		free(pem);
		return err_set(e, -EINVAL, "caCert of the backup storage location is not base64");
	}
	crypto_generichash(h, sizeof(h), pem, got, NULL, 0);
	hex_encode(h, sizeof(h), hex);
	snprintf(path, n, "%s/cairn-ca-%s.pem", tmp && tmp[0] ? tmp : "/tmp", hex);
	r = write_atomic_at(AT_FDCWD, path, pem, got, 0644);
	free(pem);
	return r < 0 ? err_set(e, r, "cannot write the CA file %s", path) : 0;
}

/* Strip slashes at both ends of a prefix so "a/b/", "/a/b" and "a/b" all give "a/b". */
static void trim_slashes(const char *s, const char **ret, int *ret_len)
{
	size_t n;

	while (*s == '/')
		s++;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		n--;
	*ret = s;
	*ret_len = (int)n;
}

static int repo_url(const json_t *bsl, const char *pod_ns, bool allow_ro, char **ret_url,
                    char **opts, size_t n_max, size_t *ret_n, struct err *e)
{
	const json_t *spec = json_object_get(bsl, "spec");
	const json_t *os = json_object_get(spec, "objectStorage");
	const json_t *cfg = json_object_get(spec, "config");
	const char *name = jstr(json_object_get(bsl, "metadata"), "name");
	const char *mode = jstr(spec, "accessMode"), *bucket = jstr(os, "bucket");
	const char *prefix = jstr(os, "prefix"), *s3url = jstr(cfg, "s3Url");
	const char *region = jstr(cfg, "region"), *insecure = jstr(cfg, "insecureSkipTLSVerify");
	const char *provider = jstr(spec, "provider"), *p, *u;
	char *url = NULL, host[512];
	size_t n = 0, i;
	int pl, ul, r;

	if (!name)
		name = "?";
	if (!allow_ro && mode && strcmp(mode, "ReadOnly") == 0)
		return err_set(e, -EROFS,
		               "backup storage location %s is in ReadOnly access mode: no backup "
		               "can be written there",
		               name);
	if (provider && !strstr(provider, "aws") && !s3url)
		return err_set(e, -EINVAL,
		               "backup storage location %s: provider %s is not S3-compatible", name,
		               provider);
	if (!bucket || !bucket[0] || strchr(bucket, '/'))
		return err_set(e, -EINVAL, "backup storage location %s has no usable bucket", name);
	if (!s3url || !s3url[0]) {
		/* AWS itself: the regional endpoint. */
		snprintf(host, sizeof(host), "https://s3.%s.amazonaws.com",
		         region && region[0] ? region : "us-east-1");
		s3url = host;
	}
	trim_slashes(prefix ? prefix : "", &p, &pl);
	u = s3url;
	ul = (int)strlen(u);
	while (ul > 0 && u[ul - 1] == '/')
		ul--;
	r = asprintf(&url, "s3:%.*s/%s%s%.*s/plugins/cairn/%s", ul, u, bucket, pl ? "/" : "", pl, p,
	             pod_ns);
	if (r < 0)
		return -ENOMEM;
	if (jstr(os, "caCert") && jstr(os, "caCert")[0]) {
		char ca[4096];

		r = ca_file(jstr(os, "caCert"), ca, sizeof(ca), e);
		if (r < 0 || (r = add_opt(opts, n_max, &n, "s3.ca-file", ca)) < 0)
			goto fail;
	}
	if ((region && region[0] && (r = add_opt(opts, n_max, &n, "s3.region", region)) < 0) ||
	    (insecure && strcmp(insecure, "true") == 0 &&
	     (r = add_opt(opts, n_max, &n, "s3.insecure-tls", "true")) < 0))
		goto fail;
	*ret_url = url;
	*ret_n = n;
	return 0;
fail:
	for (i = 0; i < n; i++)
		free(opts[i]);
	free(url);
	return r;
}

int bsl_repo_url(const json_t *bsl, const char *pod_ns, char **ret_url, char **opts, size_t n_max,
                 size_t *ret_n, struct err *e)
{
	return repo_url(bsl, pod_ns, false, ret_url, opts, n_max, ret_n, e);
}

int bsl_repo_url_read(const json_t *bsl, const char *pod_ns, char **ret_url, char **opts,
                      size_t n_max, size_t *ret_n, bool *ret_ro, struct err *e)
{
	const char *mode = jstr(json_object_get(bsl, "spec"), "accessMode");
	int r = repo_url(bsl, pod_ns, true, ret_url, opts, n_max, ret_n, e);

	if (r == 0)
		*ret_ro = mode && strcmp(mode, "ReadOnly") == 0;
	return r;
}
