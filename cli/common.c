/* Owns what every subcommand shares: password sources, opening the repository, the
 * one-line error printer and the errno -> exit code table (docs/cli.md). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/output.h"
#include "util/banned.h"
#include "util/fsutil.h"
#include "util/log.h"

#define PASSWORD_MAX 4096

int cli_exit_code(int code)
{
	switch (code) {
	case 0:
		return EXIT_OK;
	case -EINVAL:
		return EXIT_USAGE;
	case -EKEYREJECTED:
		return EXIT_WRONG_PASSWORD;
	case -ENODEV:
		return EXIT_NO_REPO;
	case -EBUSY:
		return EXIT_LOCKED;
	case -ENOENT:
	case -ENOTDIR:
		return EXIT_NOT_FOUND;
	case -EBADMSG:
	case -EOPNOTSUPP:
		return EXIT_CORRUPT;
	case -EROFS:
	case -EACCES:
	case -EPERM:
		return EXIT_READ_ONLY;
	case -ENOSPC:
	case -EDQUOT:
		return EXIT_NO_SPACE;
	case -EPROTO:
	case -EAGAIN:
	case -EHOSTUNREACH:
	case -ECONNREFUSED:
	case -ETIMEDOUT:
		return EXIT_REMOTE;
	case -ECANCELED:
	case -EINTR:
		return EXIT_CANCELED;
	default:
		return EXIT_FAILURE_;
	}
}

int cli_fail(const struct cli *c, const struct err *e, int code)
{
	const char *raw = e && e->msg[0] ? e->msg : strerror(code < 0 ? -code : code);
	char msg[sizeof(e->msg) * 4 + 1];

	/* Messages name paths and arguments: escaped, so none reaches a terminal raw and
	 * JSON always gets valid UTF-8 (jansson refuses anything else: the line would be
	 * lost). */
	cli_escape(raw, strlen(raw), msg, sizeof(msg));
	cli_progress_clear((struct cli *)c);

	if (c && c->json) {
		json_t *o = json_pack("{s:s, s:s, s:i}", "message_type", "error", "error", msg,
				      "exit_code", cli_exit_code(code));
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (s)
			fprintf(stderr, "%s\n", s);
		free(s);
		json_decref(o);
	} else {
		fprintf(stderr, "cairn: %s\n", msg);
	}
	return cli_exit_code(code);
}

void cli_print_json(json_t *json)
{
	char *s = json ? json_dumps(json, JSON_COMPACT) : NULL;

	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(json);
}

static volatile sig_atomic_t interrupted;

/* The first SIGINT or SIGTERM asks the command to stop cleanly: no new work, the lock
 * released, what was uploaded kept. That waits for transfers in flight, and one stalled on
 * a server that has stopped answering lasts up to s3.stall-timeout per attempt (minutes).
 * A second signal ends the process at once, as if killed: the repository is crash-safe
 * (tests/e2e/crash.sh), its lock is left to go stale, and restore's partial files keep
 * their temporary names. */
static void on_signal(int sig)
{
	static const char msg[] = "cairn: stopping after the transfers in flight; "
	                          "interrupt again to stop at once\n";
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	(void)sig;
	/* Both signals go back to their default action, so the second one, of either kind,
	 * ends the process; sigaction() is async-signal-safe. */
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	interrupted = 1;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		return; /* nothing to do about a closed stderr in a handler */
}

void cli_catch_signals(void)
{
	/* Each signal blocks the other while the handler runs: a SIGTERM right behind a
	 * SIGINT then meets the default action, not a second run of the handler. */
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool cli_cancelled(void *ud)
{
	return interrupted;
}

void cli_warn(void *ud, const char *path, int code, const char *msg)
{
	struct cli *c = ud;
	char esc[CLI_ESC_MAX];

	/* msg names the path too: it is escaped like the path, never shown raw. */
	cli_escape(msg, strlen(msg), esc, sizeof(esc));
	/* code 0 is a notice (a mount point kept empty), not a file that failed. */
	if (c->json) {
		json_t *o = json_pack("{s:s, s:s}", "message_type", code ? "error" : "notice",
				      code ? "error" : "message", esc);

		if (o && path)
			cli_json_bytes(o, "item", path, strlen(path));
		cli_print_json(o);
		return;
	}
	cli_progress_clear(c);
	fprintf(stderr, "cairn: %s: %s\n", code ? "warning" : "note", esc);
}

void cli_password_free(char *p, size_t n)
{
	if (p)
		sodium_free(p);
}

static int read_tty(const char *prompt, char *out, size_t max, size_t *ret_len)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), rc = 0;
	ssize_t k;

	if (fd < 0)
		return -ENOTTY;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcgetattr(fd, &old) < 0) {
		close(fd);
		return -ENOTTY;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	k = read(fd, out, max - 1);
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		rc = 0;
	close(fd);
	if (k <= 0)
		return -EIO;
	while (k > 0 && (out[k - 1] == '\n' || out[k - 1] == '\r'))
		k--;
	*ret_len = (size_t)k;
	return rc;
}

