/* Without restore_opts.keep_privileges (the default, and always the agent's): a snapshot's
 * character and block devices are not made, each is named in a warning and counted; FIFOs,
 * files and the rest are restored as before. With it, devices come back with their numbers
 * (as root). */
#include <fcntl.h>
#include <sys/sysmacros.h>

#include "tests/tap.h"
#include "tests/unit/test-restore-fixture.h"

static int restore_into(struct fx *f, const char *target, bool keep, struct fx_warns *w,
                        struct restore_result *res, struct err *e)
{
	struct restore_opts o = { .snapshot = "latest",
		                  .target = target,
		                  .threads = 1,
		                  .owners = 1,
		                  .keep_going = true,
		                  .keep_privileges = keep,
		                  .warn = fx_warn,
		                  .ud = w };

	return fx_restore(f, &o, res, e);
}

int main(void)
{
	struct restore_result res = { 0 };
	struct fx_warns w = { 0 };
	struct err e = ERR_INIT;
	char p[300], t1[256], t2[256];
	struct stat st;
	struct fx f;
	int rc;

	if (getuid() != 0) {
		tap_diag("skip: mknod of devices needs root");
		return 77;
	}
	if (fx_init(&f) < 0)
		return 1;
	snprintf(p, sizeof(p), "%s/c", f.src);
	ok(mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0, "a character device 1:3 in the source");
	snprintf(p, sizeof(p), "%s/b", f.src);
	ok(mknod(p, S_IFBLK | 0660, makedev(7, 0)) == 0, "a block device 7:0 in the source");
	snprintf(p, sizeof(p), "%s/p", f.src);
	ok(mkfifo(p, 0600) == 0, "a FIFO in the source");
	snprintf(p, sizeof(p), "%s/f", f.src);
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		ok(fd >= 0 && write(fd, "data", 4) == 4 && close(fd) == 0, "a file in the source");
	}
	ok(fx_backup(&f, &e) == 0, "backup: %s", e.msg);

	snprintf(t1, sizeof(t1), "%s/t1", f.dir);
	rc = restore_into(&f, t1, false, &w, &res, &e);
	is_int(rc, 0, "a default restore finishes (keep going): %s", e.msg);
	snprintf(p, sizeof(p), "%s/src/c", t1);
	ok(lstat(p, &st) < 0 && errno == ENOENT, "the character device is not made");
	snprintf(p, sizeof(p), "%s/src/b", t1);
	ok(lstat(p, &st) < 0 && errno == ENOENT, "the block device is not made");
	snprintf(p, sizeof(p), "%s/src/p", t1);
	ok(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is restored");
	snprintf(p, sizeof(p), "%s/src/f", t1);
	ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4, "the file is restored");
	ok(w.n == 2 && !w.mismatched &&
	       ((!strcmp(w.paths[0], "/src/b") && !strcmp(w.paths[1], "/src/c")) ||
	        (!strcmp(w.paths[0], "/src/c") && !strcmp(w.paths[1], "/src/b"))),
	   "each device is named once (%zu warnings: %s %s)", w.n, w.n ? w.paths[0] : "-",
	   w.n > 1 ? w.paths[1] : "-");
	is_int((long long)res.errors, 2, "both count as not restored");

	memset(&w, 0, sizeof(w));
	memset(&res, 0, sizeof(res));
	snprintf(t2, sizeof(t2), "%s/t2", f.dir);
	rc = restore_into(&f, t2, true, &w, &res, &e);
	is_int(rc, 0, "restore with keep_privileges: %s", e.msg);
	snprintf(p, sizeof(p), "%s/src/c", t2);
	ok(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
	   "with keep_privileges the character device comes back as 1:3");
	snprintf(p, sizeof(p), "%s/src/b", t2);
	ok(lstat(p, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(7, 0),
	   "and the block device as 7:0");
	is_int((long long)w.n, 0, "with no warning");
	fx_cleanup(&f);
	return tap_done();
}
