/* Key-file cost: CAIRN_KDF_FAST is a test-build knob only, and a key file demanding more
 * Argon2 work than a node affords is refused before any memory is spent on it. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "repo/repo.h"
#include "tests/tap.h"

/* The key file json with its cost fields replaced. */
static char *with_cost(const char *json, long long ops, long long mem)
{
	json_t *o = json_loads(json, 0, NULL);
	char *s;

	json_object_set_new(o, "opslimit", json_integer(ops));
	json_object_set_new(o, "memlimit", json_integer(mem));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int main(void)
{
	struct keyfile_params p, cheap = { 1, 8192 };
	struct key *k = NULL, *got = NULL;
	char *json = NULL, *costly;

	if (sodium_init() < 0)
		return 1;
	setenv("CAIRN_KDF_FAST", "1", 1);
	keyfile_params_default(&p);
#ifdef CAIRN_TEST_HOOKS
	ok(p.memlimit < 1024 * 1024, "test build: CAIRN_KDF_FAST=1 lowers the KDF cost");
#else
	is_int(p.memlimit, 19ull * 1024 * 1024,
	       "release build: CAIRN_KDF_FAST=1 is ignored (default 19 MiB)");
	is_int(p.opslimit, 2, "release build: CAIRN_KDF_FAST=1 is ignored (default t = 2)");
#endif

	ok(key_generate(&k) == 0 && keyfile_create(k, "pw", 2, &cheap, "h", &json) == 0,
	   "a cheap key file");
	ok(keyfile_unlock(json, strlen(json), "pw", 2, &got) == 0, "opens");
	key_free(got);
	got = NULL;
	costly = with_cost(json, 17, 8192);
	is_int(keyfile_unlock(costly, strlen(costly), "pw", 2, &got), -E2BIG,
	       "17 iterations (above the bound of 16) is refused as too costly");
	free(costly);
	costly = with_cost(json, 1, 300ll << 20);
	is_int(keyfile_unlock(costly, strlen(costly), "pw", 2, &got), -E2BIG,
	       "300 MiB (above the bound of 256 MiB) is refused as too costly");
	free(costly);
	{
		struct keyfile_params big = { 17, 8192 };
		char *out = NULL;

		is_int(keyfile_create(k, "pw", 2, &big, "h", &out), -E2BIG,
		       "no key file is written above the bound");
		free(out);
	}

	/* A repository holding one costly key file and a normal one opens through the
	 * normal one; with only the costly one the error names it. */
	{
		char dir[] = "/tmp/cairn-test-kdf-XXXXXX";
		struct repo_create_params cp;
		struct repo_open_params o = { .password = "pw", .password_len = 2 };
		struct err e = ERR_INIT;
		struct repo *r = NULL;
		char *bad = NULL, name[ID_HEX], real[ID_HEX], cmd[128];
		uint8_t id[ID_BYTES];
		struct key *k2 = NULL;

		if (!mkdtemp(dir))
			return 1;
		o.url = dir;
		repo_create_params_default(&cp);
		cp.kdf = cheap;
		ok(repo_create(&o, &cp, &r, &e) == 0, "create: %s", e.msg);
		/* A forged key file: another master key, absurd cost. */
		free(json);
		json = NULL;
		ok(key_generate(&k2) == 0 && keyfile_create(k2, "pw", 2, &cheap, "h", &json) == 0,
		   "a second key file");
		bad = with_cost(json, 17, 8192);
		randombytes_buf(id, sizeof(id));
		hex_encode(id, sizeof(id), name);
		ok(backend_put(repo_backend(r), OBJ_KEY, name, bad, strlen(bad), &e) == 0,
		   "store a too costly key file next to the real one");
		repo_free(r);
		r = NULL;
		ok(repo_open(&o, &r, &e) == 0, "the repository still opens: %s", e.msg);
		snprintf(real, sizeof(real), "%s", r ? repo_keyfile_name(r) : "");
		ok(r && backend_del(repo_backend(r), OBJ_KEY, real, &e) == 0,
		   "remove the real key file");
		repo_free(r);
		r = NULL;
		is_int(repo_open(&o, &r, &e), -EKEYREJECTED, "with only the costly one, no open");
		ok(strstr(e.msg, "skipped 1 key file") != NULL, "and the message says why: %s",
		   e.msg);
		repo_free(r);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ok(system(cmd) == 0, "clean up");

		key_free(k2);
		free(bad);
	}
	key_free(k);
	free(json);
	return tap_done();
}