int cli_password(struct cli *c, bool confirm_new, char **ret, size_t *ret_len, struct err *e)
{
	const char *file = c->password_file ? c->password_file : getenv("CAIRN_PASSWORD_FILE");
	const char *env = getenv("CAIRN_PASSWORD");
	char *pw = sodium_malloc(PASSWORD_MAX);
	size_t n = 0;
	int rc = 0;

	if (!pw)
		return err_set(e, -ENOMEM, "out of memory");
	if (file && file[0]) {
		struct buf b = BUF_INIT;

		buf_init(&b, PASSWORD_MAX - 1);
		rc = read_file_at(AT_FDCWD, file, &b);
		if (rc < 0) {
			buf_release(&b);
			rc = err_set(e, rc == -EFBIG ? -EINVAL : rc, "password file %s: %s", file,
				     strerror(-rc));
			goto fail;
		}
		n = b.len;
		memcpy(pw, b.p, n);
		sodium_memzero(b.p, b.len);
		buf_release(&b);
		/* One trailing newline is the file's, not the password's (as restic does). */
		if (n && pw[n - 1] == '\n')
			n--;
		if (n && pw[n - 1] == '\r')
			n--;
	} else if (env) {
		n = strlen(env);
		if (n >= PASSWORD_MAX) {
			rc = err_set(e, -EINVAL, "CAIRN_PASSWORD is too long");
			goto fail;
		}
		memcpy(pw, env, n);
	} else {
		char *again = NULL;
		size_t n2 = 0;

		rc = read_tty("enter repository password: ", pw, PASSWORD_MAX, &n);
		if (rc >= 0 && confirm_new) {
			again = sodium_malloc(PASSWORD_MAX);
			rc = again ? read_tty("enter it again: ", again, PASSWORD_MAX, &n2) : -ENOMEM;
			if (rc >= 0 && (n != n2 || memcmp(pw, again, n) != 0))
				rc = err_set(e, -EINVAL, "the passwords do not match");
			if (again)
				sodium_free(again);
		}
		if (rc == -ENOTTY || rc == -EIO)
			rc = err_set(e, -EINVAL,
				     "no password: set CAIRN_PASSWORD_FILE, --password-file or "
				     "CAIRN_PASSWORD");
		if (rc < 0)
			goto fail;
	}
	if (!n) {
		rc = err_set(e, -EINVAL, "empty password");
		goto fail;
	}
	pw[n] = 0;
	*ret = pw;
	*ret_len = n;
	return 0;
fail:
	sodium_free(pw);
	return rc;
}

int cli_open_repo(struct cli *c, struct repo **ret, struct err *e)
{
	struct repo_open_params o = { .url = c->repo_url, .options = &c->bopts };
	char *pw = NULL;
	size_t n = 0;
	int rc;

	if (!o.url)
		o.url = getenv("CAIRN_REPOSITORY");
	if (!o.url || !o.url[0])
		return err_set(e, -EINVAL, "no repository given: use -r or set CAIRN_REPOSITORY");
	rc = cli_password(c, false, &pw, &n, e);
	if (rc < 0)
		return rc;
	o.password = pw;
	o.password_len = n;
	rc = repo_open(&o, ret, e);
	cli_password_free(pw, n);
	if (rc >= 0 && repo_backend(*ret)->caution[0])
		log_warn("%s", repo_backend(*ret)->caution);
	/* At open time "missing" can only mean the repository itself: its own exit code. */
	return rc == -ENOENT ? -ENODEV : rc;
}
