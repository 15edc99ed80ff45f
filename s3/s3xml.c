/* Owns the S3 XML reply parsers: one bounded expat walker tracking the element path,
 * plus a small handler per reply type that reacts to leaf elements by path. */
#include "s3/s3xml.h"

#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define MAX_PATH 256

struct walk {
	XML_Parser x;
	const char *root; /* required name of the document element */
	char path[MAX_PATH];
	size_t plen;
	char text[S3XML_MAX_TEXT + 1];
	size_t tlen;
	/* path is relative to the root ("Contents/Key"); text is the leaf's content */
	int (*start)(struct walk *w, const char *path);
	int (*end)(struct walk *w, const char *path, const char *text);
	void *ud;
	int r;
};

static void stop(struct walk *w, int r)
{
	if (w->r >= 0)
		w->r = r;
	XML_StopParser(w->x, XML_FALSE);
}

static const char *rel(const struct walk *w)
{
	const char *s = strchr(w->path, '/');

	return s ? s + 1 : "";
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct walk *w = ud;
	size_t nl = strlen(name);
	int r = 0;

	if (w->r < 0)
		return;
	if (w->plen == 0 && strcmp(name, w->root) != 0) {
		stop(w, -EPROTO);
		return;
	}
	if (w->plen + nl + 2 > sizeof(w->path)) {
		stop(w, -EPROTO);
		return;
	}
	if (w->plen)
		w->path[w->plen++] = '/';
	memcpy(w->path + w->plen, name, nl + 1);
	w->plen += nl;
	w->tlen = 0;
	if (w->start)
		r = w->start(w, rel(w));
	if (r < 0)
		stop(w, r);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct walk *w = ud;
	char *slash;
	int r = 0;

	if (w->r < 0)
		return;
	w->text[w->tlen] = 0;
	if (w->end)
		r = w->end(w, rel(w), w->text);
	if (r < 0) {
		stop(w, r);
		return;
	}
	slash = strrchr(w->path, '/');
	w->plen = slash ? (size_t)(slash - w->path) : 0;
	w->path[w->plen] = 0;
	w->tlen = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct walk *w = ud;

	if (w->r < 0 || len <= 0)
		return;
	if ((size_t)len > S3XML_MAX_TEXT - w->tlen) {
		stop(w, -EPROTO);
		return;
	} /* no field we read is this long */
	memcpy(w->text + w->tlen, s, (size_t)len);
	w->tlen += (size_t)len;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
	/* S3 never sends a DTD; refusing it rules out entity expansion attacks. */
	stop(ud, -EPROTO);
}

static int walk_run(struct walk *w, const void *p, size_t n)
{
	enum XML_Status st;

	if (n > S3XML_MAX_REPLY)
		return -EFBIG;
	w->x = XML_ParserCreate("UTF-8");
	if (!w->x)
		return -ENOMEM;
	w->r = 0;
	w->plen = w->tlen = 0;
	w->path[0] = 0;
	XML_SetUserData(w->x, w);
	XML_SetElementHandler(w->x, on_start, on_end);
	XML_SetCharacterDataHandler(w->x, on_text);
	XML_SetStartDoctypeDeclHandler(w->x, on_doctype);
	st = XML_Parse(w->x, p, (int)n, XML_TRUE);
	if (st != XML_STATUS_OK && w->r >= 0)
		w->r = -EPROTO;
	XML_ParserFree(w->x);
	w->x = NULL;
	return w->r;
}

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* Text the server wrote that reaches a message: line breaks and tabs (the only control
 * characters XML allows) become spaces, so the error stays one line. */
static void copy_line(char *dst, size_t size, const char *src)
{
	copy(dst, size, src);
	for (; *dst; dst++)
		if ((unsigned char)*dst < 0x20)
			*dst = ' ';
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s[0] || s[0] == '-')
		return -EPROTO;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EPROTO;
	*ret = v;
	return 0;
}

/* ---- ListObjectsV2 ---- */

struct list_st {
	s3xml_entry_fn fn;
	void *ud;
	struct s3xml_list out;
	char key[S3XML_MAX_KEY + 1];
	uint64_t size;
	bool have_key, have_size;
};

static int list_start(struct walk *w, const char *path)
{
	struct list_st *st = w->ud;

	if (strcmp(path, "Contents") == 0)
		st->have_key = st->have_size = false;
	return 0;
}

static int list_end(struct walk *w, const char *path, const char *text)
{
	struct list_st *st = w->ud;

	if (strcmp(path, "Contents/Key") == 0) {
		if (strlen(text) > S3XML_MAX_KEY || !text[0])
			return -EPROTO;
		copy(st->key, sizeof(st->key), text);
		st->have_key = true;
	} else if (strcmp(path, "Contents/Size") == 0) {
		if (parse_u64(text, &st->size) < 0)
			return -EPROTO;
		st->have_size = true;
	} else if (strcmp(path, "Contents") == 0) {
		if (!st->have_key || !st->have_size)
			return -EPROTO;
		st->out.count++;
		return st->fn(st->ud, st->key, st->size);
	} else if (strcmp(path, "IsTruncated") == 0) {
		st->out.truncated = strcmp(text, "true") == 0;
	} else if (strcmp(path, "NextContinuationToken") == 0) {
		if (strlen(text) > S3XML_MAX_KEY)
			return -EPROTO;
		copy(st->out.next_token, sizeof(st->out.next_token), text);
	}
	return 0;
}

