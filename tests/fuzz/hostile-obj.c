/* hostile-obj REPO seal lock|snapshot|index < BYTES: seals BYTES with the repository's key
 * as an object of that kind and prints its name; hostile-obj REPO open KIND NAME prints
 * an object's opened bytes. What anyone holding the key (every node of a cluster) can
 * write, for tests/e2e/hostile-repo.sh: lock objects with forged times, snapshots sealed
 * twice. Password from CAIRN_PASSWORD. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo-internal.h"
#include "util/banned.h"

static int kind_of(const char *s, enum obj_type *t, enum key_domain *d)
{
	if (!strcmp(s, "lock"))
		*t = OBJ_LOCK, *d = KEY_DOMAIN_LOCK;
	else if (!strcmp(s, "snapshot"))
		*t = OBJ_SNAPSHOT, *d = KEY_DOMAIN_SNAPSHOT;
	else if (!strcmp(s, "index"))
		*t = OBJ_INDEX, *d = KEY_DOMAIN_INDEX;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	const char *pw = getenv("CAIRN_PASSWORD");
	struct repo_open_params o = { 0 };
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	enum key_domain d;
	enum obj_type t;
	char name[ID_HEX];
	int rc, c;

	if (argc < 4 || !pw || kind_of(argv[3], &t, &d) < 0 ||
	    (strcmp(argv[2], "seal") && (strcmp(argv[2], "open") || argc != 5))) {
		fprintf(stderr, "usage: CAIRN_PASSWORD=... hostile-obj REPO seal KIND < BYTES\n"
		                "       CAIRN_PASSWORD=... hostile-obj REPO open KIND NAME\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	o.url = argv[1];
	o.password = pw;
	o.password_len = strlen(pw);
	buf_init(&b, REPO_SMALL_OBJ_MAX);
	rc = repo_open(&o, &r, &e);
	if (rc >= 0 && !strcmp(argv[2], "open")) {
		rc = obj_get_open(r, t, d, argv[4], &b, &e);
		if (rc >= 0 && fwrite(b.p, 1, b.len, stdout) != b.len)
			rc = -EIO;
	} else if (rc >= 0) {
		while (rc >= 0 && (c = getchar()) != EOF) {
			uint8_t ch = (uint8_t)c;

			rc = buf_append(&b, &ch, 1);
		}
		if (rc >= 0)
			rc = obj_seal_put(r, t, d, b.p, b.len, name, &e);
		if (rc >= 0)
			printf("%s\n", name);
	}
	if (rc < 0)
		fprintf(stderr, "hostile-obj: %s (%s)\n", e.msg, strerror(-rc));
	buf_release(&b);
	repo_free(r);
	return rc < 0;
}
