/* kubeconfig and in-cluster loading: contexts, relative paths, -data blobs, errors. */
#include "kube/kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap.h"
#include "util/banned.h"

static char dir[] = "/tmp/test-kubeconfig-XXXXXX";

static void put(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static const char kubeconfig[] = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: dev\n"
                                 "clusters:\n"
                                 "- name: prod\n"
                                 "  cluster:\n"
                                 "    server: https://prod.example:6443\n"
                                 "    certificate-authority: certs/ca.pem\n"
                                 "- name: dev\n"
                                 "  cluster:\n"
                                 "    server: http://127.0.0.1:8080/\n"
                                 "    insecure-skip-tls-verify: true\n"
                                 "    certificate-authority-data: SGVsbG8gQ0E=\n"
                                 "contexts:\n"
                                 "- name: dev\n"
                                 "  context: {cluster: dev, user: alice, namespace: velero}\n"
                                 "- name: prod\n"
                                 "  context:\n"
                                 "    cluster: prod\n"
                                 "    user: bob\n"
                                 "users:\n"
                                 "- name: alice\n"
                                 "  user:\n"
                                 "    token: s3cr3t-token\n"
                                 "- name: bob\n"
                                 "  user:\n"
                                 "    client-certificate: /abs/cert.pem\n"
                                 "    client-key: key.pem\n"
                                 "    client-key-data: a2V5IGJ5dGVz\n";

int main(void)
{
	struct kube_config c = { 0 };
	struct err e = ERR_INIT;
	char path[512], sa[256];
	int r;

	if (!mkdtemp(dir))
		return 1;
	put("config", kubeconfig);
	snprintf(path, sizeof(path), "%s/config", dir);

	r = kcfg_load_file(path, NULL, &c, &e);
	is_int(r, 0, "current context loads (%s)", e.msg);
	is_str(c.server, "http://127.0.0.1:8080", "server without trailing slash");
	is_str(c.ns, "velero", "namespace from the context");
	is_str(c.token, "s3cr3t-token", "token from the user");
	ok(c.insecure, "insecure-skip-tls-verify");
	ok(c.ca_len == 8 && memcmp(c.ca_data, "Hello CA", 8) == 0,
	   "certificate-authority-data decoded");
	ok(!c.ca_file && !c.cert_file, "no file paths in this context");
	kcfg_release(&c);

	r = kcfg_load_file(path, "prod", &c, &e);
	is_int(r, 0, "explicit context loads");
	is_str(c.ns, "default", "namespace defaults to 'default'");
	snprintf(sa, sizeof(sa), "%s/certs/ca.pem", dir);
	is_str(c.ca_file, sa, "relative CA path taken from the kubeconfig's folder");
	is_str(c.cert_file, "/abs/cert.pem", "absolute path kept");
	snprintf(sa, sizeof(sa), "%s/key.pem", dir);
	is_str(c.key_file, sa, "relative key path");
	ok(c.key_len == 9 && memcmp(c.key_data, "key bytes", 9) == 0, "client-key-data decoded");
	ok(!c.token && !c.insecure, "no token, TLS verified");
	kcfg_release(&c);

	err_clear(&e);
	r = kcfg_load_file(path, "nope", &c, &e);
	is_int(r, -EINVAL, "unknown context fails");
	ok(strstr(e.msg, "nope") != NULL, "message names the context: %s", e.msg);

	put("bad", "clusters: [\n  - name: x\n   bad");
	snprintf(path, sizeof(path), "%s/bad", dir);
	err_clear(&e);
	r = kcfg_load_file(path, NULL, &c, &e);
	is_int(r, -EINVAL, "malformed YAML fails");
	ok(strstr(e.msg, "line") != NULL, "message gives a line: %s", e.msg);

	put("nosrv", "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
	             "clusters: [{name: c, cluster: {}}]\n");
	snprintf(path, sizeof(path), "%s/nosrv", dir);
	err_clear(&e);
	is_int(kcfg_load_file(path, NULL, &c, &e), -EINVAL, "cluster without server fails");

	put("badb64",
	    "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
	    "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '!!!'}}]\n");
	snprintf(path, sizeof(path), "%s/badb64", dir);
	err_clear(&e);
	is_int(kcfg_load_file(path, NULL, &c, &e), -EINVAL, "bad base64 fails");

	snprintf(path, sizeof(path), "%s/missing", dir);
	err_clear(&e);
	is_int(kcfg_load_file(path, NULL, &c, &e), -ENOENT, "missing file is -ENOENT");
	ok(strstr(e.msg, "s3cr3t") == NULL, "no token in messages");

	/* In-cluster: the service-account folder plus the service env. */
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	put("sa/token", "tok\n");
	put("sa/namespace", "velero\n");
	unsetenv("KUBERNETES_SERVICE_HOST");
	err_clear(&e);
	is_int(kcfg_in_cluster(sa, &c, &e), -ENOENT, "no service env: not in a cluster");
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	err_clear(&e);
	r = kcfg_in_cluster(sa, &c, &e);
	is_int(r, 0, "in-cluster loads (%s)", e.msg);
	is_str(c.server, "https://10.0.0.1:443", "server from the env");
	is_str(c.ns, "velero", "namespace file trimmed");
	snprintf(path, sizeof(path), "%s/token", sa);
	is_str(c.token_file, path, "token read from its file on each use");
	ok(!c.token, "token not cached in the config");
	kcfg_release(&c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	r = kcfg_in_cluster(sa, &c, &e);
	is_str(r == 0 ? c.server : NULL, "https://[fd00::1]:443", "IPv6 host bracketed");
	kcfg_release(&c);

	/* KUBECONFIG lists: the first existing file wins. */
	snprintf(path, sizeof(path), "%s/missing:%s/config", dir, dir);
	setenv("KUBECONFIG", path, 1);
	err_clear(&e);
	r = kcfg_load(NULL, &c, &e);
	is_str(r == 0 ? c.ns : NULL, "velero", "KUBECONFIG list searched in order");
	kcfg_release(&c);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		tap_diag("cleanup failed");
	return tap_done();
}
