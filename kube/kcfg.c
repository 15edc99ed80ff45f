/* Owns finding the API server: kubeconfig files (parsed with libyaml's document API) and
 * the in-cluster service-account folder. Secrets are read into memory, never logged. */
#include "kube/kube.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "util/banned.h"
#include "util/fsutil.h"

void kcfg_release(struct kube_config *c)
{
	if (c->token)
		sodium_memzero(c->token, strlen(c->token));
	if (c->key_data)
		sodium_memzero(c->key_data, c->key_len);
	free(c->server);
	free(c->ns);
	free(c->token);
	free(c->token_file);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_data);
	free(c->cert_data);
	free(c->key_data);
	memset(c, 0, sizeof(*c));
}

static int read_small(const char *path, struct buf *b)
{
	int r;

	buf_init(b, KCFG_FILE_MAX);
	r = read_file_at(AT_FDCWD, path, b);
	if (r < 0)
		buf_release(b);
	return r;
}

/* ---- navigating a libyaml document ---- */

static yaml_node_t *ymap(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	size_t kl = strlen(key);
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == kl &&
		    memcmp(k->data.scalar.value, key, kl) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static bool yeq(yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

/* A copy of a scalar (NULL when absent or not a scalar; "" kept as ""). */
static int ystr(yaml_node_t *n, char **ret)
{
	char *s;

	*ret = NULL;
	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	s = strndup((const char *)n->data.scalar.value, n->data.scalar.length);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* The `inner` mapping of the entry of list `list` whose name is `name`
 * (clusters: [{name: x, cluster: {...}}]). */
static yaml_node_t *ynamed(yaml_document_t *d, yaml_node_t *root, const char *list,
                           const char *name, const char *inner)
{
	yaml_node_t *seq = ymap(d, root, list);
	yaml_node_item_t *i;

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
		yaml_node_t *entry = yaml_document_get_node(d, *i);

		if (yeq(ymap(d, entry, "name"), name))
			return ymap(d, entry, inner);
	}
	return NULL;
}

static bool ytrue(yaml_node_t *n)
{
	return yeq(n, "true") || yeq(n, "True") || yeq(n, "TRUE") || yeq(n, "yes");
}

/* Base64 "-data" fields hold PEM; decoded into a malloc'ed blob. */
static int ydata(yaml_node_t *n, uint8_t **ret, size_t *ret_len)
{
	const char *s;
	size_t sl, len = 0;
	uint8_t *p;

	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	s = (const char *)n->data.scalar.value;
	sl = n->data.scalar.length;
	p = malloc(sl / 4 * 3 + 4);
	if (!p)
		return -ENOMEM;
	if (sodium_base642bin(p, sl / 4 * 3 + 4, s, sl, " \t\r\n", &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(p);
		return -EINVAL;
	}
	*ret = p;
	*ret_len = len;
	return 0;
}

/* Relative paths in a kubeconfig are relative to the file's folder. */
static int ypath(yaml_node_t *n, const char *base_dir, char **ret)
{
	char *s = NULL;
	int r = ystr(n, &s);

	if (r < 0 || !s || s[0] == '/' || !base_dir) {
		*ret = s;
		return r;
	}
	r = asprintf(ret, "%s/%s", base_dir, s);
	free(s);
	if (r < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int kcfg_from_doc(yaml_document_t *d, const char *base_dir, const char *context,
                         struct kube_config *c, struct err *e)
{
	yaml_node_t *root = yaml_document_get_root_node(d), *ctx, *cl, *us;
	char *cur = NULL, *cluster = NULL, *user = NULL;
	int r;

	if (context)
		cur = strdup(context);
	else if ((r = ystr(ymap(d, root, "current-context"), &cur)) < 0)
		goto fail;
	if (!cur || !cur[0]) {
		r = err_set(e, -EINVAL, "kubeconfig has no current-context");
		goto fail;
	}
	ctx = ynamed(d, root, "contexts", cur, "context");
	if (!ctx) {
		r = err_set(e, -EINVAL, "kubeconfig has no context named '%s'", cur);
		goto fail;
	}
	if ((r = ystr(ymap(d, ctx, "cluster"), &cluster)) < 0 ||
	    (r = ystr(ymap(d, ctx, "user"), &user)) < 0 ||
	    (r = ystr(ymap(d, ctx, "namespace"), &c->ns)) < 0)
		goto fail;
	cl = cluster ? ynamed(d, root, "clusters", cluster, "cluster") : NULL;
	if (!cl) {
		r = err_set(e, -EINVAL, "kubeconfig context '%s' names no known cluster", cur);
		goto fail;
	}
	if ((r = ystr(ymap(d, cl, "server"), &c->server)) < 0 ||
	    (r = ypath(ymap(d, cl, "certificate-authority"), base_dir, &c->ca_file)) < 0)
		goto fail;
	r = ydata(ymap(d, cl, "certificate-authority-data"), &c->ca_data, &c->ca_len);
	if (r < 0) {
		err_set(e, r, "kubeconfig cluster '%s': bad certificate-authority-data", cluster);
		goto fail;
	}
	c->insecure = ytrue(ymap(d, cl, "insecure-skip-tls-verify"));
	if (!c->server || !c->server[0]) {
		r = err_set(e, -EINVAL, "kubeconfig cluster '%s' has no server", cluster);
		goto fail;
	}
	us = user ? ynamed(d, root, "users", user, "user") : NULL;
	if (us) {
		if ((r = ystr(ymap(d, us, "token"), &c->token)) < 0 ||
		    (r = ypath(ymap(d, us, "tokenFile"), base_dir, &c->token_file)) < 0 ||
		    (r = ypath(ymap(d, us, "client-certificate"), base_dir, &c->cert_file)) < 0 ||
		    (r = ypath(ymap(d, us, "client-key"), base_dir, &c->key_file)) < 0)
			goto fail;
		if ((r = ydata(ymap(d, us, "client-certificate-data"), &c->cert_data,
		               &c->cert_len)) < 0 ||
		    (r = ydata(ymap(d, us, "client-key-data"), &c->key_data, &c->key_len)) < 0) {
			err_set(e, r, "kubeconfig user '%s': bad client certificate or key data",
			        user);
			goto fail;
		}
	}
	r = 0;
fail:
	free(cur);
	free(cluster);
	free(user);
	return r;
}

static void trim_server(struct kube_config *c)
{
	size_t n = strlen(c->server);

	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = 0;
}

int kcfg_load_file(const char *path, const char *context, struct kube_config *ret, struct err *e)
{
	struct kube_config c = { 0 };
	struct buf b = BUF_INIT;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_parser = false, have_doc = false;
	char *dir = NULL, *slash;
	int r;

	r = read_small(path, &b);
	if (r < 0) {
		err_set(e, r, "kubeconfig %s: %s", path, strerror(-r));
		goto fail;
	}
	dir = strdup(path);
	r = -ENOMEM;
	if (!dir || !yaml_parser_initialize(&parser))
		goto fail;
	have_parser = true;
	yaml_parser_set_input_string(&parser, b.p, b.len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = err_reset(e, -EINVAL, "kubeconfig %s: YAML error at line %zu: %s", path,
		              parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
		goto fail;
	}
	have_doc = true;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	r = kcfg_from_doc(&doc, slash ? dir : ".", context, &c, e);
	if (r < 0) {
		err_wrap(e, r, "kubeconfig %s", path);
		goto fail;
	}
	r = -ENOMEM;
	if (!c.ns && !(c.ns = strdup("default")))
		goto fail;
	trim_server(&c);
	*ret = c;
	memset(&c, 0, sizeof(c));
	r = 0;
fail:
	kcfg_release(&c);
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	if (b.p)
		sodium_memzero(b.p, b.len);
	buf_release(&b);
	free(dir);
	return r;
}

int kcfg_in_cluster(const char *sa_dir, struct kube_config *ret, struct err *e)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_config c = { 0 };
	struct buf b = BUF_INIT;
	char *nsfile = NULL;
	int r;

	if (!host || !host[0] || !port || !port[0])
		return err_set(e, -ENOENT, "not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
	if (!sa_dir)
		sa_dir = KCFG_SA_DIR;
	r = -ENOMEM;
	if (asprintf(&c.server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
	             port) < 0) {
		c.server = NULL;
		goto fail;
	}
	if (asprintf(&c.token_file, "%s/token", sa_dir) < 0) {
		c.token_file = NULL;
		goto fail;
	}
	if (asprintf(&c.ca_file, "%s/ca.crt", sa_dir) < 0) {
		c.ca_file = NULL;
		goto fail;
	}
	if (access(c.token_file, R_OK) != 0) {
		r = err_set(e, -errno, "in-cluster: cannot read %s: %s", c.token_file,
		            strerror(errno));
		goto fail;
	}
	if (read_small(c.ca_file, &b) < 0) {
		free(c.ca_file); /* plain-HTTP test servers have no CA */
		c.ca_file = NULL;
	}
	buf_release(&b);
	r = -ENOMEM;
	if (asprintf(&nsfile, "%s/namespace", sa_dir) < 0) {
		nsfile = NULL;
		goto fail;
	}
	if (read_small(nsfile, &b) == 0) {
		size_t n = b.len;

		while (n > 0 && (b.p[n - 1] == '\n' || b.p[n - 1] == ' '))
			n--;
		c.ns = strndup((const char *)b.p, n);
		buf_release(&b);
	}
	r = -ENOMEM;
	if (!c.ns && !(c.ns = strdup("default")))
		goto fail;
	*ret = c;
	memset(&c, 0, sizeof(c));
	r = 0;
fail:
	kcfg_release(&c);
	free(nsfile);
	return r;
}

int kcfg_load(const char *flag, struct kube_config *ret, struct err *e)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[4096];
	int r;

	if (flag && flag[0])
		return kcfg_load_file(flag, NULL, ret, e);
	if (env && env[0]) {
		/* A list like kubectl's; we take the first file that exists (no merging). */
		const char *p = env;

		while (*p) {
			size_t n = strcspn(p, ":");

			if (n > 0 && n < sizeof(path)) {
				memcpy(path, p, n);
				path[n] = 0;
				if (access(path, R_OK) == 0)
					return kcfg_load_file(path, NULL, ret, e);
			}
			p += n + (p[n] == ':');
		}
	}
	r = kcfg_in_cluster(NULL, ret, e);
	if (r != -ENOENT)
		return r;
	err_clear(e);
	if (home && snprintf(path, sizeof(path), "%s/.kube/config", home) < (int)sizeof(path) &&
	    access(path, R_OK) == 0)
		return kcfg_load_file(path, NULL, ret, e);
	return err_set(
	    e, -ENOENT,
	    "no Kubernetes configuration: give --kubeconfig, set KUBECONFIG, or run in a pod");
}
