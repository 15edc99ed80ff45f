/* Owns how names reach a terminal, a log or a JSON reader: every path cli/ prints goes
 * through cli_escape (odd bytes as \xNN) or cli_json_bytes (the same text plus the exact
 * bytes in base64); and the JSON form of nodes used by ls --json and cat tree. */
#include "cli/output.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/banned.h"

static const char *const type_names[_NODE_TYPE_MAX] = {
	"file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket",
};

const char *cli_node_type(enum node_type t)
{
	return (unsigned)t < _NODE_TYPE_MAX ? type_names[t] : "unknown";
}

/* Length of the valid UTF-8 sequence at p (1 to 4) that is safe to show, or 0: overlong
 * forms, surrogates and values past U+10FFFF are invalid; C1 controls (U+0080..U+009F,
 * U+009B is a CSI to many terminals), bidirectional overrides and isolates (U+202A..E,
 * U+2066..9: text that reads differently from what it is) and line/paragraph separators
 * are valid but shown escaped. */
static size_t utf8_safe(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x2028 || cp == 0x2029)
		return 0;
	return len;
}

bool cli_escape(const char *p, size_t n, char *out, size_t max)
{
	const unsigned char *u = (const unsigned char *)p;
	bool changed = false;
	size_t o = 0, i = 0;

	while (i < n) {
		size_t k = u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\' ? 1
		           : u[i] >= 0x80                              ? utf8_safe(u + i, n - i)
		                                                       : 0;

		if (k && o + k < max) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
			continue;
		}
		if (k || o + 4 >= max) {
			changed = true; /* cut short: the caller's buffer is full */
			break;
		}
		snprintf(out + o, max - o, "\\x%02x", u[i]);
		o += 4;
		i++;
		changed = true;
	}
	if (max)
		out[o < max ? o : max - 1] = 0;
	return changed;
}

const char *cli_esc(const char *s, char *out, size_t max)
{
	cli_escape(s, strlen(s), out, max);
	return out;
}

void cli_json_bytes(void *obj, const char *key, const char *p, size_t n)
{
	char esc[CLI_ESC_MAX], k64[64], *b64;
	bool changed = cli_escape(p, n, esc, sizeof(esc));
	size_t m;

	json_object_set_new(obj, key, json_string(esc));
	if (changed) {
		/* The exact bytes too: a reader can open the very file, whatever its name. */
		m = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
		b64 = malloc(m);
		snprintf(k64, sizeof(k64), "%s_b64", key);
		if (b64) {
			sodium_bin2base64(b64, m, (const unsigned char *)p, n,
			                  sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(obj, k64, json_string(b64));
			free(b64);
		}
	}
}

void *cli_node_json(const struct node *n, const char *path)
{
	static const char *const nums[] = { "mode",  "uid",        "gid",   "size",
		                            "mtime", "mtime_nsec", "inode", "links" };
	char id[ID_HEX];
	json_t *o, *num, *content, *xattrs;

	/* Keys in the order ls --json always had (tests/golden/expect/ls.json). */
	o = json_object();
	if (!o)
		return NULL;
	cli_json_bytes(o, "name", n->name, n->name_len);
	json_object_set_new(o, "type", json_string(cli_node_type(n->type)));
	if (path)
		cli_json_bytes(o, "path", path, strlen(path));
	else
		cli_json_bytes(o, "path", n->name, n->name_len);
	num = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "mode",
	                (json_int_t)(n->mode & 07777), "uid", (json_int_t)n->uid, "gid",
	                (json_int_t)n->gid, "size", (json_int_t)n->size, "mtime",
	                (json_int_t)n->mtime_sec, "mtime_nsec", (json_int_t)n->mtime_nsec, "inode",
	                (json_int_t)n->inode, "links", (json_int_t)n->nlink);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		json_object_set(o, nums[i], json_object_get(num, nums[i]));
	json_decref(num);
	if (n->user && n->user[0])
		cli_json_bytes(o, "user", n->user, strlen(n->user));
	if (n->group && n->group[0])
		cli_json_bytes(o, "group", n->group, strlen(n->group));
	if (n->target)
		cli_json_bytes(o, "linktarget", n->target, n->target_len);
	if (n->type == NODE_CHR || n->type == NODE_BLK)
		json_object_set_new(o, "rdev", json_integer((json_int_t)n->rdev));
	if (n->flags)
		json_object_set_new(o, "flags", json_integer(n->flags));
	if (n->n_xattrs) {
		xattrs = json_array();
		for (size_t i = 0; i < n->n_xattrs; i++) {
			json_t *x = json_object();

			/* xattr names are bytes too: the escaped text is the array's entry. */
			cli_json_bytes(x, "name", n->xattrs[i].name, strlen(n->xattrs[i].name));
			json_array_append(xattrs, json_object_get(x, "name"));
			json_decref(x);
		}
		json_object_set_new(o, "xattrs", xattrs);
	}
	if (n->n_content) {
		content = json_array();
		for (size_t i = 0; i < n->n_content; i++) {
			if (n->content[i].hole) {
				json_array_append_new(
				    content,
				    json_pack("{s:I}", "hole", (json_int_t)n->content[i].len));
				continue;
			}
			hex_encode(n->content[i].id, ID_BYTES, id);
			json_array_append_new(content,
			                      json_pack("{s:s, s:I}", "id", id,
			                                n->type == NODE_DIR ? "entries" : "len",
			                                (json_int_t)n->content[i].len));
		}
		json_object_set_new(o, n->type == NODE_DIR ? "subtree" : "content", content);
	}
	return o;
}

long long cli_json_count(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (long long)v;
}
