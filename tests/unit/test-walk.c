/* The walker against a hostile volume: an entry swapped between its stat and its open
 * (for a FIFO, for a /dev/zero-like device node, for another directory) must neither block
 * the backup nor store what it was swapped for; it is recorded as changed, with a warning
 * naming it, and the rest of the tree is backed up. A swapped symlink's new target is
 * not recorded either. The swap happens in the test hook
 * bk_test_before_open, so the race is deterministic. */
#include "backup/backup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "maint/maint.h"
#include "restore/restore.h"
#include "tests/tap.h"
#include "util/hex.h"

#define DEADLINE_S 60
#define VICTIM_LEN (100 * 1024)

enum swap_kind { SWAP_FIFO, SWAP_ZERO_DEV, SWAP_OTHER_DIR, SWAP_LINK };

static char top[] = "/tmp/cairn-test-walk-XXXXXX";
static enum swap_kind swap_kind;
static const char *victim;
static char intruder_dir[PATH_MAX];
static int swaps, swap_errors;
static char warnings[8192];
static bool cross_mounts;

static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if ((size_t)vsnprintf(out, n, fmt, ap) >= n)
		abort(); /* the test's own paths are short */
	va_end(ap);
}

static void swap_hook(int dirfd, const char *name)
{
	char aside[PATH_MAX];

	if (strcmp(name, victim) != 0 || swaps++)
		return;
	switch (swap_kind) {
	case SWAP_FIFO:
		swap_errors += unlinkat(dirfd, name, 0) < 0 || mkfifoat(dirfd, name, 0644) < 0;
		break;
	case SWAP_ZERO_DEV:
		swap_errors += unlinkat(dirfd, name, 0) < 0 ||
		               mknodat(dirfd, name, S_IFCHR | 0644, makedev(1, 5)) < 0;
		break;
	case SWAP_OTHER_DIR:
		pathf(aside, sizeof(aside), "%s/aside", top);
		swap_errors += renameat(dirfd, name, AT_FDCWD, aside) < 0 ||
		               renameat(AT_FDCWD, intruder_dir, dirfd, name) < 0;
		break;
	case SWAP_LINK:
		swap_errors +=
		    unlinkat(dirfd, name, 0) < 0 || symlinkat("/etc/shadow", dirfd, name) < 0;
		break;
	}
}

static void on_warn(void *ud, const char *path, int code, const char *msg)
{
	size_t n = strlen(warnings);

	(void)ud;
	(void)path;
	(void)code;
	snprintf(warnings + n, sizeof(warnings) - n, "%s\n", msg);
}

static void check_problem(void *ud, const char *msg)
{
	on_warn(ud, NULL, 0, msg);
}

