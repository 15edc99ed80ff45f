/* A FIFO swapped for a symlink right after restore made it (anyone who can write the target
 * can do so) must not lead root to chmod or chown the symlink's target. mkfifoat is wrapped
 * to make the swap deterministic. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "tests/tap.h"
#include "tests/unit/test-restore-fixture.h"

static char victim[256];
static int swaps;

int mkfifoat(int dirfd, const char *name, mode_t mode)
{
	int rc = (int)syscall(SYS_mknodat, dirfd, name, S_IFIFO | (mode & 07777), 0);

	if (rc == 0 && victim[0] && !strcmp(name, "p")) {
		/* The attacker wins the race: the new FIFO is now a symlink to the victim. */
		if (unlinkat(dirfd, name, 0) == 0 && symlinkat(victim, dirfd, name) == 0)
			swaps++;
	}
	return rc;
}

int main(void)
{
	struct restore_result res = { 0 };
	struct fx_warns w = { 0 };
	struct err e = ERR_INIT;
	char p[256], target[256];
	struct stat st;
	struct fx f;
	int fd, rc;

	if (fx_init(&f) < 0)
		return 1;
	snprintf(p, sizeof(p), "%s/p", f.src);
	ok(syscall(SYS_mknodat, AT_FDCWD, p, S_IFIFO | 0600, 0) == 0 && chmod(p, 0600) == 0,
	   "a FIFO with mode 0600 in the source");
	ok(fx_backup(&f, &e) == 0, "backup: %s", e.msg);
	snprintf(victim, sizeof(victim), "%s/victim", f.dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ok(fd >= 0 && fchmod(fd, 0644) == 0 && close(fd) == 0, "a victim file with mode 0644");

	snprintf(target, sizeof(target), "%s/target", f.dir);
	{
		struct restore_opts o = { .snapshot = "latest",
			                  .target = target,
			                  .threads = 1,
			                  .owners = 1,
			                  .warn = fx_warn,
			                  .ud = &w };

		rc = fx_restore(&f, &o, &res, &e);
	}
	is_int(swaps, 1, "the FIFO was swapped for a symlink during the restore");
	is_int(rc, 0, "the restore finishes: %s", e.msg);
	if (stat(victim, &st) < 0)
		st.st_mode = 0;
	ok((st.st_mode & 07777) == 0644, "the symlink's target keeps its mode (0%o)",
	   (unsigned)(st.st_mode & 07777));
	ok(w.n == 1 && !w.mismatched && !strcmp(w.paths[0], "/src/p"),
	   "the swapped entry is named (%zu warnings, first %s)", w.n, w.n ? w.paths[0] : "-");
	fx_cleanup(&f);
	return tap_done();
}
