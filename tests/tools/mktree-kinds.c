/* Owns what mktree puts in a full tree: one top-level folder per kind (files, sparse,
 * deep, long, links, hard, special, modes, owners, xattrs, acl, names, times), so a
 * failing comparison points at the kind that broke. */
#include "tests/tools/mktree.h"

#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/banned.h"
#include "util/fsutil.h"

#define PATH_BYTES 4096

static int kinds_files(struct mk *m)
{
	static const enum mk_content kinds[] = { MK_RANDOM, MK_TEXT, MK_REPEAT, MK_ZERO };
	char path[64];
	int r;

	if ((r = mk_dir(m, "files", 0755)) < 0 || (r = mk_dir(m, "files/var", 0755)) < 0 ||
	    (r = mk_file(m, "files/empty", 0644, MK_ZERO, 0)) < 0 ||
	    (r = mk_file(m, "files/one", 0644, MK_TEXT, 1)) < 0 ||
	    (r = mk_file(m, "files/4k-plus-7", 0640, MK_RANDOM, 4096 + 7)) < 0 ||
	    (r = mk_file(m, "files/text", 0644, MK_TEXT, 300 * 1024 + 11)) < 0 ||
	    (r = mk_file(m, "files/zeros", 0644, MK_ZERO, MK_MIB)) < 0 ||
	    (r = mk_file(m, "files/big-random", 0644, MK_RANDOM, m->big_mib * MK_MIB + 3)) < 0 ||
	    (r = mk_file(m, "files/big-repeat", 0644, MK_REPEAT, m->big_mib * MK_MIB)) < 0)
		return r;
	/* Sizes spread log-uniformly from 0 to ~2 MiB over the four content kinds. */
	for (uint64_t i = 0; i < m->files; i++) {
		uint64_t size = (UINT64_C(1) << tt_below(&m->rng, 22)) + tt_below(&m->rng, 1000);

		snprintf(path, sizeof(path), "files/var/f%04llu", (unsigned long long)i);
		r = mk_file(m, path, 0644, kinds[i % 4], i == 0 ? 0 : size);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Create path with data islands of 64 KiB at the given offsets and apparent size. */
static int sparse_one(struct mk *m, const char *path, const uint64_t *offs, size_t n, uint64_t size)
{
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(&m->err, -errno, "create %s: %s", path, strerror(errno));
	for (size_t i = 0; i < n && r == 0; i++) {
		uint64_t len = offs[i] + 65536 > size ? size - offs[i] : 65536;

		if (lseek(fd, (off_t)offs[i], SEEK_SET) < 0)
			r = -errno;
		else
			r = mk_fill_fd(m, fd, MK_RANDOM, len);
	}
	if (r == 0 && ftruncate(fd, (off_t)size) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return err_set(&m->err, r, "sparse %s: %s", path, strerror(-r));
	return mk_add(m, path, 0644, NULL);
}

static int kinds_sparse(struct mk *m)
{
	const uint64_t G = UINT64_C(1) << 30;
	const uint64_t islands[] = { 0, MK_MIB + 123, 300 * MK_MIB, 700 * MK_MIB, G - 4096 };
	const uint64_t late[] = { 32 * MK_MIB };
	const uint64_t early[] = { 0 };
	int r;

	if ((r = mk_dir(m, "sparse", 0755)) < 0 ||
	    (r = sparse_one(m, "sparse/islands-1g", islands, 5, G)) < 0 ||
	    (r = sparse_one(m, "sparse/hole-first", late, 1, 32 * MK_MIB + 4096)) < 0 ||
	    (r = sparse_one(m, "sparse/hole-last", early, 1, 64 * MK_MIB)) < 0 ||
	    (r = sparse_one(m, "sparse/all-hole", NULL, 0, 16 * MK_MIB)) < 0)
		return r;
	return 0;
}

/* deep/: 64 one-letter levels; long/: 12 levels of 200-byte names and a 255-byte leaf,
 * a path of about 2700 bytes (under PATH_MAX, so tools that build full paths can cope). */
static int kinds_deep(struct mk *m)
{
	char path[PATH_BYTES], comp[256];
	size_t len;
	int r;

	if ((r = mk_dir(m, "deep", 0755)) < 0)
		return r;
	len = (size_t)snprintf(path, sizeof(path), "deep");
	for (int i = 0; i < 64; i++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%c", 'a' + i % 26);
		if ((r = mk_dir(m, path, 0755)) < 0)
			return r;
	}
	snprintf(path + len, sizeof(path) - len, "/leaf");
	if ((r = mk_file(m, path, 0644, MK_TEXT, 100)) < 0 || (r = mk_dir(m, "long", 0755)) < 0)
		return r;
	len = (size_t)snprintf(path, sizeof(path), "long");
	for (int i = 0; i < 12; i++) {
		memset(comp, 'a' + i, 200);
		comp[200] = 0;
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", comp);
		if ((r = mk_dir(m, path, 0755)) < 0)
			return r;
	}
	memset(comp, 'Z', 255);
	comp[255] = 0;
	snprintf(path + len, sizeof(path) - len, "/%s", comp);
	return mk_file(m, path, 0644, MK_RANDOM, 5000);
}

static int kinds_links(struct mk *m)
{
	char target[1001];
	int r;

	memset(target, 'x', 1000);
	target[1000] = 0;
	for (int i = 100; i < 1000; i += 100)
		target[i] = '/';
	if ((r = mk_dir(m, "links", 0755)) < 0 ||
	    (r = mk_symlink(m, "../files/one", "links/relative")) < 0 ||
	    (r = mk_symlink(m, "/etc/hostname", "links/absolute")) < 0 ||
	    (r = mk_symlink(m, "does/not/exist", "links/dangling")) < 0 ||
	    (r = mk_symlink(m, "../files", "links/to-dir")) < 0 ||
	    (r = mk_symlink(m, "loop", "links/loop")) < 0 ||
	    (r = mk_symlink(m, "odd\ntarget \xff\xfe\\", "links/odd-target")) < 0 ||
	    (r = mk_symlink(m, target, "links/long-target")) < 0)
		return r;
	return 0;
}

/* Two inodes: one with 2 names, one with 3, spread over several directories. */
static int kinds_hard(struct mk *m)
{
	static const char *const links[][2] = {
		{ "hard/two-a", "hard/sub/two-b" },
		{ "hard/three-a", "hard/sub/three-b" },
		{ "hard/three-a", "files/three-c" },
	};
	int r;

	if ((r = mk_dir(m, "hard", 0755)) < 0 || (r = mk_dir(m, "hard/sub", 0755)) < 0 ||
	    (r = mk_file(m, "hard/two-a", 0644, MK_RANDOM, 10000)) < 0 ||
	    (r = mk_file(m, "hard/three-a", 0600, MK_TEXT, 20000)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (link(links[i][0], links[i][1]) < 0)
			return err_set(&m->err, -errno, "link %s: %s", links[i][1],
			               strerror(errno));
	return 0;
}

static int mk_node(struct mk *m, const char *path, mode_t type, dev_t dev, mode_t mode)
{
	if (mknod(path, type | 0600, dev) < 0)
		return err_set(&m->err, -errno, "mknod %s: %s", path, strerror(errno));
	return mk_add(m, path, mode, NULL);
}

static int kinds_special(struct mk *m)
{
	int r;

	if ((r = mk_dir(m, "special", 0755)) < 0 ||
	    (r = mk_node(m, "special/fifo", S_IFIFO, 0, 0640)) < 0)
		return r;
	if (!m->root)
		return 0;
	/* Odd majors/minors: the minor needs more than 8 bits, so old encodings show. */
	if ((r = mk_node(m, "special/chr-null", S_IFCHR, makedev(1, 3), 0666)) < 0 ||
	    (r = mk_node(m, "special/chr-odd", S_IFCHR, makedev(240, 70000), 0600)) < 0 ||
	    (r = mk_node(m, "special/blk", S_IFBLK, makedev(7, 200), 0660)) < 0)
		return r;
	return 0;
}

static int kinds_modes(struct mk *m)
{
	int r;

	if ((r = mk_dir(m, "modes", 0755)) < 0 ||
	    (r = mk_file(m, "modes/setuid", 04755, MK_TEXT, 10)) < 0 ||
	    (r = mk_file(m, "modes/setgid", 02711, MK_TEXT, 10)) < 0 ||
	    (r = mk_file(m, "modes/setuid-setgid-sticky", 07777, MK_TEXT, 10)) < 0 ||
	    (r = mk_file(m, "modes/zero", 0000, MK_TEXT, 10)) < 0 ||
	    (r = mk_file(m, "modes/write-only", 0222, MK_TEXT, 10)) < 0 ||
	    (r = mk_dir(m, "modes/sticky-dir", 01777)) < 0 ||
	    (r = mk_dir(m, "modes/setgid-dir", 02775)) < 0 ||
	    (r = mk_dir(m, "modes/zero-dir", 0000)) < 0 ||
	    (r = mk_dir(m, "modes/read-only-dir", 0555)) < 0 ||
	    (r = mk_file(m, "modes/read-only-dir/inside", 0444, MK_TEXT, 100)) < 0 ||
	    (r = mk_dir(m, "modes/read-only-dir/sub", 0500)) < 0 ||
	    (r = mk_file(m, "modes/read-only-dir/sub/inside", 0400, MK_TEXT, 100)) < 0)
		return r;
	return 0;
}

static int kinds_owners(struct mk *m)
{
	int r;

	if ((r = mk_dir(m, "owners", 0755)) < 0 ||
	    (r = mk_file(m, "owners/u1234-g5678", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_owned(m, "owners/u1234-g5678", 1234, 5678)) < 0 ||
	    (r = mk_file(m, "owners/nobody", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_owned(m, "owners/nobody", 65534, 65534)) < 0 ||
	    (r = mk_file(m, "owners/setuid-1234", 04755, MK_TEXT, 10)) < 0 ||
	    (r = mk_owned(m, "owners/setuid-1234", 1234, 5678)) < 0 ||
	    (r = mk_file(m, "owners/big-ids", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_owned(m, "owners/big-ids", 3000000000u, 2000000000u)) < 0 ||
	    (r = mk_dir(m, "owners/dir-4321", 0750)) < 0 ||
	    (r = mk_owned(m, "owners/dir-4321", 4321, 4321)) < 0 ||
	    (r = mk_file(m, "owners/dir-4321/file", 0640, MK_TEXT, 10)) < 0 ||
	    (r = mk_owned(m, "owners/dir-4321/file", 4321, 0)) < 0 ||
	    (r = mk_symlink(m, "u1234-g5678", "owners/link-8765")) < 0 ||
	    (r = mk_owned(m, "owners/link-8765", 8765, 8765)) < 0)
		return r;
	return 0;
}

static int kinds_xattrs(struct mk *m)
{
	uint8_t bin[256], big[3000];
	char name[32];
	int r;

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	tt_fill(&m->rng, big, sizeof(big));
	if ((r = mk_dir(m, "xattrs", 0755)) < 0 ||
	    (r = mk_file(m, "xattrs/plain", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_xattr(m, "xattrs/plain", "user.comment", "hello world", 11)) < 0 ||
	    (r = mk_file(m, "xattrs/binary", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_xattr(m, "xattrs/binary", "user.binary", bin, sizeof(bin))) < 0 ||
	    (r = mk_file(m, "xattrs/empty-value", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_xattr(m, "xattrs/empty-value", "user.empty", "", 0)) < 0 ||
	    (r = mk_file(m, "xattrs/big-value", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_xattr(m, "xattrs/big-value", "user.big", big, sizeof(big))) < 0 ||
	    (r = mk_file(m, "xattrs/many", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_dir(m, "xattrs/dir", 0755)) < 0 ||
	    (r = mk_xattr(m, "xattrs/dir", "user.on.dir", "d", 1)) < 0)
		return r;
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "user.attr%02d", i);
		r = mk_xattr(m, "xattrs/many", name, name + 5, strlen(name + 5));
		if (r < 0)
			return r;
	}
	return 0;
}

static int mk_acl(struct mk *m, const char *path, acl_type_t type, const char *text)
{
	acl_t acl = acl_from_text(text);
	int r = 0;

	if (!acl)
		return err_set(&m->err, -errno, "acl_from_text %s: %s", text, strerror(errno));
	if (acl_set_file(path, type, acl) < 0)
		r = err_set(&m->err, -errno, "acl_set_file %s: %s", path, strerror(errno));
	acl_free(acl);
	return r;
}

/* acl/dir/before is created before the default ACL and must stay without one: a restore
 * that sets the directory's default ACL first would make it inherit entries. */
static int kinds_acl(struct mk *m)
{
	const char *acc = "u::rw-,u:1234:rw-,g::r--,g:5678:r-x,m::rwx,o::---";
	const char *def = "u::rwx,u:1234:r-x,g::r-x,m::r-x,o::---";
	int r;

	if ((r = mk_dir(m, "acl", 0755)) < 0 ||
	    (r = mk_file(m, "acl/file", MK_MODE_KEEP, MK_TEXT, 10)) < 0 ||
	    (r = mk_acl(m, "acl/file", ACL_TYPE_ACCESS, acc)) < 0 ||
	    (r = mk_dir(m, "acl/dir", MK_MODE_KEEP)) < 0 ||
	    (r = mk_file(m, "acl/dir/before", 0644, MK_TEXT, 10)) < 0 ||
	    (r = mk_acl(m, "acl/dir", ACL_TYPE_ACCESS, "u::rwx,g::r-x,g:5678:rwx,m::rwx,o::r-x")) <
	        0 ||
	    (r = mk_acl(m, "acl/dir", ACL_TYPE_DEFAULT, def)) < 0 ||
	    (r = mk_file(m, "acl/dir/inherited", MK_MODE_KEEP, MK_TEXT, 10)) < 0 ||
	    (r = mk_dir(m, "acl/dir/inherited-dir", MK_MODE_KEEP)) < 0)
		return r;
	return 0;
}

static int kinds_names(struct mk *m)
{
	static const char *const names[] = {
		"with space",
		"new\nline",
		"tab\there",
		"back\\slash",
		"quote\"double",
		"quote'single",
		"-leading-dash",
		"--",
		"invalid-\xff\xfe-utf8",
		"\x01\x1f\x7f",
		" leading-space",
		"trailing-space ",
		".hidden",
		"...",
		"glob*?[a]",
		"percent%s%n",
		"#hash",
		"caf\xc3\xa9-utf8",
		"\xe2\x80\x8bzero-width",
	};
	char path[PATH_BYTES], longname[256];
	int r;

	if ((r = mk_dir(m, "names", 0755)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "names/%s", names[i]);
		if ((r = mk_file(m, path, 0644, MK_TEXT, 20 + i)) < 0)
			return r;
	}
	memset(longname, 'n', 255);
	longname[255] = 0;
	longname[0] = '\xff';
	snprintf(path, sizeof(path), "names/%s", longname);
	if ((r = mk_file(m, path, 0644, MK_TEXT, 255)) < 0 ||
	    (r = mk_dir(m, "names/dir\nwith\xffodd bytes", 0755)) < 0 ||
	    (r = mk_file(m, "names/dir\nwith\xffodd bytes/child\t", 0644, MK_TEXT, 5)) < 0)
		return r;
	return 0;
}

static int mk_timed(struct mk *m, const char *path, time_t sec, long nsec)
{
	struct mk_ent *e = NULL;
	int r;

	r = mk_file(m, path, 0644, MK_TEXT, 10);
	if (r < 0)
		return r;
	e = &m->ents[m->n_ents - 1];
	e->fixed_time = true;
	e->ts[0] = (struct timespec){ sec + 17, nsec / 3 };
	e->ts[1] = (struct timespec){ sec, nsec };
	return 0;
}

static int kinds_times(struct mk *m)
{
	int r;

	if ((r = mk_dir(m, "times", 0755)) < 0 || (r = mk_timed(m, "times/epoch", 0, 0)) < 0 ||
	    (r = mk_timed(m, "times/pre-epoch", -1234567890, 500000000)) < 0 ||
	    (r = mk_timed(m, "times/year-2100", 4102444800, 123456789)) < 0 ||
	    (r = mk_timed(m, "times/max-nsec", 1600000000, 999999999)) < 0 ||
	    (r = mk_timed(m, "times/one-nsec", 1600000000, 1)) < 0)
		return r;
	return 0;
}

int mk_kinds(struct mk *m)
{
	int r;

	if (!m->root)
		fprintf(stderr, "mktree: not root: no device nodes and no foreign owners\n");
	/* "." is recorded first so the last pass sets the root's times last. */
	if ((r = mk_add(m, ".", 0755, NULL)) < 0 || (r = kinds_files(m)) < 0 ||
	    (r = kinds_sparse(m)) < 0 || (r = kinds_deep(m)) < 0 || (r = kinds_links(m)) < 0 ||
	    (r = kinds_hard(m)) < 0 || (r = kinds_special(m)) < 0 || (r = kinds_modes(m)) < 0 ||
	    (r = kinds_owners(m)) < 0 || (r = kinds_xattrs(m)) < 0 || (r = kinds_acl(m)) < 0 ||
	    (r = kinds_names(m)) < 0 || (r = kinds_times(m)) < 0)
		return r;
	return 0;
}
