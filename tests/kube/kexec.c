/* Test driver for kube_exec: kexec KUBECONFIG NS POD CONTAINER TIMEOUT CMD [ARG...].
 * The command's stdout and stderr come out on ours, and its exit status is ours; a
 * failure of exec itself prints "kexec: <message>" and exits 125 (124 on a timeout).
 * KEXEC_PUT_DURING=PATH makes the stdout callback update the object at PATH (a
 * read-modify-write on the same client) about once a MiB, as the agent records a
 * PodVolumeBackup's progress while a backup command streams; the number of updates goes
 * to stderr as "kexec: N updates". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kube/kube.h"
#include "util/fsutil.h"

struct sink {
	int fd;
	struct kube *k;
	const char *put_path; /* NULL: no updates */
	size_t since_put;
	unsigned puts;
	struct err e;
};

/* Counts the updates in an annotation, so that each PUT changes the object. */
static int bump(void *ud, json_t *obj)
{
	const struct sink *s = ud;
	json_t *meta = json_object_get(obj, "metadata"), *ann;
	char n[32];

	if (!json_is_object(meta))
		return -EINVAL;
	ann = json_object_get(meta, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		if (!ann || json_object_set_new(meta, "annotations", ann) < 0)
			return -ENOMEM;
	}
	snprintf(n, sizeof(n), "%u", s->puts + 1);
	return json_object_set_new(ann, "kexec.cairn.dev/updates", json_string(n)) < 0 ? -ENOMEM
	                                                                               : 0;
}

static int to_fd(void *ud, const char *p, size_t n)
{
	struct sink *s = ud;
	int r = write_full(s->fd, p, n);

	if (r < 0 || !s->put_path)
		return r;
	/* The first bytes trigger an update too: the stream is surely open then. */
	if (s->puts && s->since_put + n < 1024 * 1024) {
		s->since_put += n;
		return 0;
	}
	s->since_put = 0;
	r = kube_update_retry(s->k, s->put_path, bump, s, NULL, &s->e);
	if (r < 0)
		return r;
	s->puts++;
	return 0;
}

int main(int argc, char **argv)
{
	struct kube_config cfg = { 0 };
	struct kube *k = NULL;
	struct err e = ERR_INIT;
	struct sink out = { .fd = 1, .put_path = getenv("KEXEC_PUT_DURING"), .e = ERR_INIT };
	struct sink errs = { .fd = 2, .e = ERR_INIT };
	int code = -1, r;

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
		.err_ud = &errs,
	};
	r = kcfg_load_file(argv[1], NULL, &cfg, &e);
	if (r >= 0)
		r = kube_new(&cfg, &k);
	out.k = k;
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
	if (out.put_path)
		fprintf(stderr, "kexec: %u updates\n", out.puts);
	if (out.e.msg[0])
		fprintf(stderr, "kexec: update: %s\n", out.e.msg);
	if (r < 0) {
		fprintf(stderr, "kexec: %s\n", e.msg[0] ? e.msg : "failed");
		return r == -ETIMEDOUT ? 124 : 125;
	}
	return code;
}
