/* Owns where S3 credentials come from: an explicit file and profile, the AWS_* variables,
 * or the AWS shared credentials file, read with libinih (the INI dialect of botocore's
 * configparser: ';'/'#' comments, "[profile NAME]" sections, indented continuations). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "s3/s3-internal.h"
#include "util/fsutil.h"

#include "util/banned.h"

#define MAX_CRED_FILE (256u << 10)
#define MAX_SECRET    4096 /* STS session tokens run to ~1.5 KB; room to spare */
#define MAX_PROFILE   48   /* libinih keeps section names below 50 bytes */

/* The reader and handler state of one parse (one struct serves as both, so the
 * reader can tell the handler that a call continues a line it split). */
struct cred_parse {
	const char *p, *end; /* the file's bytes still to read */
	bool in_long;        /* the reader is in the middle of a line it split */
	bool split_next;     /* the next continuation the handler sees is such a piece */
	const char *profile;
	char *last; /* the value a split piece belongs to, NULL when none */
	bool dup;   /* a key of ours set twice, or an indented line continuing one */
	int r;      /* -ENOMEM */
	struct s3_creds *c;
};

/* libinih (as Debian builds it) reads lines of at most 199 bytes and drops the rest, but
 * a session token is longer: hand it a long "key = value" line as a first piece plus
 * indented continuation pieces, which the handler joins back. Other long lines (comments,
 * sections, continuations) are cut: nothing of ours can be in their tail. Each piece
 * ends in '\n'. */
static char *cred_reader(char *line, int num, void *ud)
{
	struct cred_parse *cp = ud;
	const char *nl;
	size_t n, room, lead = cp->in_long ? 1 : 0;
	bool splittable;

	if (cp->p >= cp->end || num < 8)
		return NULL;
	nl = memchr(cp->p, '\n', (size_t)(cp->end - cp->p));
	n = nl ? (size_t)(nl - cp->p) : (size_t)(cp->end - cp->p);
	room = (size_t)num - 2 - lead; /* the lead space, '\n' and NUL */
	cp->split_next = cp->in_long;
	if (!cp->in_long)
		cp->last = NULL; /* a new line: only its own handler call may set it */
	splittable = cp->in_long || !strchr(" \t#;[", cp->p[0]);
	if (lead)
		line[0] = ' ';
	memcpy(line + lead, cp->p, n > room ? room : n);
	line[lead + (n > room ? room : n)] = '\n';
	line[lead + (n > room ? room : n) + 1] = 0;
	if (n > room && splittable) {
		cp->p += room;
		cp->in_long = true;
	} else {
		cp->p += n + (nl ? 1 : 0);
		cp->in_long = false;
	}
	return line;
}

static bool section_is(const char *section, const char *profile)
{
	/* ~/.aws/config spells sections "[profile NAME]" */
	if (strncmp(section, "profile ", 8) == 0) {
		section += 8;
		while (*section == ' ')
			section++;
	}
	return strcmp(section, profile) == 0;
}

static int secret_set(char **slot, const char *v, bool secret)
{
	size_t n = strlen(v);
	char *p = secret ? sodium_malloc(MAX_SECRET + 1) : malloc(MAX_SECRET + 1);

	if (!p || n > MAX_SECRET) {
		if (p && secret)
			sodium_free(p);
		else
			free(p);
		return n > MAX_SECRET ? -EFBIG : -ENOMEM;
	}
	memcpy(p, v, n + 1);
	*slot = p;
	return 0;
}

/* A piece of a line the reader split: append it to the value it belongs to. */
static int cred_append(struct cred_parse *cp, const char *v)
{
	size_t have = strlen(cp->last), n = strlen(v);

	if (n > MAX_SECRET - have)
		return -EFBIG;
	memcpy(cp->last + have, v, n + 1);
	return 0;
}