int s3xml_list(const void *p, size_t n, s3xml_entry_fn fn, void *ud, struct s3xml_list *ret)
{
	struct list_st *st = calloc(1, sizeof(*st));
	struct walk *w = calloc(1, sizeof(*w));
	int r = -ENOMEM;

	if (!st || !w)
		goto fail;
	st->fn = fn;
	st->ud = ud;
	*w = (struct walk){
		.root = "ListBucketResult", .start = list_start, .end = list_end, .ud = st
	};
	r = walk_run(w, p, n);
	/* A truncated listing without a token would make the caller loop forever. */
	if (r >= 0 && st->out.truncated && !st->out.next_token[0])
		r = -EPROTO;
	if (r >= 0)
		*ret = st->out;
fail:
	free(st);
	free(w);
	return r;
}

/* ---- Error ---- */

static int error_end(struct walk *w, const char *path, const char *text)
{
	struct s3xml_error *e = w->ud;

	if (strcmp(path, "Code") == 0)
		copy_line(e->code, sizeof(e->code), text);
	else if (strcmp(path, "Message") == 0)
		copy_line(e->message, sizeof(e->message), text);
	else if (strcmp(path, "Region") == 0)
		copy(e->region, sizeof(e->region), text);
	return 0;
}

int s3xml_error(const void *p, size_t n, struct s3xml_error *ret)
{
	struct walk *w = calloc(1, sizeof(*w));
	struct s3xml_error e;
	int r;

	if (!w)
		return -ENOMEM;
	memset(&e, 0, sizeof(e));
	*w = (struct walk){ .root = "Error", .end = error_end, .ud = &e };
	r = walk_run(w, p, n);
	free(w);
	if (r >= 0 && !e.code[0])
		r = -EPROTO;
	if (r >= 0)
		*ret = e;
	return r;
}

/* ---- multipart ---- */

struct leaf {
	const char *want;
	char *out;
	size_t size;
	bool found;
};

static int leaf_end(struct walk *w, const char *path, const char *text)
{
	struct leaf *l = w->ud;

	if (strcmp(path, l->want) == 0) {
		if (strlen(text) >= l->size)
			return -EPROTO;
		copy(l->out, l->size, text);
		l->found = true;
	}
	return 0;
}

static int one_leaf(const void *p, size_t n, const char *root, const char *want, char *out,
                    size_t size)
{
	char tmp[S3XML_MAX_TEXT + 1];
	struct leaf l = { want, tmp, size < sizeof(tmp) ? size : sizeof(tmp), false };
	struct walk *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	*w = (struct walk){ .root = root, .end = leaf_end, .ud = &l };
	r = walk_run(w, p, n);
	free(w);
	if (r >= 0 && (!l.found || !tmp[0]))
		r = -EPROTO;
	if (r >= 0)
		copy(out, size, tmp);
	return r;
}

int s3xml_upload_id(const void *p, size_t n, char *out, size_t out_size)
{
	return one_leaf(p, n, "InitiateMultipartUploadResult", "UploadId", out, out_size);
}

int s3xml_complete(const void *p, size_t n, char *etag, size_t etag_size,
                   struct s3xml_error *ret_err)
{
	int r = one_leaf(p, n, "CompleteMultipartUploadResult", "ETag", etag, etag_size);

	if (r != -EPROTO)
		return r;
	r = s3xml_error(p, n, ret_err);
	return r < 0 ? r : 1;
}

/* ---- DeleteObjects ---- */

struct del_st {
	s3xml_delete_fn fn;
	void *ud;
	char key[S3XML_MAX_KEY + 1];
	struct s3xml_error e;
	int deleted;
};

static int del_start(struct walk *w, const char *path)
{
	struct del_st *st = w->ud;

	if (strcmp(path, "Error") == 0 || strcmp(path, "Deleted") == 0) {
		st->key[0] = 0;
		memset(&st->e, 0, sizeof(st->e));
	}
	return 0;
}

static int del_end(struct walk *w, const char *path, const char *text)
{
	struct del_st *st = w->ud;

	if (strcmp(path, "Deleted/Key") == 0) {
		copy(st->key, sizeof(st->key), text);
	} else if (strcmp(path, "Deleted") == 0) {
		if (!st->key[0])
			return -EPROTO;
		st->deleted++;
		return st->fn(st->ud, st->key, "", "");
	} else if (strcmp(path, "Error/Key") == 0)
		copy(st->key, sizeof(st->key), text);
	else if (strcmp(path, "Error/Code") == 0)
		copy_line(st->e.code, sizeof(st->e.code), text);
	else if (strcmp(path, "Error/Message") == 0)
		copy_line(st->e.message, sizeof(st->e.message), text);
	else if (strcmp(path, "Error") == 0)
		return st->fn(st->ud, st->key, st->e.code, st->e.message);
	return 0;
}

int s3xml_delete(const void *p, size_t n, s3xml_delete_fn fn, void *ud)
{
	struct del_st *st = calloc(1, sizeof(*st));
	struct walk *w = calloc(1, sizeof(*w));
	int r = -ENOMEM;

	if (!st || !w)
		goto fail;
	st->fn = fn;
	st->ud = ud;
	*w = (struct walk){ .root = "DeleteResult", .start = del_start, .end = del_end, .ud = st };
	r = walk_run(w, p, n);
	if (r >= 0)
		r = st->deleted;
fail:
	free(st);
	free(w);
	return r;
}