static int write_file(const char *path, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = -1;

	if (p && fd >= 0) {
		randombytes_buf(p, len);
		rc = write(fd, p, len) == (ssize_t)len ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

struct run {
	struct repo *r;
	struct backup_opts o;
	struct backup_result res;
	struct err e;
	int rc;
	atomic_bool done;
};

static void *run_backup(void *arg)
{
	struct run *x = arg;

	x->rc = backup_run(x->r, &x->o, &x->res, &x->e);
	atomic_store(&x->done, true);
	return NULL;
}

/* Back up path in a thread; a backup still blocked after the deadline fails the test run
 * (the thread cannot be cancelled, so the process ends). */
static int backup_with_deadline(struct repo *r, const char *path, struct backup_result *ret)
{
	static const char *paths[1];
	struct run x = { .r = r, .e = ERR_INIT };
	pthread_t t;

	paths[0] = path;
	x.o = (struct backup_opts){ .paths = paths,
		                    .n_paths = 1,
		                    .no_parent = true,
		                    .threads = 2,
		                    .warn = on_warn,
		                    .cross_mounts = cross_mounts };
	pthread_create(&t, NULL, run_backup, &x);
	for (int i = 0; i < DEADLINE_S * 100 && !atomic_load(&x.done); i++)
		usleep(10 * 1000);
	if (!atomic_load(&x.done)) {
		ok(0, "backup of %s finished within %d s (it hangs)", path, DEADLINE_S);
		tap_done();
		fflush(stdout);
		_exit(1);
	}
	pthread_join(t, NULL);
	if (x.rc < 0)
		tap_diag("backup: %s", x.e.msg);
	*ret = x.res;
	return x.rc;
}

static int lookup(struct repo *r, const struct backup_result *res, const char *path,
                  struct node *ret)
{
	char hex[ID_HEX];
	struct snapshot s = { 0 };
	struct err e = ERR_INIT;
	int rc;

	hex_encode(res->snapshot_id, ID_BYTES, hex);
	rc = repo_snapshot_load(r, hex, &s, &e);
	if (rc == 0)
		rc = repo_tree_lookup(r, &s, path, ret, &e);
	snapshot_release(&s);
	return rc;
}

static void make_tree(const char *src)
{
	char p[PATH_MAX];

	mkdir(src, 0755);
	pathf(p, sizeof(p), "%s/a.txt", src);
	write_file(p, 5000);
	pathf(p, sizeof(p), "%s/victim", src);
	write_file(p, VICTIM_LEN);
	pathf(p, sizeof(p), "%s/d", src);
	mkdir(p, 0755);
	pathf(p, sizeof(p), "%s/d/inner", src);
	write_file(p, 3000);
	pathf(intruder_dir, sizeof(intruder_dir), "%s/intruder-%d", top, swap_kind);
	mkdir(intruder_dir, 0755);
	pathf(p, sizeof(p), "%s/l", src);
	swap_errors += symlink("a.txt", p) < 0;
	pathf(p, sizeof(p), "%s/secret", intruder_dir);
	write_file(p, 4000);
}

/* The snapshot restores, and the entry recorded without its content is named as restored
 * incomplete, so it never looks whole; nothing else is. */
static void restore_swapped(struct repo *r, const struct backup_result *res,
                            enum swap_kind kind, const char *name, const char *what)
{
	char hex[ID_HEX], target[PATH_MAX], needle[96];
	struct restore_opts o = { .snapshot = hex, .target = target, .threads = 1,
		                  .warn = on_warn };
	struct restore_result rr = { 0 };
	struct err e = ERR_INIT;

	hex_encode(res->snapshot_id, ID_BYTES, hex);
	pathf(target, sizeof(target), "%s/out%d", top, kind);
	snprintf(needle, sizeof(needle), "/%s: %s", name,
	         kind == SWAP_LINK ? "not restored: the backup could not read this symlink"
	                           : "restored incomplete");
	warnings[0] = 0;
	is_int(restore_run(r, &o, &rr, &e), 0, "%s: the snapshot restores: %s", what, e.msg);
	is_int(rr.errors, 1, "%s: one error in the restore", what);
	ok(strstr(warnings, needle) != NULL, "%s: it names the entry as incomplete or not restored: %s",
	   what, warnings);
}

static void check_case(struct repo *r, enum swap_kind kind, const char *name, const char *what)
{
	char src[PATH_MAX], path[PATH_MAX];
	struct backup_result res;
	struct node n = { 0 };

	swap_kind = kind;
	victim = name;
	swaps = 0;
	warnings[0] = 0;
	pathf(src, sizeof(src), "%s/src%d", top, kind);
	make_tree(src);
	is_int(backup_with_deadline(r, src, &res), 0, "%s: the backup finishes", what);
	is_int(swaps, 1, "%s: the entry was swapped between stat and open", what);
	is_int(swap_errors, 0, "%s: the tree was made and the swap done", what);
	pathf(path, sizeof(path), "/src%d/%s", kind, name);
	is_int(lookup(r, &res, path, &n), 0, "%s: the entry is in the snapshot", what);
	ok(n.flags & NODE_CHANGED_DURING_READ, "%s: recorded as changed (flags %u)", what, n.flags);
	is_int(n.n_content, 0, "%s: nothing of what replaced it is stored", what);
	ok(n.type != NODE_FILE || n.size == 0, "%s: no bytes recorded (size %llu)", what,
	   (unsigned long long)n.size);
	ok(!n.target || !n.target_len, "%s: no link target recorded (%s)", what,
	   n.target ? n.target : "none");
	ok(strstr(warnings, name) != NULL, "%s: a warning names it: %s", what, warnings);
	node_release(&n);
	restore_swapped(r, &res, kind, name, what);
	pathf(path, sizeof(path), "/src%d/a.txt", kind);
	is_int(lookup(r, &res, path, &n), 0, "%s: the other files are backed up", what);
	is_int(n.size, 5000, "%s: with their content", what);
	node_release(&n);
	if (kind == SWAP_OTHER_DIR) {
		pathf(path, sizeof(path), "/src%d/d/secret", kind);
		is_int(lookup(r, &res, path, &n), -ENOENT,
		       "%s: the swapped-in directory's files are not stored", what);
		node_release(&n);
	}
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* A tmpfs and a bind mount (same filesystem, another mount) inside the tree: by default
 * both are recorded as empty directories with one notice each, which is not an error;
 * cross_mounts enters them. */
static void test_mounts(struct repo *r)
{
	char src[PATH_MAX], p[PATH_MAX], mnt[PATH_MAX], bind[PATH_MAX], bindsrc[PATH_MAX];
	struct backup_result res;
	struct node n = { 0 };
	bool mounted;

	pathf(src, sizeof(src), "%s/srcm", top);
	mkdir(src, 0755);
	pathf(p, sizeof(p), "%s/a.txt", src);
	write_file(p, 5000);
	pathf(mnt, sizeof(mnt), "%s/mnt", src);
	pathf(bind, sizeof(bind), "%s/bind", src);
	pathf(bindsrc, sizeof(bindsrc), "%s/bindsrc", top);
	mkdir(mnt, 0755);
	mkdir(bind, 0755);
	mkdir(bindsrc, 0755);
	pathf(p, sizeof(p), "%s/bfile", bindsrc);
	write_file(p, 100);
	mounted = mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0 &&
	          mount(bindsrc, bind, NULL, MS_BIND, NULL) == 0;
	if (!ok(mounted, "a tmpfs and a bind mount inside the tree: %s", strerror(errno)))
		return;
	pathf(p, sizeof(p), "%s/inside", mnt);
	write_file(p, 100);

	warnings[0] = 0;
	cross_mounts = false;
	is_int(backup_with_deadline(r, src, &res), 0, "default: the backup succeeds");
	is_int(res.summary.errors, 0, "default: mount points are not errors");
	is_int(lookup(r, &res, "/srcm/mnt", &n), 0, "default: the tmpfs mount point is kept");
	ok(n.type == NODE_DIR && n.n_content == 0, "default: as an empty directory");
	node_release(&n);
	is_int(lookup(r, &res, "/srcm/mnt/inside", &n), -ENOENT,
	       "default: the tmpfs is not entered");
	is_int(lookup(r, &res, "/srcm/bind/bfile", &n), -ENOENT,
	       "default: the bind mount is not entered");
	is_int(lookup(r, &res, "/srcm/a.txt", &n), 0, "default: the rest is backed up");
	node_release(&n);
	is_int(count(warnings, "mount point"), 2, "default: one notice per mount point: %s",
	       warnings);

	warnings[0] = 0;
	cross_mounts = true;
	is_int(backup_with_deadline(r, src, &res), 0, "cross_mounts: the backup succeeds");
	is_int(lookup(r, &res, "/srcm/mnt/inside", &n), 0, "cross_mounts: the tmpfs is entered");
	node_release(&n);
	is_int(lookup(r, &res, "/srcm/bind/bfile", &n), 0,
	       "cross_mounts: the bind mount is entered");
	node_release(&n);
	is_int(count(warnings, "mount point"), 0, "cross_mounts: no notices");
	cross_mounts = false;
	umount2(bind, MNT_DETACH);
	umount2(mnt, MNT_DETACH);
}

int main(void)
{
	char repo_dir[PATH_MAX];
	struct repo_create_params cp;
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	char cmd[PATH_MAX + 16];

	if (sodium_init() < 0 || !mkdtemp(top))
		return 1;
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root for mknod\n");
		return 0;
	}
	pathf(repo_dir, sizeof(repo_dir), "%s/repo", top);
	o.url = repo_dir;
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
	bk_test_before_open = swap_hook;
	check_case(r, SWAP_FIFO, "victim", "file swapped for a FIFO");
	check_case(r, SWAP_ZERO_DEV, "victim", "file swapped for a /dev/zero node");
	check_case(r, SWAP_OTHER_DIR, "d", "directory swapped for another");
	check_case(r, SWAP_LINK, "l", "symlink swapped for another");
	bk_test_before_open = NULL;
	{
		/* What the swaps left (a file without content, a link without target) is the
		 * backup's own record, not a forgery: check reports no problem. */
		struct repo_check_opts co = { 0 };
		struct repo_check_result cr = { 0 };

		warnings[0] = 0;
		is_int(repo_check(r, &co, check_problem, NULL, &cr, &e), 0, "check runs: %s", e.msg);
		is_int(cr.problems, 0, "check finds no problem in the swapped entries: %s", warnings);
	}
	test_mounts(r);
	repo_free(r);
	pathf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", top);
	return tap_done();
}
