/* setconfig REPO < JSON: replaces REPO's config with JSON, sealed with the repository's key
 * (what anyone holding a key, every node agent among them, can do). Password from
 * CAIRN_PASSWORD. Test tool: format-v2.sh feeds hostile configs to cairn with it. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo-internal.h"
#include "util/banned.h"

int main(int argc, char **argv)
{
	static char json[64 * 1024];
	const char *pw = getenv("CAIRN_PASSWORD");
	struct repo_open_params o = { 0 };
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	size_t n;
	int rc;

	if (sodium_init() < 0 || argc != 2 || !pw) {
		fprintf(stderr, "usage: CAIRN_PASSWORD=... setconfig REPO < JSON\n");
		return 2;
	}
	n = fread(json, 1, sizeof(json), stdin);
	if (n == sizeof(json) || ferror(stdin)) {
		fprintf(stderr, "setconfig: config too large or unreadable\n");
		return 2;
	}
	o.url = argv[1];
	o.password = pw;
	o.password_len = strlen(pw);
	rc = repo_open(&o, &r, &e);
	if (rc >= 0)
		rc = obj_seal_put(r, OBJ_CONFIG, KEY_DOMAIN_CONFIG, json, n, NULL, &e);
	if (rc < 0)
		fprintf(stderr, "setconfig: %s\n", e.msg);
	repo_free(r);
	return rc < 0 ? 1 : 0;
}
