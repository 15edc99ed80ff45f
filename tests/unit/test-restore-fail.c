/* Restore when blobs cannot be read, and when cancelled: no file whose content is missing
 * is left looking whole, every such file is named (with its own path, not whichever the
 * walker had reached), the first failure stops the fetching unless keep_going, and a
 * cancel stops it too. A whole restore reads each pack once (adjacent blobs in one ranged
 * read), not once per blob. Pack reads are counted by wrapping pread. */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "tests/tap.h"
#include "tests/unit/test-restore-fixture.h"

#define FILES    40
#define FILE_LEN (48 * 1024)

static atomic_int pack_reads;
static atomic_bool counting;
static int cancel_after = -1;

/* Reads of files under data/ (packs), counted while a restore runs. */
static void count_read(int fd)
{
	char proc[64], link[512];
	ssize_t n;

	if (!atomic_load(&counting))
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (strstr(link, "/repo/data/"))
			atomic_fetch_add(&pack_reads, 1);
		/* A slow backend for the cancel case: the walker has queued every file long
		 * before the cancel comes (the count below does not depend on this). */
		if (cancel_after >= 0)
			usleep(100 * 1000);
	}
}

ssize_t pread(int fd, void *p, size_t n, off_t off)
{
	count_read(fd);
	return syscall(SYS_pread64, fd, p, n, off);
}

ssize_t pread64(int fd, void *p, size_t n, off_t off)
{
	count_read(fd);
	return syscall(SYS_pread64, fd, p, n, off);
}

static bool cancel_cb(void *ud)
{
	(void)ud;
	return cancel_after >= 0 && atomic_load(&pack_reads) >= cancel_after;
}

/* Regular files under dir (recursively one level: dir/src/...), and leftovers. */
static void scan(const char *dir, const struct fx *f, int *whole, int *bad, int *partial)
{
	char sub[256];
	struct dirent *de;
	DIR *d;

	*whole = *bad = *partial = 0;
	snprintf(sub, sizeof(sub), "%s/src", dir);
	d = opendir(sub);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char a[512], b[512], x[FILE_LEN], y[FILE_LEN];
		FILE *fa, *fb;
		bool same;

		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		if (strstr(de->d_name, "cairn-partial")) {
			(*partial)++;
			continue;
		}
		snprintf(a, sizeof(a), "%s/%s", sub, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", f->src, de->d_name);
		fa = fopen(a, "rb");
		fb = fopen(b, "rb");
		same = fa && fb && fread(x, 1, sizeof(x), fa) == FILE_LEN &&
		       fread(y, 1, sizeof(y), fb) == FILE_LEN && !memcmp(x, y, FILE_LEN);
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		(*(same ? whole : bad))++;
	}
	closedir(d);
}

static int run_restore(struct fx *f, const char *target, bool keep_going, struct fx_warns *w,
                       struct restore_result *res, struct err *e)
{
	struct restore_opts o = { .snapshot = "latest",
		                  .target = target,
		                  .threads = 1,
		                  .owners = 0,
		                  .keep_going = keep_going,
		                  .warn = fx_warn,
		                  .cancel = cancel_cb,
		                  .ud = w };
	struct repo *r = NULL;
	int rc = fx_open(f, &r, e);

	atomic_store(&pack_reads, 0);
	atomic_store(&counting, true);
	if (rc >= 0)
		rc = restore_run(r, &o, res, e);
	atomic_store(&counting, false);
	repo_free(r);
	return rc;
}

/* Pack files in the repository (data and tree packs). */
static int count_packs(const struct fx *f)
{
	char data[256], sub[600];
	struct dirent *de, *pe;
	int n = 0;
	DIR *d, *p;

	snprintf(data, sizeof(data), "%s/data", f->repo);
	d = opendir(data);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", data, de->d_name);
		p = opendir(sub);
		while (p && (pe = readdir(p)))
			n += pe->d_name[0] != '.';
		if (p)
			closedir(p);
	}
	if (d)
		closedir(d);
	return n;
}

/* Flip one byte inside every data blob of the backup: each fetch fails authentication. */
static int corrupt_data(struct fx *f, struct err *e)
{
	struct snapshot snap = { 0 };
	struct node dir = { 0 }, n;
	struct tree_iter it;
	struct repo *r = NULL;
	int rc = fx_open(f, &r, e);

	if (rc >= 0)
		rc = repo_snapshot_load(r, "latest", &snap, e);
	if (rc >= 0)
		rc = repo_tree_lookup(r, &snap, "/src", &dir, e);
	if (rc < 0)
		goto done;
	tree_iter_init(&it, r, &dir);
	while ((rc = tree_iter_next(&it, &n, e)) > 0) {
		for (size_t i = 0; rc >= 0 && i < n.n_content; i++) {
			struct blob_loc loc;
			char hex[ID_HEX], path[512];
			uint8_t c = 0;
			int fd;

			rc = repo_blob_lookup(r, BLOB_DATA, n.content[i].id, &loc);
			if (rc < 0)
				break;
			hex_encode(loc.pack, ID_BYTES, hex);
			snprintf(path, sizeof(path), "%s/data/%.2s/%s", f->repo, hex, hex);
			fd = open(path, O_RDWR);
			if (fd < 0 || syscall(SYS_pread64, fd, &c, 1, loc.offset + 30) != 1)
				rc = -EIO;
			c ^= 0x40;
			if (rc >= 0 && syscall(SYS_pwrite64, fd, &c, 1, loc.offset + 30) != 1)
				rc = -EIO;
			if (fd >= 0)
				close(fd);
		}
		node_release(&n);
		if (rc < 0)
			break;
	}
	tree_iter_release(&it);
done:
	node_release(&dir);
	snapshot_release(&snap);
	repo_free(r);
	return rc;
}

