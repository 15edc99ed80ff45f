/* Test driver for kube_exec: kexec KUBECONFIG NS POD CONTAINER TIMEOUT CMD [ARG...].
 * The command's stdout and stderr come out on ours, and its exit status is ours; a
 * failure of exec itself prints "kexec: <message>" and exits 125 (124 on a timeout). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kube/kube.h"
#include "util/fsutil.h"

static int to_fd(void *ud, const char *p, size_t n)
{
	return write_full(*(int *)ud, p, n);
}

int main(int argc, char **argv)
{
	struct kube_config cfg = { 0 };
	struct kube *k = NULL;
	struct err e = ERR_INIT;
	int out = 1, errfd = 2, code = -1, r;

	if (argc < 7) {
		fprintf(stderr, "usage: kexec KUBECONFIG NS POD CONTAINER TIMEOUT CMD [ARG...]\n");
		return 2;
	}
	struct kube_exec_params p = {
		.ns = argv[2],
		.pod = argv[3],
		.container = argv[4],
		.timeout_sec = (unsigned)strtoul(argv[5], NULL, 10),
		.argv = (const char *const *)argv + 6,
		.argc = (size_t)(argc - 6),
		.out = to_fd,
		.out_ud = &out,
		.err = to_fd,
		.err_ud = &errfd,
	};
	r = kcfg_load_file(argv[1], NULL, &cfg, &e);
	if (r >= 0)
		r = kube_new(&cfg, &k);
	if (r >= 0)
		r = kube_exec(k, &p, &code, &e);
	/* The same client must serve ordinary requests after an exec (the upgraded
	 * connection is dropped, not reused). */
	if (r >= 0 && getenv("KEXEC_THEN_GET")) {
		json_t *v = NULL;

		r = kube_get(k, "/version", &v, &e);
		json_decref(v);
	}
	kube_free(k);
	kcfg_release(&cfg);
	if (r < 0) {
		fprintf(stderr, "kexec: %s\n", e.msg[0] ? e.msg : "failed");
		return r == -ETIMEDOUT ? 124 : 125;
	}
	return code;
}
