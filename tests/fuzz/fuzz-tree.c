/* Fuzz target: the tree segment decoder must refuse, never crash, on any input. */
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree_rd rd;
	struct node n;

	if (tree_rd_init(&rd, data, size) < 0)
		return 0;
	while (tree_rd_next(&rd, &n) > 0) {
		struct buf b = BUF_INIT;

		/* What decodes must encode again. */
		buf_init(&b, 1u << 26);
		if (tree_encode_node(&b, &n) < 0)
			__builtin_trap();
		buf_release(&b);
		node_release(&n);
	}
	return 0;
}
