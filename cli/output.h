/* Display helpers for nodes; cli-internal. */
#pragma once
#include <stddef.h>

#include "repo/repo.h"

const char *cli_node_type(enum node_type t);
/* Byte-safe rendering of a name: control and invalid UTF-8 bytes as \xNN. */
void cli_escape(const char *p, size_t n, char *out, size_t max);
/* json_t* describing n (path shown as given); caller decrefs. */
void *cli_node_json(const struct node *n, const char *path);
