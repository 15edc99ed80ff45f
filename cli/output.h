/* Display helpers for names and nodes; cli-internal. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

/* Room for the escaped form of a name or path of up to 4096 bytes (each byte at most 4). */
#define CLI_ESC_MAX (4096 * 4 + 1)

const char *cli_node_type(enum node_type t);
/* Byte-safe text of p[0..n): printable ASCII and safe UTF-8 as they are; control bytes,
 * '\', invalid UTF-8, C1 controls and bidi overrides as \xNN per byte, so a name can
 * neither drive a terminal nor forge a log line. Always NUL-terminates out (max > 0).
 * True when out differs from the input (something escaped or cut). */
bool cli_escape(const char *p, size_t n, char *out, size_t max);
/* cli_escape of a C string; returns out. */
const char *cli_esc(const char *s, char *out, size_t max);
/* Set obj[key] to the escaped text of p[0..n) and, when that differs from the bytes,
 * obj[key + "_b64"] to the exact bytes in base64. obj is a json_t*. */
void cli_json_bytes(void *obj, const char *key, const char *p, size_t n);
/* json_t* describing n, path raw bytes as walked (NULL: the name); caller decrefs. */
void *cli_node_json(const struct node *n, const char *path);
/* A byte or item count for JSON, whose integers are signed 64-bit: values past INT64_MAX
 * (sums over sparse files of 2^63-1 bytes) are clamped there instead of turning negative. */
long long cli_json_count(uint64_t v);
