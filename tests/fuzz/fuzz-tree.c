/* Fuzz target: the tree segment decoder must refuse, never crash, on any input; what it
 * decodes must encode again. */
#include "repo/repo.h"
#include "tests/fuzz/fuzz.h"

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct tree_rd rd;
	struct node n;
	int rc;

	if (tree_rd_init(&rd, data, size) < 0)
		return 0;
	while ((rc = tree_rd_next(&rd, &n)) > 0) {
		struct buf b = BUF_INIT;

		buf_init(&b, 1u << 26);
		if (tree_encode_node(&b, &n) < 0)
			__builtin_trap();
		buf_release(&b);
		node_release(&n);
	}
	return rc == 0;
}
