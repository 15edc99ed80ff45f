/* Owns a PodVolumeBackup whose pod names a backup command: the command runs in the pod
 * through pods/exec and its stdout streams into a snapshot of one file, never touching a
 * temporary file; its stderr is kept (bounded) to explain a failure. */
#include "agent/agent-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backup/backup.h"
#include "util/banned.h"

/* As much stderr as a failure message quotes. */
#define STREAM_ERR_KEEP 400

struct sink {
	struct backup_stream *s;
	const struct backup_opts *o;
	char errtext[STREAM_ERR_KEEP + 1];
	size_t errlen;
	bool feed_failed;
};

static int on_out(void *ud, const char *p, size_t n)
{
	struct sink *k = ud;
	struct err scratch = ERR_INIT; /* the stream keeps its error for backup_stream_end */
	int r = backup_stream_feed(k->s, p, n, &scratch);

	k->feed_failed = k->feed_failed || r < 0;
	return r;
}

static int on_err(void *ud, const char *p, size_t n)
{
	struct sink *k = ud;
	size_t room = STREAM_ERR_KEEP - k->errlen;

	if (n > room)
		n = room;
	memcpy(k->errtext + k->errlen, p, n);
	k->errlen += n;
	k->errtext[k->errlen] = 0;
	return 0;
}

static bool on_stop(void *ud)
{
	const struct sink *k = ud;

	return k->o->cancel && k->o->cancel(k->o->ud);
}

/* stderr as one line for a status message: control bytes become spaces, ends trimmed. */
static const char *one_line(char *s)
{
	size_t i, n;

	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	for (n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
		s[n - 1] = 0;
	while (*s == ' ')
		s++;
	return s;
}

int job_stream_run(struct kube *k, struct repo *repo, const struct pvb *p,
                   const struct job_volume *v, const struct backup_opts *o,
                   struct backup_result *res, struct err *e)
{
	struct sink sk = { .o = o };
	struct kube_exec_params xp = {
		.ns = p->pod_ns,
		.pod = p->pod_name,
		.container = v->cmd_container,
		.argv = (const char *const *)v->cmd_argv,
		.argc = v->cmd_argc,
		.out = on_out,
		.out_ud = &sk,
		.err = on_err,
		.err_ud = &sk,
		.stop = on_stop,
		.stop_ud = &sk,
	};
	struct err xe = ERR_INIT;
	const char *where = v->cmd_container[0] ? v->cmd_container : "(the pod's only one)";
	int r, code = 0, status;

	r = backup_stream_begin(repo, o, v->cmd_file, &sk.s, e);
	if (r < 0)
		return r;
	r = kube_exec(k, &xp, &code, &xe);
	/* The stream's own failure (a worker's, a cancel) is what stopped the exec: end
	 * reports it. An exec failure is the producer's verdict, as a non-zero exit is. */
	status = r < 0 ? r : code;
	r = backup_stream_end(sk.s, status, res, e);
	if (r == 0 || r == -ECANCELED || (sk.feed_failed && status <= 0))
		return r; /* done, or the stream's own error, already in e */
	err_clear(e);
	if (status > 0)
		return err_reset(e, -EPIPE,
		                 "backup command exited with code %d in container %s; no snapshot "
		                 "written; stderr: %s",
		                 code, where, sk.errlen ? one_line(sk.errtext) : "(empty)");
	if (xe.msg[0])
		return err_reset(e, r, "backup command could not run in container %s: %s", where,
		                 xe.msg);
	return err_reset(e, r, "backup command in container %s: %s", where, strerror(-r));
}
