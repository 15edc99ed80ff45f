/* Owns running exec hooks in pods (pods/exec) and the post hooks a Backup still owes: a
 * pod's post hooks run once all of its PodVolumeBackups are terminal, whatever their
 * outcome, so what a pre hook froze is thawed even when the backup fails. */
#include "controller/ctl-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* How much of a failed hook's stderr goes into a message (the status keeps it). */
#define HOOK_STDERR_MAX 400

struct hook_stderr {
	char text[HOOK_STDERR_MAX + 1];
	size_t n;
};

static int keep_stderr(void *ud, const char *p, size_t n)
{
	struct hook_stderr *s = ud;
	size_t room = HOOK_STDERR_MAX - s->n;

	/* The first bytes say what went wrong; the rest is dropped, not failed on. */
	if (n > room)
		n = room;
	memcpy(s->text + s->n, p, n);
	s->n += n;
	s->text[s->n] = 0;
	return 0;
}

/* Messages here are bounded and may be cut: the start says what happened. */
static void say(char *msg, size_t n, const char *fmt, ...) _printf_(3, 4);
static void say(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
}

static const char *str0(const char *s)
{
	return s ? s : "";
}

static bool stop(void *ud)
{
	(void)ud;
	return ctl_stopping();
}

/* stderr as one line of printable text: lines joined by "; ", trailing space dropped. */
static void one_line(char *s)
{
	size_t n = strlen(s), w = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n' && w + 2 <= i + 1) {
			s[w++] = ';';
			s[w++] = ' ';
		} else {
			s[w++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
		}
	}
	s[w] = 0;
}

/* Run hook h in pod. 0 when it exited 0; else -EIO with why in msg. */
static int run_one(struct ctl *c, const json_t *pod, const json_t *h, char *msg, size_t n)
{
	const json_t *cmd = json_object_get(h, "command");
	const char *argv[CTL_HOOK_ARGS_MAX];
	struct hook_stderr se = { .n = 0 };
	struct kube_exec_params p = {
		.ns = ctl_meta(pod, "namespace"),
		.pod = ctl_meta(pod, "name"),
		.container = ctl_jstr(h, "container"),
		.argv = argv,
		.argc = json_array_size(cmd),
		.timeout_sec = (unsigned)json_integer_value(json_object_get(h, "timeoutSec")),
		.err = keep_stderr,
		.err_ud = &se,
		.stop = stop,
	};
	struct kube *k = NULL;
	struct err e = ERR_INIT;
	char dur[32];
	int r, code = -1;

	/* ctl_hooks_of checked the count and that every word is a string. */
	if (p.argc > CTL_HOOK_ARGS_MAX)
		p.argc = CTL_HOOK_ARGS_MAX;
	for (size_t i = 0; i < p.argc; i++)
		argv[i] = json_string_value(json_array_get(cmd, i));
	/* A client of its own per hook: the upgraded connection is closed with it, never
	 * left behind in a reused handle, and never meets the controller's requests. */
	if (kube_new(&c->kc, &k) < 0)
		r = err_set(&e, -ENOMEM, "cannot create the exec client");
	else
		r = kube_exec(k, &p, &code, &e);
	kube_free(k);
	one_line(se.text);
	ctl_duration_format((int64_t)p.timeout_sec, dur);
	if (r == -ETIMEDOUT)
		say(msg, n, "timed out after %s%s%s", dur, se.n ? ": " : "", se.text);
	else if (r < 0)
		say(msg, n, "%s", e.msg);
	else if (code != 0)
		say(msg, n, "exit code %d%s%s", code, se.n ? ": " : "", se.text);
	return r < 0 || code != 0 ? -EIO : 0;
}

static void count(json_t *status, const char *key)
{
	json_t *hk = json_object_get(status, "hooks");

	if (!json_is_object(hk)) {
		hk = json_object();
		json_object_set_new(status, "hooks", hk);
	}
	json_object_set_new(hk, key,
	                    json_integer(json_integer_value(json_object_get(hk, key)) + 1));
}

int ctl_hooks_run(struct ctl *c, const json_t *pod, const json_t *hooks, json_t *status, char *msg,
                  size_t n)
{
	const char *ns = ctl_meta(pod, "namespace"), *name = ctl_meta(pod, "name");
	const json_t *h;
	char why[768];
	size_t i;

	json_array_foreach(hooks, i, h)
	{
		count(status, "attempted");
		if (run_one(c, pod, h, why, sizeof(why)) == 0) {
			ctl_note(c, CTL_NOTE_INFO, "pod %s/%s: %s ran", ns, name,
			         ctl_jstr(h, "source"));
			continue;
		}
		count(status, "failed");
		if (json_is_true(json_object_get(h, "fail"))) {
			say(msg, n, "%s in container %s failed: %s", ctl_jstr(h, "source"),
			    ctl_jstr(h, "container"), why);
			ctl_note(c, CTL_NOTE_WARN, "pod %s/%s: %s", ns, name, msg);
			return -EIO;
		}
		ctl_status_add(status, false,
		               "pod %s/%s: %s in container %s failed (on-error Continue): %s", ns,
		               name, ctl_jstr(h, "source"), ctl_jstr(h, "container"), why);
	}
	return 0;
}

int ctl_hooks_note(json_t *status, const char *list, const json_t *pod)
{
	json_t *hk = json_object_get(status, "hooks"), *pending;

	if (!json_is_object(hk)) {
		hk = json_object();
		if (!hk || json_object_set_new(status, "hooks", hk) < 0)
			return -ENOMEM;
	}
	pending = json_object_get(hk, list);
	if (!json_is_array(pending)) {
		pending = json_array();
		if (!pending || json_object_set_new(hk, list, pending) < 0)
			return -ENOMEM;
	}
	return json_array_append_new(
	           pending, json_pack("{s:s,s:s,s:s}", "namespace", ctl_meta(pod, "namespace"),
	                              "name", ctl_meta(pod, "name"), "uid", ctl_meta(pod, "uid"))) <
	               0
	           ? -ENOMEM
	           : 0;
}

