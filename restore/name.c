/* Owns what a restore may trust of a name: a snapshot is written by every node that holds
 * the password, so names are checked here and every path is resolved beneath the target. */
#include "restore/restore-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

bool rs_name_ok(const struct node *n)
{
	return repo_name_ok(n->name, n->name_len);
}

/* Folders hold their names sorted by bytes, each once (docs/format.md); a forged repeat
 * would race with the first one's late rename. The snapshot root keeps the order of the
 * backed-up paths, so its order is not checked (a backup makes its names unique). */
bool rs_name_after(const char *prev, size_t prev_len, const struct node *n)
{
	return repo_name_cmp(prev, prev_len, n->name, n->name_len) < 0;
}

bool rs_is_root(const struct node *dir)
{
	return dir->name_len == 1 && dir->name[0] == '/';
}

void rs_name_show(const char *p, size_t n, char *out, size_t max)
{
	size_t o = 0;

	if (!max)
		return;
	for (size_t i = 0; i < n && o + 5 < max; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, max - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
}

/* Where openat2 is missing (before Linux 5.6): one validated component at a time, none
 * of them followed if it is a symlink. */
static int walk_nofollow(int dirfd, const char *path, int flags)
{
	char comp[NAME_MAX + 1];
	int fd = -1, rc;

	while (*path) {
		size_t len = strcspn(path, "/");
		bool last = !path[len];
		int next;

		if (!len || len > NAME_MAX)
			goto bad;
		memcpy(comp, path, len);
		comp[len] = 0;
		if (!strcmp(comp, ".") || !strcmp(comp, ".."))
			goto bad;
		next = openat(fd >= 0 ? fd : dirfd, comp,
		              (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
		rc = -errno;
		if (fd >= 0)
			close(fd);
		if (next < 0)
			return rc;
		fd = next;
		path += len + !last;
	}
	return fd >= 0 ? fd : -EINVAL;
bad:
	if (fd >= 0)
		close(fd);
	return -EINVAL;
}

int rs_open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS)
		return -errno;
	return walk_nofollow(dirfd, path, flags);
}

void rs_temp_init(struct rs *s)
{
	uint64_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
	snprintf(s->temp_tag, sizeof(s->temp_tag), "%016llx", (unsigned long long)r);
}

void rs_temp_name(struct rs *s, const struct node *n, int attempt, char out[NAME_MAX + 1])
{
	int k = -1;

	if (!attempt)
		k = snprintf(out, NAME_MAX + 1, ".%s.%s.cairn-partial", n->name, s->temp_tag);
	if (k < 0 || k > NAME_MAX)
		snprintf(out, NAME_MAX + 1, ".cairn-partial.%s.%u", s->temp_tag,
		         atomic_fetch_add(&s->seq, 1));
}
