/* The inode table: numbering, lookup by number and by key, removal, growth. */
#include "fuse/snapfs-internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "tests/tap.h"
#include "util/banned.h"

#define N 20000

int main(void)
{
	struct itable t;
	struct snode *nodes = calloc(N + 1, sizeof(*nodes));
	char key[32];
	size_t bad = 0;

	ok(nodes && itable_init(&t) == 0, "init");
	nodes[N].ino = FUSE_ROOT_ID;
	nodes[N].key = (uint8_t *)"v";
	nodes[N].key_len = 1;
	ok(itable_add(&t, &nodes[N]) == 0 && nodes[N].ino == FUSE_ROOT_ID, "preset number kept");
	for (size_t i = 0; i < N; i++) {
		int w = snprintf(key, sizeof(key), "p%zu", i);

		nodes[i].key = (uint8_t *)strndup(key, (size_t)w);
		nodes[i].key_len = (size_t)w;
		if (itable_add(&t, &nodes[i]) < 0)
			bad++;
	}
	is_int(bad, 0, "%d nodes added (the table grows)", N);
	ok(nodes[0].ino == 2 && nodes[N - 1].ino == N + 1, "numbers are handed out from 2");
	for (size_t i = 0; i < N; i++) {
		int w = snprintf(key, sizeof(key), "p%zu", i);

		if (itable_get(&t, nodes[i].ino) != &nodes[i] ||
		    itable_find(&t, key, (size_t)w) != &nodes[i])
			bad++;
	}
	is_int(bad, 0, "every node is found by number and by key");
	ok(itable_find(&t, "p", 1) == NULL && itable_get(&t, N + 2) == NULL,
	   "unknown key and number are not found");
	for (size_t i = 0; i < N; i += 2)
		itable_del(&t, &nodes[i]);
	for (size_t i = 0; i < N; i++) {
		bool want = i % 2 == 1;

		if ((itable_get(&t, nodes[i].ino) != NULL) != want ||
		    (itable_find(&t, nodes[i].key, nodes[i].key_len) != NULL) != want)
			bad++;
	}
	is_int(bad, 0, "deleting half leaves exactly the other half");
	is_int(t.count, N / 2 + 1, "count follows");
	ok(itable_get(&t, FUSE_ROOT_ID) == &nodes[N], "root still there");
	for (size_t i = 0; i < N; i++)
		free(nodes[i].key);
	free(nodes);
	itable_release(&t);
	return tap_done();
}
