/* `cairn cat config|snapshot ID|tree ID|index ID`: decrypted objects as JSON. */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "util/banned.h"

static int cat_tree(struct repo *r, const char *hex, struct err *e)
{
	struct extent seg = { 0 };
	struct tree_iter it;
	struct node n;
	json_t *arr = json_array();
	int rc;

	if (hex_decode(hex, seg.id, ID_BYTES) < 0) {
		json_decref(arr);
		return err_set(e, -EINVAL, "'%s' is not a tree id (64 hex digits)", hex);
	}
	tree_iter_init_root(&it, r, &seg, 1);
	while ((rc = tree_iter_next(&it, &n, e)) > 0) {
		json_array_append_new(arr, cli_node_json(&n, NULL));
		node_release(&n);
	}
	tree_iter_release(&it);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	cli_print_json(json_pack("{s:o}", "nodes", arr));
	return 0;
}

int cmd_cat(struct cli *c, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : NULL, *id = argc > 2 ? argv[2] : NULL;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int rc;

	if (!what || (strcmp(what, "config") != 0 && !id))
		return cli_fail(c, &e, err_set(&e, -EINVAL,
					       "usage: cairn cat config|snapshot ID|tree ID|index ID"));
	rc = cli_open_repo(c, &r, &e);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (!strcmp(what, "config")) {
		char *s = NULL;

		rc = repo_config_json(r, &s, &e);
		if (rc >= 0)
			printf("%s\n", s);
		free(s);
	} else if (!strcmp(what, "snapshot")) {
		struct snapshot s = { 0 };

		rc = repo_snapshot_load(r, id, &s, &e);
		if (rc >= 0) {
			json_t *o = snapshot_to_json(&s);
			char hex[ID_HEX];

			hex_encode(s.id, ID_BYTES, hex);
			json_object_set_new(o, "id", json_string(hex));
			cli_print_json(o);
		}
		snapshot_release(&s);
	} else if (!strcmp(what, "tree")) {
		rc = repo_index_load(r, &e);
		if (rc >= 0)
			rc = cat_tree(r, id, &e);
	} else if (!strcmp(what, "index")) {
		json_t *j = NULL;

		rc = hex_valid(id, ID_BYTES) ? repo_index_file_json(r, id, &j, &e)
					     : err_set(&e, -EINVAL, "'%s' is not an index id", id);
		if (rc >= 0)
			cli_print_json(j);
	} else {
		rc = err_set(&e, -EINVAL, "cat: unknown object kind '%s'", what);
	}
	repo_free(r);
	return rc < 0 ? cli_fail(c, &e, rc) : EXIT_OK;
}
