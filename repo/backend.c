/* Owns backend selection from a repository URL and the shared option lookup. */
#include "repo/backend.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"

static const char *const type_dirs[_OBJ_TYPE_MAX] = {
	[OBJ_CONFIG] = "", [OBJ_KEY] = "keys", [OBJ_DATA] = "data",
	[OBJ_INDEX] = "index", [OBJ_SNAPSHOT] = "snapshots", [OBJ_LOCK] = "locks",
};

const char *obj_type_dir(enum obj_type t)
{
	return (unsigned)t < _OBJ_TYPE_MAX ? type_dirs[t] : "";
}

const char *backend_option(const struct backend_options *o, const char *key)
{
	size_t kl = strlen(key);

	if (!o)
		return NULL;
	/* Last one wins, as with repeated command-line flags. */
	for (size_t i = o->n; i-- > 0;)
		if (strncmp(o->kv[i], key, kl) == 0 && o->kv[i][kl] == '=')
			return o->kv[i] + kl + 1;
	return NULL;
}

/* Set at start-up, before threads, like parsed configuration (style rule 11). */
static const struct backend_scheme *schemes[BACKEND_SCHEMES_MAX];

int backend_register(const struct backend_scheme *s)
{
	size_t i;

	for (i = 0; i < BACKEND_SCHEMES_MAX && schemes[i]; i++)
		if (schemes[i] == s || strcmp(schemes[i]->prefix, s->prefix) == 0)
			return schemes[i] == s ? 0 : -EEXIST;
	if (i == BACKEND_SCHEMES_MAX)
		return -ENOSPC;
	schemes[i] = s;
	return 0;
}

int backend_open(const char *url, const struct backend_options *o, struct backend **ret,
		 struct err *e)
{
	if (!url || !url[0])
		return err_set(e, -EINVAL, "no repository given (use -r or CAIRN_REPOSITORY)");
	for (size_t i = 0; i < BACKEND_SCHEMES_MAX && schemes[i]; i++) {
		size_t n = strlen(schemes[i]->prefix);

		if (strncmp(url, schemes[i]->prefix, n) == 0)
			return schemes[i]->open(url + n, o, ret, e);
	}
	if (strncmp(url, "local:", 6) == 0)
		return backend_local_open(url + 6, o, ret, e);
	if (strstr(url, "://") || (strchr(url, ':') && url[0] != '/' && url[0] != '.'))
		return err_set(e, -EINVAL, "unknown repository scheme in '%s' (use s3: or a path)",
			       url);
	return backend_local_open(url, o, ret, e);
}

void backend_free(struct backend *be)
{
	if (be)
		be->ops->free(be);
}
