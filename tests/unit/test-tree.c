/* Tree encoding: round trip of every field incl. odd names, malformed input refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo.h"
#include "tests/tap.h"

int main(void)
{
	struct xattr xa = { "user.bin", (uint8_t *)"\0\1\2", 3 };
	struct extent ext[2] = { { { 9 }, 1000, false }, { { 0 }, 5000, true } };
	struct node n = { .type = NODE_FILE, .flags = NODE_SPARSE, .name = "a\nb\xff",
			  .name_len = 4, .mode = 0104755, .uid = 1234, .gid = 5678,
			  .user = "u", .group = "g", .mtime_sec = -5, .mtime_nsec = 999999999,
			  .atime_sec = 1700000000, .atime_nsec = 1, .ctime_sec = 3, .size = 6000,
			  .inode = 42, .dev = 7, .nlink = 2, .xattrs = &xa, .n_xattrs = 1,
			  .content = ext, .n_content = 2 };
	struct buf b = BUF_INIT;
	struct tree_rd rd;
	struct node m = { 0 };

	buf_init(&b, 1 << 20);
	ok(tree_encode_header(&b) == 0 && tree_encode_node(&b, &n) == 0, "encode");
	ok(tree_rd_init(&rd, b.p, b.len) == 0, "header");
	is_int(tree_rd_next(&rd, &m), 1, "one node");
	ok(m.name_len == 4 && !memcmp(m.name, "a\nb\xff", 4), "odd name bytes survive");
	ok(m.mode == n.mode && m.uid == 1234 && m.gid == 5678, "mode and owner");
	ok(m.mtime_sec == -5 && m.mtime_nsec == 999999999 && m.atime_nsec == 1,
	   "times incl. negative and nanoseconds");
	ok(m.n_xattrs == 1 && m.xattrs[0].len == 3 && !memcmp(m.xattrs[0].value, "\0\1\2", 3),
	   "binary xattr");
	ok(m.n_content == 2 && m.content[1].hole && m.content[1].len == 5000 &&
	   m.content[0].id[0] == 9, "extents and holes");
	is_int(tree_rd_next(&rd, &m), 0, "end of segment");
	node_release(&m);
	bool all = true;
	for (size_t cut = 5; cut < b.len; cut += 7) {
		struct node x = { 0 };
		int rc;

		if (tree_rd_init(&rd, b.p, cut) < 0)
			continue;
		rc = tree_rd_next(&rd, &x);
		if (rc != -EBADMSG) {
			tap_diag("truncation at %zu gives %d", cut, rc);
			node_release(&x);
			all = false;
		}
	}
	ok(all, "every truncation is -EBADMSG");
	b.p[0] ^= 1;
	is_int(tree_rd_init(&rd, b.p, b.len), -EBADMSG, "bad magic refused");
	buf_release(&b);
	return tap_done();
}
