/* Owns the key files of a repository: several passwords wrap the same master key, each in
 * its own keys/<id> object. Adding writes a new object; removing refuses the last key and
 * the key this session opened with (passwd replaces it deliberately). */
#include "maint/maint.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

struct key_scan {
	struct repo *r;
	struct err *e;
	struct repo_key_info *v;
	size_t n;
};

static void describe(struct repo *r, const char *name, struct repo_key_info *ki)
{
	struct buf b = BUF_INIT;
	struct err ignore = ERR_INIT;
	json_t *o = NULL;
	const char *host = "";
	json_int_t created = 0;

	memset(ki, 0, sizeof(*ki));
	snprintf(ki->name, sizeof(ki->name), "%s", name);
	ki->current = !strcmp(name, repo_keyfile_name(r));
	buf_init(&b, 64 * 1024);
	/* Only the plaintext fields are read: the sealed master key stays sealed. */
	if (backend_get(repo_backend(r), OBJ_KEY, name, 0, 0, &b, &ignore) >= 0)
		o = json_loadb((const char *)b.p, b.len, 0, NULL);
	if (o && json_unpack(o, "{s?s, s?I}", "hostname", &host, "created", &created) == 0) {
		time_t t = (time_t)created;
		struct tm tm;

		snprintf(ki->host, sizeof(ki->host), "%s", host);
		if (created && gmtime_r(&t, &tm))
			strftime(ki->created, sizeof(ki->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	json_decref(o);
	buf_release(&b);
}

static int scan_key(void *ud, const char *name, uint64_t size)
{
	struct key_scan *s = ud;
	void *p;

	(void)size;
	if (strlen(name) != ID_HEX - 1)
		return 0;
	p = reallocarray(s->v, s->n + 1, sizeof(*s->v));
	if (!p)
		return err_set(s->e, -ENOMEM, "out of memory");
	s->v = p;
	describe(s->r, name, &s->v[s->n++]);
	return 0;
}

int repo_key_list(struct repo *r, struct repo_key_info **ret, size_t *ret_n, struct err *e)
{
	struct key_scan s = { .r = r, .e = e };
	int rc = backend_list(repo_backend(r), OBJ_KEY, scan_key, &s, e);

	if (rc < 0) {
		free(s.v);
		return rc;
	}
	*ret = s.v;
	*ret_n = s.n;
	return 0;
}

int repo_key_add(struct repo *r, const char *password, size_t pwlen, char ret_name[ID_HEX],
		 struct err *e)
{
	struct keyfile_params kp;
	char host[128] = "", *kf = NULL, name[ID_HEX];
	uint8_t id[ID_BYTES];
	int rc;

	if (!pwlen)
		return err_set(e, -EINVAL, "empty password");
	keyfile_params_default(&kp);
	gethostname(host, sizeof(host) - 1);
	rc = keyfile_create(repo_key(r), password, pwlen, &kp, host, &kf);
	if (rc < 0)
		return err_set(e, rc, "creating the key file failed");
	crypto_generichash(id, sizeof(id), (const uint8_t *)kf, strlen(kf), NULL, 0);
	hex_encode(id, sizeof(id), name);
	rc = backend_put(repo_backend(r), OBJ_KEY, name, kf, strlen(kf), e);
	free(kf);
	if (rc < 0)
		return rc;
	memcpy(ret_name, name, ID_HEX);
	return 0;
}

/* Resolve a unique prefix (at least 4 hex digits) among the listed keys. */
static int resolve(const struct repo_key_info *v, size_t n, const char *prefix, size_t *ret,
		   struct err *e)
{
	size_t pl = strlen(prefix), found = SIZE_MAX;

	if (pl < 4 || pl >= ID_HEX)
		return err_set(e, -EINVAL, "key id '%s': give at least 4 hex digits", prefix);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i].name, prefix, pl) != 0)
			continue;
		if (found != SIZE_MAX)
			return err_set(e, -EINVAL, "key id '%s' is ambiguous", prefix);
		found = i;
	}
	if (found == SIZE_MAX)
		return err_set(e, -ENOENT, "no key with id %s", prefix);
	*ret = found;
	return 0;
}

static int key_remove(struct repo *r, const char *name, bool allow_current, struct err *e)
{
	struct repo_key_info *v = NULL;
	size_t n = 0, k = 0;
	int rc;

	rc = repo_key_list(r, &v, &n, e);
	if (rc >= 0)
		rc = resolve(v, n, name, &k, e);
	if (rc < 0)
		goto fail;
	if (n < 2) {
		rc = err_set(e, -EBUSY, "key %.8s is the last key: removing it would lock everyone "
					"out",
			     v[k].name);
		goto fail;
	}
	if (v[k].current && !allow_current) {
		rc = err_set(e, -EBUSY,
			     "key %.8s is the one this command opened the repository with (open "
			     "with another password to remove it, or use 'key passwd')",
			     v[k].name);
		goto fail;
	}
	rc = backend_del(repo_backend(r), OBJ_KEY, v[k].name, e);
fail:
	free(v);
	return rc;
}

int repo_key_remove(struct repo *r, const char *name, struct err *e)
{
	return key_remove(r, name, false, e);
}

int repo_key_passwd(struct repo *r, const char *password, size_t pwlen, char ret_name[ID_HEX],
		    struct err *e)
{
	char name[ID_HEX], old[ID_HEX];
	int rc;

	/* New key first: a kill in between leaves two working keys, never none. */
	rc = repo_key_add(r, password, pwlen, name, e);
	if (rc < 0)
		return rc;
	memcpy(old, repo_keyfile_name(r), ID_HEX);
	rc = key_remove(r, old, true, e);
	if (rc < 0)
		return rc;
	repo_keyfile_switch(r, name);
	memcpy(ret_name, name, ID_HEX);
	return 0;
}
