/* Owns turning a velero.io/v1 BackupStorageLocation into a cairn repository URL and S3
 * backend options: one repository per pod namespace under <prefix>/plugins/cairn/. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int bsl_repo_url(const json_t *bsl, const char *pod_ns, char **ret_url, char **opts, size_t n_max,
                 size_t *ret_n, struct err *e)
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
	if (mode && strcmp(mode, "ReadOnly") == 0)
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
