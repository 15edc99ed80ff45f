/* Owns how nodes are shown: byte-safe names (odd bytes as \xNN) and the JSON form used by
 * ls --json and cat tree. */
#include "cli/output.h"

#include <jansson.h>
#include <stdio.h>
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

void cli_escape(const char *p, size_t n, char *out, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < max; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch < 0x20 || ch == 0x7f || ch == '\\' || ch >= 0x80) {
			/* Valid UTF-8 sequences stay readable; everything else is escaped. */
			if (ch >= 0xc2 && ch <= 0xf4) {
				size_t need = ch >= 0xf0 ? 3 : ch >= 0xe0 ? 2 : 1, k;

				for (k = 1; k <= need && i + k < n; k++)
					if (((unsigned char)p[i + k] & 0xc0) != 0x80)
						break;
				if (k == need + 1 && o + need + 1 < max) {
					memcpy(out + o, p + i, need + 1);
					o += need + 1;
					i += need;
					continue;
				}
			}
			o += (size_t)snprintf(out + o, max - o, "\\x%02x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = 0;
}

void *cli_node_json(const struct node *n, const char *path)
{
	char name[4096 * 4 + 1], target[4096 * 4 + 1] = "", id[ID_HEX];
	json_t *o, *content, *xattrs;

	cli_escape(n->name, n->name_len, name, sizeof(name));
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", name,
		      "type", cli_node_type(n->type), "path", path ? path : name, "mode",
		      (json_int_t)(n->mode & 07777), "uid", (json_int_t)n->uid, "gid",
		      (json_int_t)n->gid, "size", (json_int_t)n->size, "mtime",
		      (json_int_t)n->mtime_sec, "mtime_nsec", (json_int_t)n->mtime_nsec, "inode",
		      (json_int_t)n->inode, "links", (json_int_t)n->nlink);
	if (!o)
		return NULL;
	if (n->user && n->user[0])
		json_object_set_new(o, "user", json_string(n->user));
	if (n->group && n->group[0])
		json_object_set_new(o, "group", json_string(n->group));
	if (n->target) {
		cli_escape(n->target, n->target_len, target, sizeof(target));
		json_object_set_new(o, "linktarget", json_string(target));
	}
	if (n->type == NODE_CHR || n->type == NODE_BLK)
		json_object_set_new(o, "rdev", json_integer((json_int_t)n->rdev));
	if (n->flags)
		json_object_set_new(o, "flags", json_integer(n->flags));
	if (n->n_xattrs) {
		xattrs = json_array();
		for (size_t i = 0; i < n->n_xattrs; i++)
			json_array_append_new(xattrs, json_string(n->xattrs[i].name));
		json_object_set_new(o, "xattrs", xattrs);
	}
	if (n->n_content) {
		content = json_array();
		for (size_t i = 0; i < n->n_content; i++) {
			if (n->content[i].hole) {
				json_array_append_new(content, json_pack("{s:I}", "hole",
									 (json_int_t)n->content[i].len));
				continue;
			}
			hex_encode(n->content[i].id, ID_BYTES, id);
			json_array_append_new(content, json_pack("{s:s, s:I}", "id", id,
								 n->type == NODE_DIR ? "entries"
										     : "len",
								 (json_int_t)n->content[i].len));
		}
		json_object_set_new(o, n->type == NODE_DIR ? "subtree" : "content", content);
	}
	return o;
}