int ctl_hooks_owe(json_t *status, const json_t *pod)
{
	return ctl_hooks_note(status, "pending", pod);
}

static bool pod_done(const json_t *pvbs, const char *uid)
{
	const json_t *pvb;
	size_t i;

	json_array_foreach(pvbs, i, pvb)
	{
		const char *ph = ctl_jstr(json_object_get(pvb, "status"), "phase");

		if (strcmp(
		        str0(ctl_jstr(json_object_get(json_object_get(pvb, "spec"), "pod"), "uid")),
		        uid))
			continue;
		if (!ph ||
		    (strcmp(ph, "Completed") && strcmp(ph, "Failed") && strcmp(ph, "Canceled")))
			return false;
	}
	return true;
}

/* What to do with one owed pod's post hooks. */
enum post_next { POST_RUN, POST_DROP, POST_RETRY };

/* Fetch an owed pod and its post hooks (on the loop's thread, with the loop's client):
 * POST_RUN with *pod and *hooks set, POST_DROP when nothing can run (recorded in status),
 * POST_RETRY when the API is unreachable. */
static enum post_next post_prepare(struct ctl *c, const json_t *b, json_t *status,
                                   const json_t *owed, json_t **ret_pod, json_t **ret_hooks)
{
	const char *ns = ctl_jstr(owed, "namespace"), *name = ctl_jstr(owed, "name");
	json_t *pod = NULL, *hooks = NULL;
	struct err e = ERR_INIT;
	char path[1024];
	int r;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	r = kube_get(c->k, path, &pod, &e);
	if (r < 0 && r != -ENOENT) {
		ctl_note(c, CTL_NOTE_WARN, "pod %s/%s: post hook waits: %s", ns, name, e.msg);
		return POST_RETRY;
	}
	if (r == -ENOENT || strcmp(str0(ctl_meta(pod, "uid")), str0(ctl_jstr(owed, "uid")))) {
		ctl_status_add(status, false, "pod %s/%s: post hook not run: the pod is gone", ns,
		               name);
		goto fail;
	}
	r = ctl_hooks_of(pod, json_object_get(json_object_get(b, "spec"), "hooks"), "post", &hooks,
	                 &e);
	if (r < 0) {
		ctl_status_add(status, true, "pod %s/%s: post hook not run: %s", ns, name, e.msg);
		goto fail;
	}
	*ret_pod = pod;
	*ret_hooks = hooks;
	return POST_RUN;
fail:
	json_decref(hooks);
	json_decref(pod);
	return POST_DROP;
}

/* Whether pod uid is still mid-pre-hook (status.hooks.pre): its volumes have not even
 * started, so its post hook must wait however its (absent) volumes look. */
static bool in_pre(const json_t *status, const char *uid)
{
	const json_t *pre = json_object_get(json_object_get(status, "hooks"), "pre"), *p;
	size_t i;

	json_array_foreach(pre, i, p) if (strcmp(str0(ctl_jstr(p, "uid")), uid) == 0) return true;
	return false;
}

/* A finished post job: its outcome into status. */
static void post_collect(json_t *status, struct ctl_hookjob *j)
{
	ctl_hooks_merge(status, j);
	if (j->r < 0)
		ctl_status_add(status, true, "pod %s/%s: %s", ctl_meta(j->pod, "namespace"),
		               ctl_meta(j->pod, "name"), j->msg);
	ctl_hookjob_free(j);
}

size_t ctl_hooks_post(struct ctl *c, const json_t *b, json_t *status, const json_t *pvbs,
                      bool force, size_t *running)
{
	json_t *hk = json_object_get(status, "hooks");
	json_t *pending = json_object_get(hk, "pending"), *left, *owed;
	const char *buid = ctl_meta(b, "uid");
	size_t i, np = json_array_size(pending);

	*running = 0;
	if (!np)
		return 0;
	left = json_array();
	if (!left)
		return np;
	json_array_foreach(pending, i, owed)
	{
		const char *uid = str0(ctl_jstr(owed, "uid"));
		struct ctl_hookjob *j = NULL;
		json_t *pod = NULL, *hooks = NULL;

		/* A stop cuts hooks short: the restarted controller runs them again. */
		if (ctl_stopping()) {
			json_array_append(left, owed);
			continue;
		}
		/* Started on an earlier pass: taken back once it returned, whatever now. */
		switch (ctl_hookjob_take(c, buid, uid, CTL_HOOK_POST, &j)) {
		case 2:
			post_collect(status, j);
			continue;
		case 1:
			(*running)++;
			json_array_append(left, owed);
			continue;
		default:
			break;
		}
		if (in_pre(status, uid) || !(force || pod_done(pvbs, uid))) {
			json_array_append(left, owed);
			continue;
		}
		switch (post_prepare(c, b, status, owed, &pod, &hooks)) {
		case POST_RETRY:
			json_array_append(left, owed);
			break;
		case POST_DROP:
			break;
		case POST_RUN:
			/* Owed until taken back: a controller restarted meanwhile runs it again. */
			json_array_append(left, owed);
			if (ctl_hookjob_start(c, buid, CTL_HOOK_POST, pod, hooks) == 0)
				(*running)++;
			break;
		}
	}
	/* Re-fetched: a hook's counts may have replaced status.hooks' object. */
	json_object_set_new(json_object_get(status, "hooks"), "pending", left);
	return json_array_size(left);
}