static int cred_handler(void *ud, const char *section, const char *name, const char *value)
{
	struct cred_parse *cp = ud;
	struct s3_creds *c = cp->c;
	char **slot = NULL;
	bool secret = true, split = cp->split_next;
	int r;

	cp->split_next = false;
	if (split) {
		if (!cp->last)
			return 1; /* a long line of another profile or key */
		r = cred_append(cp, value);
		if (r < 0 && cp->r >= 0)
			cp->r = r;
		return r >= 0;
	}
	cp->last = NULL;
	if (!section_is(section, cp->profile))
		return 1;
	if (strcasecmp(name, "aws_access_key_id") == 0)
		slot = &c->access_key, secret = false;
	else if (strcasecmp(name, "aws_secret_access_key") == 0)
		slot = &c->secret;
	else if (strcasecmp(name, "aws_session_token") == 0)
		slot = &c->token;
	if (!slot)
		return 1;
	if (*slot) {
		/* Twice, or an indented line continuing it: which one is meant is a guess. */
		cp->dup = true;
		return 0;
	}
	r = secret_set(slot, value, secret);
	if (r < 0 && cp->r >= 0)
		cp->r = r;
	cp->last = r >= 0 ? *slot : NULL;
	return r >= 0;
}

static int cred_file(const char *path, const char *profile, struct s3_creds *c, struct err *e)
{
	struct cred_parse cp = { .profile = profile, .c = c };
	struct buf b = BUF_INIT;
	char why[48] = "";
	int r, line;

	if (strlen(profile) > MAX_PROFILE)
		return err_set(e, -EINVAL, "S3 profile name longer than %d bytes", MAX_PROFILE);
	buf_init(&b, MAX_CRED_FILE);
	r = read_file_at(AT_FDCWD, path, &b);
	if (r < 0) {
		buf_release(&b);
		return err_set(e, r == -ENOENT ? -EACCES : r, "S3 credentials file %s: %s", path,
		               strerror(-r));
	}
	cp.p = (const char *)b.p;
	cp.end = cp.p + b.len;
	line = ini_parse_stream(cred_reader, &cp, cred_handler, &cp);
	sodium_memzero(b.p, b.len);
	buf_release(&b);
	r = cp.r;
	if (r == -EFBIG)
		r = err_set(e, -EINVAL,
		            "S3 credentials file %s: a value in profile '%s' is longer "
		            "than %d bytes",
		            path, profile, MAX_SECRET);
	else if (r >= 0 && cp.dup)
		r = err_set(e, -EINVAL,
		            "S3 credentials file %s: profile '%s' sets a key twice or continues it "
		            "on an indented line (line %d)",
		            path, profile, line);
	else if (r >= 0 && (!c->access_key || !c->secret)) {
		/* Lines libinih cannot read are skipped as before; name the first one, as it may
		 * hold the missing key. */
		if (line > 0)
			snprintf(why, sizeof(why), " (line %d not understood)", line);
		r = err_set(e, -EACCES,
		            "S3 credentials file %s: profile '%s' has no "
		            "aws_access_key_id/aws_secret_access_key%s",
		            path, profile, why);
	}
	if (r < 0)
		s3_creds_release(c);
	return r;
}

static int secret_dup(const char *s, char **ret)
{
	return strlen(s) > MAX_SECRET ? -EFBIG : secret_set(ret, s, true);
}

int s3_creds_load(const struct backend_options *o, struct s3_creds *c, struct err *e)
{
	const char *file = backend_option(o, "s3.credentials-file");
	const char *profile = backend_option(o, "s3.profile");
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN"), *home = getenv("HOME");
	char path[4096];
	int r;

	memset(c, 0, sizeof(*c));
	if (!profile)
		profile = getenv("AWS_PROFILE");
	/* Explicit choices (a file or a profile) beat the environment's keys. */
	if (!file && !profile && ak && ak[0] && sk && sk[0]) {
		if (!(c->access_key = strdup(ak)))
			return -ENOMEM;
		r = secret_dup(sk, &c->secret);
		if (r >= 0 && tok && tok[0])
			r = secret_dup(tok, &c->token);
		if (r == -EFBIG)
			r = err_set(e, -EINVAL,
			            "AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN longer "
			            "than %d bytes",
			            MAX_SECRET);
		if (r < 0)
			s3_creds_release(c);
		return r;
	}
	if (!file)
		file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	if (!file && home) {
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
		file = path;
	}
	if (!file || access(file, F_OK) != 0)
		return err_set(e, -EACCES,
		               "no S3 credentials: set AWS_ACCESS_KEY_ID and "
		               "AWS_SECRET_ACCESS_KEY, or give a credentials file");
	return cred_file(file, profile ? profile : "default", c, e);
}

void s3_creds_release(struct s3_creds *c)
{
	free(c->access_key);
	if (c->secret)
		sodium_free(c->secret); /* sodium_free wipes before unmapping */
	if (c->token)
		sodium_free(c->token);
	memset(c, 0, sizeof(*c));
}
