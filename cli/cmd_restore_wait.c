/* `cairn restore-wait RESTORE_UID`: the init container of a pod whose volumes are being
 * restored. Every volume is mounted at <root>/<volume>; the node agent writes
 * <volume>/.velero/<restore-uid> when that volume's data is in (Velero's convention).
 * Exits 0 once every volume has its done-file, after removing the marker folders, so the
 * pod's app containers start on complete data. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/output.h"
#include "util/buf.h"
#include "util/banned.h"

#define MARKER_DIR   ".velero"
#define WAIT_VOL_MAX 256

/* A restore uid becomes a file name: no separators, no dot names. */
static bool uid_ok(const char *s)
{
	return s[0] && strlen(s) < 256 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* Remove dir (a folder under parent) and what it holds, never following a symlink:
 * the volume's content was written from a snapshot anyone with the password could forge. */
static int remove_tree(int parent, const char *name, unsigned depth)
{
	int fd, rc = 0;
	DIR *d;
	struct dirent *de;

	if (depth > 16)
		return -ELOOP;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP
			       ? (unlinkat(parent, name, 0) < 0 ? -errno : 0)
			       : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (errno == EISDIR || errno == EPERM) {
			int r = remove_tree(fd, de->d_name, depth + 1);

			if (r < 0 && !rc)
				rc = r;
		} else if (errno != ENOENT && !rc) {
			rc = -errno;
		}
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

struct wait_state {
	char (*vols)[256];
	size_t n;
	bool *done;
};

/* The volumes are the folders directly under root (one mount each, or a symlink to one). */
static int list_volumes(const char *root, struct wait_state *w, struct err *e)
{
	DIR *d = opendir(root);
	struct dirent *de;

	if (!d)
		return err_set(e, -errno, "restore-wait: cannot read %s: %s", root,
			       strerror(errno));
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= 256)
			continue;
		/* A mount point, or (kubelet simulators, tests) a symlink to one: the
		 * entries of root are the pod's, not the restored data's. */
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (w->n == WAIT_VOL_MAX) {
			closedir(d);
			return err_set(e, -EFBIG, "restore-wait: more than %d volumes under %s",
				       WAIT_VOL_MAX, root);
		}
		snprintf(w->vols[w->n++], 256, "%s", de->d_name);
	}
	closedir(d);
	return 0;
}

/* True when vol/.velero/uid is a regular file (written by the agent). */
static bool volume_done(const char *root, const char *vol, const char *uid)
{
	char p[4096];
	struct stat st;

	if ((size_t)snprintf(p, sizeof(p), "%s/%s/%s/%s", root, vol, MARKER_DIR, uid) >=
	    sizeof(p))
		return false;
	return lstat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void report(struct cli *c, const struct wait_state *w, size_t left)
{
	struct buf b = BUF_INIT;
	char esc[CLI_ESC_MAX];

	buf_init(&b, 16384);
	for (size_t i = 0; i < w->n; i++)
		if (!w->done[i] && buf_printf(&b, "%s%s", b.len ? ", " : "", w->vols[i]) < 0)
			break;
	cli_escape(b.len ? (const char *)b.p : "", b.len, esc, sizeof(esc));
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:s}", "message_type", "waiting",
					 "volumes", (json_int_t)w->n, "left", (json_int_t)left,
					 "waiting_for", esc));
	else
		fprintf(stderr, "cairn: restore-wait: waiting for %zu of %zu volumes: %s\n", left,
			w->n, esc);
	buf_release(&b);
}

static int finish(struct cli *c, const char *root, const struct wait_state *w, struct err *e)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (rootfd < 0)
		return err_set(e, -errno, "restore-wait: %s: %s", root, strerror(errno));
	for (size_t i = 0; i < w->n && rc >= 0; i++) {
		int vfd = openat(rootfd, w->vols[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (vfd < 0) {
			rc = err_set(e, -errno, "restore-wait: %s/%s: %s", root, w->vols[i],
				     strerror(errno));
			break;
		}
		rc = remove_tree(vfd, MARKER_DIR, 0);
		close(vfd);
		if (rc < 0)
			err_set(e, rc, "restore-wait: cannot remove %s/%s/%s: %s", root,
				w->vols[i], MARKER_DIR, strerror(-rc));
	}
	close(rootfd);
	if (rc >= 0 && c->json)
		cli_print_json(json_pack("{s:s, s:I}", "message_type", "summary", "volumes",
					 (json_int_t)w->n));
	else if (rc >= 0 && !c->quiet)
		fprintf(stderr, "cairn: restore-wait: all %zu volumes restored\n", w->n);
	return rc;
}

int cmd_restore_wait(struct cli *c, int argc, char **argv)
{
	const char *root = "/restores", *uid;
	unsigned long interval = 30, timeout = 0;
	struct wait_state w = { 0 };
	struct err e = ERR_INIT;
	time_t start = time(NULL), last = 0;
	int ch, rc = 0;

	while ((ch = cli_getopt(c, argc, argv)) != -1) {
		switch (ch) {
		case 'R':
			root = optarg;
			break;
		case 'I':
			interval = strtoul(optarg, NULL, 10);
			break;
		case 'T':
			timeout = strtoul(optarg, NULL, 10);
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !uid_ok(argv[optind]))
		return cli_fail(c, &e, err_set(&e, -EINVAL, "usage: cairn restore-wait "
							   "RESTORE_UID (a name, no '/')"));
	uid = argv[optind];
	w.vols = calloc(WAIT_VOL_MAX, sizeof(*w.vols));
	w.done = calloc(WAIT_VOL_MAX, sizeof(*w.done));
	if (!w.vols || !w.done) {
		rc = err_set(&e, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = list_volumes(root, &w, &e);
	if (rc < 0)
		goto fail;
	cli_catch_signals();
	for (;;) {
		size_t left = 0;

		for (size_t i = 0; i < w.n; i++) {
			if (!w.done[i])
				w.done[i] = volume_done(root, w.vols[i], uid);
			left += !w.done[i];
		}
		if (!left)
			break;
		if (cli_cancelled(NULL)) {
			rc = err_set(&e, -EINTR, "restore-wait: interrupted");
			goto fail;
		}
		if (timeout && (unsigned long)(time(NULL) - start) >= timeout) {
			report(c, &w, left);
			rc = err_set(&e, -ETIMEDOUT, "restore-wait: %zu volumes not restored after "
						     "%lu s", left, timeout);
			goto fail;
		}
		if (!last || (interval && (unsigned long)(time(NULL) - last) >= interval)) {
			report(c, &w, left);
			last = time(NULL);
		}
		usleep(200 * 1000);
	}
	rc = finish(c, root, &w, &e);
fail:
	free(w.vols);
	free(w.done);
	return rc < 0 ? cli_fail(c, &e, rc) : EXIT_OK;
}
