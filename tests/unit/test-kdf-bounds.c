/* Key-file cost: CAIRN_KDF_FAST is a test-build knob only, and a key file demanding more
 * Argon2 work than a node affords is refused before any memory is spent on it. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "tests/tap.h"

int main(void)
{
	struct keyfile_params p;

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
	return tap_done();
}
