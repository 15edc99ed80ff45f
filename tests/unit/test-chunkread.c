/* The file reader (backup/file.c) reads in steps into a window it slides down, hashes cut
 * chunks on helpers while it reads on, and lets the buffer grow past the window for a chunk
 * bigger than it. None of that may move a cut or change an id: a file backed up through
 * backup_run must have exactly the chunks one in-memory chunker pass over its bytes finds,
 * for chunks far smaller than a read step (many pending hashes per buffer), of the default
 * sizes, and far bigger than the window. */
#include "backup/backup.h"

#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap.h"
#include "util/hex.h"

/* Big enough for several 16 MiB-max chunks and for many slides of the read window. */
#define FILE_BYTES (40u * 1024 * 1024)

static char top[] = "/tmp/cairn-test-chunkread-XXXXXX";

/* Random bytes, except a run of repeated text in the middle: compressible chunks take the
 * other sealing path. */
static uint8_t *make_data(size_t n)
{
	uint8_t *p = malloc(n);

	if (!p)
		return NULL;
	randombytes_buf(p, n);
	for (size_t i = n / 3; i < n / 3 + n / 8; i++)
		p[i] = (uint8_t)"cairn reads in steps "[i % 21];
	return p;
}

static int write_all(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = -1;

	if (fd >= 0) {
		rc = write(fd, p, n) == (ssize_t)n ? 0 : -1;
		close(fd);
	}
	return rc;
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

static void check_params(const char *what, uint32_t min, uint32_t avg, uint32_t max,
                         const uint8_t *data)
{
	/* Sized from top's length up, so no name can be cut short. */
	char dir[64], repo_dir[80], src[80], file[96];
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct repo_create_params cp;
	struct backup_result res = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	struct node n = { 0 };
	const char *paths[1] = { src };
	struct backup_opts bo = { .paths = paths, .n_paths = 1, .no_parent = true, .threads = 2 };
	size_t off = 0, i = 0, mismatch = SIZE_MAX, chunks = 0, bigger = 0;

	snprintf(dir, sizeof(dir), "%s/%u", top, avg);
	snprintf(repo_dir, sizeof(repo_dir), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(file, sizeof(file), "%s/f", src);
	if (mkdir(dir, 0700) < 0 || mkdir(src, 0700) < 0 || write_all(file, data, FILE_BYTES) < 0) {
		ok(0, "%s: source file written", what);
		return;
	}
	o.url = repo_dir;
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	cp.chunker = (struct chunker_params){ min, avg, max };
	ok(repo_create(&o, &cp, &r, &e) == 0, "%s: create: %s", what, e.msg);
	if (!r)
		return;
	ok(backup_run(r, &bo, &res, &e) == 0, "%s: backup: %s", what, e.msg);
	ok(lookup(r, &res, "src/f", &n) == 0, "%s: the file is in the snapshot", what);
	/* The reference: one chunker pass over the whole file in memory. */
	while (off < FILE_BYTES) {
		size_t cut = chunker_cut(repo_chunker(r), data + off, FILE_BYTES - off, true);
		uint8_t id[ID_BYTES];

		key_blob_id(repo_key(r), data + off, cut, id);
		if (mismatch == SIZE_MAX &&
		    (i >= n.n_content || n.content[i].hole || n.content[i].len != cut ||
		     memcmp(n.content[i].id, id, ID_BYTES) != 0))
			mismatch = i;
		bigger += cut > 2u * 1024 * 1024;
		off += cut;
		i++;
	}
	chunks = i;
	ok(mismatch == SIZE_MAX && n.n_content == chunks,
	   "%s: the %zu stored chunks are the in-memory pass's %zu", what, n.n_content, chunks);
	if (mismatch != SIZE_MAX)
		tap_diag("%s: first different chunk: %zu", what, mismatch);
	ok(n.size == FILE_BYTES, "%s: size %llu", what, (unsigned long long)n.size);
	if (min >= 1024u * 1024)
		ok(bigger > 0, "%s: %zu chunks are bigger than 2 MiB (the read buffer grew)", what,
		   bigger);
	node_release(&n);
	repo_free(r);
}

int main(void)
{
	uint8_t *data;
	char cmd[PATH_MAX + 16];

	if (sodium_init() < 0 || !mkdtemp(top))
		return 1;
	data = make_data(FILE_BYTES);
	if (!data)
		return 1;
	check_params("4-64 KiB chunks", 4u * 1024, 16u * 1024, 64u * 1024, data);
	check_params("default chunks", 512u * 1024, 1024u * 1024, 8u * 1024 * 1024, data);
	check_params("1-16 MiB chunks", 1024u * 1024, 4u * 1024 * 1024, 16u * 1024 * 1024,
	             data);
	free(data);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", top);
	return tap_done();
}
