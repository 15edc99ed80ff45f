/* `cairn key list|add|remove ID|passwd [--new-password-file F]`: manage the passwords
 * that open a repository. New passwords come from a file, never from argv. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "maint/maint.h"
#include "util/banned.h"
#include "util/fsutil.h"

#define NEW_PASSWORD_MAX 4096

/* Read the new password into sodium memory (one trailing newline is the file's). */
static int new_password(const char *file, char **ret, size_t *ret_len, struct err *e)
{
	struct buf b = BUF_INIT;
	char *pw = NULL;
	size_t n;
	int rc;

	if (!file)
		file = getenv("CAIRN_NEW_PASSWORD_FILE");
	if (!file || !file[0])
		return err_set(e, -EINVAL, "give the new password with --new-password-file F");
	buf_init(&b, NEW_PASSWORD_MAX - 1);
	rc = read_file_at(AT_FDCWD, file, &b);
	if (rc < 0) {
		rc = err_set(e, rc == -EFBIG ? -EINVAL : rc, "new password file %s: %s", file,
			     strerror(-rc));
		goto fail;
	}
	n = b.len;
	if (n && b.p[n - 1] == '\n')
		n--;
	if (n && b.p[n - 1] == '\r')
		n--;
	if (!n) {
		rc = err_set(e, -EINVAL, "the new password is empty");
		goto fail;
	}
	pw = sodium_malloc(n + 1);
	if (!pw) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(pw, b.p, n);
	pw[n] = 0;
	*ret = pw;
	*ret_len = n;
fail:
	if (b.p)
		sodium_memzero(b.p, b.len);
	buf_release(&b);
	return rc;
}

static int key_list(struct cli *c, struct repo *r, struct err *e)
{
	struct repo_key_info *v = NULL;
	json_t *arr = c->json ? json_array() : NULL;
	size_t n = 0;
	int rc = repo_key_list(r, &v, &n, e);

	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	if (!arr)
		printf(" %-10s %-24s %s\n", "ID", "Host", "Created");
	for (size_t i = 0; i < n; i++) {
		char host[sizeof(v[i].host) * 4], created[sizeof(v[i].created) * 4];

		/* Key files are written by whoever can write the repository: escaped. */
		cli_esc(v[i].host, host, sizeof(host));
		cli_esc(v[i].created, created, sizeof(created));
		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:b, s:s, s:s}", "id", v[i].name,
							     "current", v[i].current, "hostname",
							     host, "created", created));
		else
			printf("%s%.8s   %-24s %s\n", v[i].current ? "*" : " ", v[i].name, host,
			       created);
	}
	if (arr)
		cli_print_json(arr);
	free(v);
	return 0;
}

static int key_change(struct cli *c, struct repo *r, const char *verb, const char *file,
		      struct err *e)
{
	char *pw = NULL, name[ID_HEX];
	size_t n = 0;
	int rc = new_password(file, &pw, &n, e);

	if (rc < 0)
		return rc;
	if (!strcmp(verb, "add"))
		rc = repo_key_add(r, pw, n, name, e);
	else
		rc = repo_key_passwd(r, pw, n, name, e);
	sodium_free(pw);
	if (rc < 0)
		return rc;
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "message_type", verb, "id", name,
					 "status", "ok"));
	else
		printf("%s key %.8s\n", !strcmp(verb, "add") ? "added" : "password changed: new",
		       name);
	return 0;
}

int cmd_key(struct cli *c, int argc, char **argv)
{
	const char *file = NULL, *verb;
	struct err e = ERR_INIT;
	struct repo *r = NULL;
	int ch, rc;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		if (ch == 'f')
			file = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind >= argc)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "key: list, add, remove ID or passwd"));
	verb = argv[optind];
	if (strcmp(verb, "list") && strcmp(verb, "add") && strcmp(verb, "passwd") &&
	    strcmp(verb, "remove"))
		return cli_fail(c, &e, err_set(&e, -EINVAL, "key: unknown action '%s'", verb));
	if (!strcmp(verb, "remove") && optind + 2 != argc)
		return cli_fail(c, &e, err_set(&e, -EINVAL, "key remove: give one key id"));
	rc = cli_open_repo(c, &r, &e);
	if (rc < 0)
		return cli_fail(c, &e, rc);
	if (!strcmp(verb, "list")) {
		rc = key_list(c, r, &e);
	} else if (!strcmp(verb, "remove")) {
		rc = repo_key_remove(r, argv[optind + 1], &e);
		if (rc >= 0 && c->json)
			cli_print_json(json_pack("{s:s, s:s}", "message_type", "remove", "id",
						 argv[optind + 1]));
		else if (rc >= 0)
			printf("removed key %s\n", argv[optind + 1]);
	} else {
		rc = key_change(c, r, verb, file, &e);
	}
	repo_free(r);
	return rc < 0 ? cli_fail(c, &e, rc) : EXIT_OK;
}
