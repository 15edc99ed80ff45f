/* Writes the seed corpus (run once; the seeds are committed): a tree segment with every
 * node kind and a valid key file. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "repo/repo.h"

static void put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	struct xattr x = { "user.a", (uint8_t *)"v", 1 };
	struct extent e[2] = { { { 1 }, 10, false }, { { 0 }, 20, true } };
	struct node nodes[3] = {
		{ .type = NODE_FILE, .name = "f", .name_len = 1, .mode = 0100644, .size = 30,
		  .xattrs = &x, .n_xattrs = 1, .content = e, .n_content = 2 },
		{ .type = NODE_SYMLINK, .name = "l", .name_len = 1, .mode = 0120777,
		  .target = "f", .target_len = 1 },
		{ .type = NODE_DIR, .name = "d", .name_len = 1, .mode = 040755, .content = e,
		  .n_content = 1 },
	};
	struct keyfile_params kp = { 1, 8192 };
	struct buf b = BUF_INIT;
	struct key *k = NULL;
	char *json = NULL;

	if (argc < 2 || sodium_init() < 0)
		return 1;
	buf_init(&b, 1 << 20);
	if (tree_encode_header(&b) < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (tree_encode_node(&b, &nodes[i]) < 0)
			return 1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tree/seed-kinds", argv[1]);
	put(path, b.p, b.len);
	if (key_generate(&k) < 0 || keyfile_create(k, "pw", 2, &kp, "h", &json) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/keyfile/seed-valid", argv[1]);
	put(path, json, strlen(json));
	return 0;
}
