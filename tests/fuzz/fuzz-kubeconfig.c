/* Fuzz target: kubeconfig parsing (libyaml, base64 PEM blobs, contexts). The parser
 * takes a path, so the input goes into an anonymous memory file. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kube/kube.h"
#include "tests/fuzz/fuzz.h"

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct kube_config c = { 0 };
	struct err e = ERR_INIT;
	char path[64];
	int fd, rc;

	fd = memfd_create("kubeconfig", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = kcfg_load_file(path, NULL, &c, &e);
	if (rc >= 0)
		kcfg_release(&c);
	close(fd);
	return rc >= 0;
}
