/* Tree entry names are single path components: a forged tree naming an entry "..", ".",
 * "", "a/b" or "a\0b" is refused when decoded (naming the tree), and check reports it. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint/maint.h"
#include "repo/repo.h"
#include "tests/tap.h"

static int encode_one(struct buf *b, const char *name, size_t len)
{
	struct node n = { .type = NODE_FILE, .mode = 0100644 };

	n.name = (char *)name;
	n.name_len = len;
	buf_reset(b);
	return tree_encode_header(b) < 0 ? -1 : tree_encode_node(b, &n);
}

static int decode_one(const struct buf *b)
{
	struct tree_rd rd;
	struct node n;
	int rc = tree_rd_init(&rd, b->p, b->len);

	if (rc < 0)
		return rc;
	rc = tree_rd_next(&rd, &n);
	if (rc > 0)
		node_release(&n);
	return rc;
}

struct probs {
	int n, named;
	char tree[ID_HEX];
};

static void on_problem(void *ud, const char *msg)
{
	struct probs *p = ud;

	p->n++;
	if (strstr(msg, p->tree) && strstr(msg, "entry name"))
		p->named++;
	printf("# check: %s\n", msg);
}

int main(void)
{
	static const struct {
		const char *name;
		size_t len;
	} bad[] = { { "..", 2 }, { ".", 1 }, { "", 0 }, { "a/b", 3 }, { "a\0b", 3 }, { "/", 1 } },
	  good[] = { { "...", 3 }, { ".a", 2 }, { "a..", 3 }, { "\xff\x01", 2 } };
	char dir[] = "/tmp/cairn-test-names-XXXXXX", cmd[96];
	struct buf b = BUF_INIT;
	struct repo_create_params cp;
	struct repo_open_params o = { .password = "pw", .password_len = 2 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;

	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(encode_one(&b, bad[i].name, bad[i].len) == 0, "encode entry %zu", i);
		is_int(decode_one(&b), -EBADMSG, "entry name %zu (%zu bytes) is refused", i,
		       bad[i].len);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ok(encode_one(&b, good[i].name, good[i].len) == 0, "encode good entry %zu", i);
		is_int(decode_one(&b), 1, "entry name '%s' decodes", good[i].name);
	}

	/* A snapshot whose folder "x" holds an entry "..": reading names the tree, check
	 * reports it. */
	o.url = dir;
	repo_create_params_default(&cp);
	cp.kdf.opslimit = 1;
	cp.kdf.memlimit = 8192;
	ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
	{
		struct node x = { .type = NODE_DIR, .mode = 040755, .name = "x", .name_len = 1 };
		struct extent sub = { .len = 1 }, root = { .len = 1 };
		struct snapshot s = {
			.time_sec = 1, .hostname = "h", .username = "u", .program_version = "t"
		};
		struct probs pr = { 0 };
		struct repo_check_opts co = { 0 };
		struct repo_check_result res;
		struct tree_iter it;
		struct node n;
		int rc;

		ok(encode_one(&b, "..", 2) == 0 &&
		       repo_blob_save(r, BLOB_TREE, b.p, b.len, sub.id, &e) >= 0,
		   "store a tree with an entry '..'");
		x.content = &sub;
		x.n_content = 1;
		buf_reset(&b);
		ok(tree_encode_header(&b) == 0 && tree_encode_node(&b, &x) == 0 &&
		       repo_blob_save(r, BLOB_TREE, b.p, b.len, root.id, &e) >= 0,
		   "and a root holding it");
		s.tree = &root;
		s.n_tree = 1;
		ok(repo_flush(r, &e) == 0 && repo_snapshot_save(r, &s, &e) == 0, "snapshot: %s",
		   e.msg);
		hex_encode(sub.id, ID_BYTES, pr.tree);
		tree_iter_init(&it, r, &x);
		rc = tree_iter_next(&it, &n, &e);
		tree_iter_release(&it);
		is_int(rc, -EBADMSG, "reading the folder fails");
		ok(strstr(e.msg, pr.tree) != NULL, "naming the tree: %s", e.msg);
		err_clear(&e);
		ok(repo_check(r, &co, on_problem, &pr, &res, &e) == 0, "check runs: %s", e.msg);
		ok(res.problems >= 1 && pr.named == 1, "check reports the tree and why");
	}
	repo_free(r);
	buf_release(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "clean up");
	return tap_done();
}
