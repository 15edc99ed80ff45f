/* Owns the removal of temporary files a killed restore left behind (clear_partials): the
 * names rs_temp_name makes, ".NAME.cairn-partial" and ".cairn-partial.PID.N", found in the
 * target and NOT in the snapshot at that place (a snapshot may hold such a name itself:
 * that file is the snapshot's and stays). Run after a successful walk, when this restore
 * has no temporary file of its own left. Folders are opened with O_NOFOLLOW from the
 * target down, so a symlink in the target never leads the removal elsewhere. */
#include "restore/restore-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

/* Deeper folders are left alone: a killed restore's leftovers at depth > 256 stay. */
#define PARTIALS_MAX_DEPTH 256

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n > m && memcmp(s + n - m, suf, m) == 0;
}

static bool temp_name(const char *name)
{
	size_t n = strlen(name);

	return (name[0] == '.' && ends_with(name, n, ".cairn-partial")) ||
	       strncmp(name, ".cairn-partial.", 15) == 0;
}

/* path holds the snapshot path of the folder dirfd is ("" for the start), len its length. */
static void clear_dir(struct rs *s, const struct snapshot *snap, int dirfd, char *path, size_t len,
                      size_t max, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		size_t nl = strlen(name);
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || len + 1 + nl >= max)
			continue;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, name, nl + 1);
		if (S_ISDIR(st.st_mode) && depth < PARTIALS_MAX_DEPTH) {
			int sub =
			    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				clear_dir(s, snap, sub, path, len + 1 + nl, max, depth + 1);
				close(sub);
			}
		} else if (S_ISREG(st.st_mode) && temp_name(name)) {
			struct node n = { 0 };
			struct err e = ERR_INIT;
			int r = repo_tree_lookup(s->repo, snap, path, &n, &e);

			node_release(&n);
			if (r == -ENOENT && unlinkat(dirfd, name, 0) == 0)
				s->res->partials_removed++;
		}
		path[len] = 0;
	}
	closedir(d);
}

void rs_clear_partials(struct rs *s, const struct snapshot *snap)
{
	const char *sub = s->o->subdir && strcmp(s->o->subdir, "/") != 0 ? s->o->subdir : "";
	char path[8192];
	size_t len = strlen(sub);

	if (len >= sizeof(path))
		return;
	memcpy(path, sub, len + 1);
	while (len && path[len - 1] == '/')
		path[--len] = 0;
	clear_dir(s, snap, s->target_fd, path, len, sizeof(path), 0);
}
