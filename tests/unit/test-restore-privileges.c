/* What a snapshot may grant by default: every node writes the repository, so a restore
 * leaves off the setuid and setgid bits of files and the xattrs outside user.* and POSIX
 * ACLs (security.capability, trusted.*), counts them, and notes the first of each kind;
 * a folder's setgid bit (fsGroup volumes) and user.* xattrs come back. With
 * keep_privileges everything comes back as it was. An overwrite if-changed compares with
 * the mode it would give, so a default restore run twice leaves the file alone. */
#include <fcntl.h>
#include <sys/xattr.h>

#include "tests/tap.h"
#include "tests/unit/test-restore-fixture.h"

/* A file capability: cap_net_raw in the effective and permitted sets (VFS_CAP_REVISION_2). */
static const uint8_t cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20 };

static int restore_into(struct fx *f, const char *target, bool keep, bool if_changed,
                        struct fx_warns *w, struct restore_result *res, struct err *e)
{
	struct restore_opts o = { .snapshot = "latest",
		                  .target = target,
		                  .threads = 1,
		                  .owners = 1,
		                  .keep_privileges = keep,
		                  .skip_identical = if_changed,
		                  .warn = fx_warn,
		                  .ud = w };

	return fx_restore(f, &o, res, e);
}

static bool has_xattr(const char *dir, const char *name, const char *x)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/src/%s", dir, name);
	return lgetxattr(p, x, NULL, 0) >= 0;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char p[300];
	struct stat st;

	snprintf(p, sizeof(p), "%s/src/%s", dir, name);
	return lstat(p, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static int make(const char *src, const char *name, mode_t mode)
{
	char p[300];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", src, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "data", 4) != 4 || close(fd) < 0)
		return -1;
	return chmod(p, mode);
}

int main(void)
{
	struct restore_result res = { 0 };
	struct fx_warns w = { 0 };
	struct err e = ERR_INIT;
	char p[300], t1[256], t2[256];
	struct fx f;
	int rc;

	if (getuid() != 0) {
		tap_diag("skip: security.* and trusted.* xattrs need root");
		return 77;
	}
	if (fx_init(&f) < 0)
		return 1;
	ok(make(f.src, "suid", 04755) == 0 && make(f.src, "sgid", 02755) == 0 &&
	       make(f.src, "plain", 0644) == 0 && make(f.src, "capped", 0755) == 0 &&
	       make(f.src, "xattrs", 0644) == 0,
	   "files with setuid, setgid, none, and xattrs in the source");
	snprintf(p, sizeof(p), "%s/group", f.src);
	ok(mkdir(p, 0775) == 0 && chmod(p, 02775) == 0, "a setgid folder in the source");
	snprintf(p, sizeof(p), "%s/capped", f.src);
	ok(setxattr(p, "security.capability", cap, sizeof(cap), 0) == 0, "a file capability");
	snprintf(p, sizeof(p), "%s/xattrs", f.src);
	ok(setxattr(p, "user.note", "kept", 4, 0) == 0 &&
	       setxattr(p, "trusted.overlay.opaque", "y", 1, 0) == 0,
	   "a user.* and a trusted.* xattr");
	ok(fx_backup(&f, &e) == 0, "backup: %s", e.msg);

	snprintf(t1, sizeof(t1), "%s/t1", f.dir);
	rc = restore_into(&f, t1, false, false, &w, &res, &e);
	is_int(rc, 0, "a default restore succeeds: %s", e.msg);
	is_int((long long)res.errors, 0, "with no file counted as not restored");
	is_int((long long)mode_of(t1, "suid"), 0755, "the setuid bit is left off");
	is_int((long long)mode_of(t1, "sgid"), 0755, "the setgid bit of a file is left off");
	is_int((long long)mode_of(t1, "plain"), 0644, "a plain file keeps its mode");
	is_int((long long)mode_of(t1, "group"), 02775, "a folder keeps its setgid bit");
	ok(!has_xattr(t1, "capped", "security.capability"), "the file capability is left off");
	ok(!has_xattr(t1, "xattrs", "trusted.overlay.opaque"), "the trusted.* xattr is left off");
	ok(has_xattr(t1, "xattrs", "user.note"), "the user.* xattr is restored");
	is_int((long long)res.privileges_dropped, 4, "four things left off are counted");
	is_int((long long)w.n, 2, "one note for the bits, one for the xattrs");
	is_int((long long)w.mismatched, 0, "each note names its path");

	memset(&w, 0, sizeof(w));
	memset(&res, 0, sizeof(res));
	rc = restore_into(&f, t1, false, true, &w, &res, &e);
	is_int(rc, 0, "the same restore again, overwrite if-changed: %s", e.msg);
	is_int((long long)res.skipped, (long long)res.files,
	       "every file is already what this restore gives (%llu of %llu)",
	       (unsigned long long)res.skipped, (unsigned long long)res.files);

	memset(&w, 0, sizeof(w));
	memset(&res, 0, sizeof(res));
	snprintf(t2, sizeof(t2), "%s/t2", f.dir);
	rc = restore_into(&f, t2, true, false, &w, &res, &e);
	is_int(rc, 0, "restore with keep_privileges: %s", e.msg);
	is_int((long long)mode_of(t2, "suid"), 04755, "the setuid bit comes back");
	is_int((long long)mode_of(t2, "sgid"), 02755, "so does the setgid bit of a file");
	ok(has_xattr(t2, "capped", "security.capability"), "so does the file capability");
	ok(has_xattr(t2, "xattrs", "trusted.overlay.opaque"), "and the trusted.* xattr");
	is_int((long long)res.privileges_dropped, 0, "nothing is left off");
	is_int((long long)w.n, 0, "with no note");
	fx_cleanup(&f);
	return tap_done();
}
