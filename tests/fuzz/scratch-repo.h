/* A scratch repository for the fuzz targets that decode sealed repository objects: the
 * input is sealed with the repository's key and stored, so the parser behind the
 * authentication (the part a holder of the key controls) meets it. */
#pragma once
#include "repo/repo-internal.h"

/* Created on first use in $TMPDIR (fast KDF), removed at exit; NULL on failure. */
struct repo *fuzz_repo(void);