int main(void)
{
	struct restore_result res = { 0 };
	struct err e = ERR_INIT;
	struct fx_warns w = { 0 };
	char target[256];
	struct fx f;
	int whole, bad, partial, rc;

	if (fx_init(&f) < 0)
		return 1;
	for (int i = 0; i < FILES; i++) {
		char p[256], data[FILE_LEN];
		FILE *fp;

		snprintf(p, sizeof(p), "%s/f%02d", f.src, i);
		randombytes_buf(data, sizeof(data));
		fp = fopen(p, "wb");
		if (!fp || fwrite(data, 1, sizeof(data), fp) != sizeof(data) || fclose(fp) != 0)
			return 1;
	}
	ok(fx_backup(&f, &e) == 0, "backup of %d files: %s", FILES, e.msg);

	/* Adjacent blobs come in one read: a pack is read once, not once per file. */
	snprintf(target, sizeof(target), "%s/whole", f.dir);
	rc = run_restore(&f, target, false, &w, &res, &e);
	is_int(rc, 0, "a full restore: %s", e.msg);
	scan(target, &f, &whole, &bad, &partial);
	is_int(whole, FILES, "every file is restored (%d wrong, %d temporary)", bad, partial);
	/* The tree pack (both folders' trees) and each data pack: one read each. */
	ok(atomic_load(&pack_reads) <= count_packs(&f),
	   "each pack is read once (%d pack reads for %d files, %d packs)",
	   atomic_load(&pack_reads), FILES, count_packs(&f));

	/* A cancel after the first data read: the rest is not written, and what was not
	 * written does not appear. */
	memset(&w, 0, sizeof(w));
	cancel_after = 2; /* the tree pack, then data */
	snprintf(target, sizeof(target), "%s/cancelled", f.dir);
	rc = run_restore(&f, target, false, &w, &res, &e);
	is_int(rc, -ECANCELED, "a cancelled restore returns -ECANCELED: %s", e.msg);
	ok(atomic_load(&pack_reads) <= cancel_after + 4,
	   "the cancel stops the fetching (%d pack reads for %d files)", atomic_load(&pack_reads),
	   FILES);
	scan(target, &f, &whole, &bad, &partial);
	ok(whole < FILES, "the cancel left files unrestored (%d of %d whole)", whole, FILES);
	ok(!bad && !partial,
	   "after the cancel no file is partial or left half-written "
	   "(%d whole, %d wrong, %d temporary)",
	   whole, bad, partial);
	cancel_after = -1;

	err_clear(&e);
	ok(corrupt_data(&f, &e) == 0, "every data blob corrupted: %s", e.msg);

	/* Default: the first unreadable blob stops the restore. */
	memset(&w, 0, sizeof(w));
	err_clear(&e);
	snprintf(target, sizeof(target), "%s/stop", f.dir);
	rc = run_restore(&f, target, false, &w, &res, &e);
	is_int(rc, -EBADMSG, "the first corrupt blob fails the restore: %s", e.msg);
	ok(atomic_load(&pack_reads) <= 8,
	   "it stops fetching after the first failure (%d pack reads for %d files)",
	   atomic_load(&pack_reads), FILES);
	scan(target, &f, &whole, &bad, &partial);
	ok(!whole && !bad && !partial,
	   "no file is left looking restored (%d whole, %d zero-filled, %d temporary)", whole, bad,
	   partial);
	/* The file that stopped the restore is named by its error, not by a warning too, and
	 * so are those stopped in the middle. */
	ok(e.msg[0] == '/' && strstr(e.msg, "authentication") && !w.mismatched,
	   "the failed file is named by the error, each warning by its own path "
	   "(error \"%s\"; %zu warnings, %zu naming another path)",
	   e.msg, w.n, w.mismatched);

	/* keep_going: every file is tried, each one named, the result is partial. */
	memset(&w, 0, sizeof(w));
	err_clear(&e);
	snprintf(target, sizeof(target), "%s/keep", f.dir);
	rc = run_restore(&f, target, true, &w, &res, &e);
	is_int(rc, 0, "keep_going restores what it can and returns 0: %s", e.msg);
	is_int((int)res.errors, FILES, "every failed file counts as an error");
	is_int((int)w.n, FILES, "every failed file is named");
	ok(!w.mismatched, "each warning carries its own file's path (%zu do not)", w.mismatched);
	{
		int distinct = 0;

		for (size_t i = 0; i < w.n && i < 256; i++) {
			bool seen = false;

			for (size_t j = 0; j < i; j++)
				seen |= !strcmp(w.paths[i], w.paths[j]);
			distinct += !seen && !strncmp(w.paths[i], "/src/f", 6);
		}
		is_int(distinct, FILES, "the warnings name %d different files", FILES);
	}
	scan(target, &f, &whole, &bad, &partial);
	ok(!whole && !bad && !partial,
	   "no file is left looking restored (%d whole, %d zero-filled, %d temporary)", whole, bad,
	   partial);
	fx_cleanup(&f);
	return tap_done();
}
