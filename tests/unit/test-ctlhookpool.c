/* The controller's hook pool (controller/hookpool.c): jobs outlive the call that started
 * them and are found again by Backup uid, pod uid and kind; a finished job is handed back
 * once and then belongs to the caller; jobs of Backups no longer listed are swept; the
 * pool frees jobs nobody took back. Jobs here have no hooks (no exec is needed), so they
 * finish at once on a worker; the sanitizer builds check that nothing leaks or is used
 * after it was freed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/ctl-internal.h"
#include "tests/tap.h"

static json_t *pod(const char *uid)
{
	return json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", uid, "namespace", "app", "uid",
	                 uid);
}

/* Wait (bounded by many seconds, never by speed) until the job is handed back. */
static struct ctl_hookjob *wait_take(struct ctl *c, const char *buid, const char *puid,
                                     enum ctl_hook_kind kind)
{
	struct ctl_hookjob *j = NULL;

	for (int i = 0; i < 120000; i++) {
		int k = ctl_hookjob_take(c, buid, puid, kind, &j);

		if (k == 2)
			return j;
		if (k == 0)
			return NULL;
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	/* One worker: jobs run one after the other in the order they were started. */
	struct ctl_config cfg = { .hook_workers = 1 };
	struct ctl c = { .cfg = &cfg };
	struct ctl_hookjob *j = NULL;
	json_t *backups;

	is_int(ctl_hookjob_take(&c, "b1", "p1", CTL_HOOK_PRE, &j), 0, "no pool yet: no job");
	is_int(ctl_hookjob_start(&c, "b1", CTL_HOOK_PRE, pod("p1"), json_array()), 0,
	       "a pre job starts");
	is_int(ctl_hookjob_start(&c, "b1", CTL_HOOK_POST, pod("p1"), json_array()), 0,
	       "a post job of the same pod starts");
	is_int(ctl_hookjob_start(&c, "b2", CTL_HOOK_PRE, pod("p2"), json_array()), 0,
	       "a job of another backup starts");
	is_int(ctl_hookjob_start(&c, "b3", CTL_HOOK_PRE, pod("p3"), json_array()), 0,
	       "a job nobody takes back starts");
	is_int(ctl_hookjob_take(&c, "b1", "p9", CTL_HOOK_PRE, &j), 0, "another pod: no job");
	ok(j == NULL, "nothing handed back");

	j = wait_take(&c, "b1", "p1", CTL_HOOK_PRE);
	ok(j && j->kind == CTL_HOOK_PRE && j->r == 0 && strcmp(j->puid, "p1") == 0,
	   "the pre job is handed back finished, without error");
	ctl_hookjob_free(j);
	j = NULL;
	is_int(ctl_hookjob_take(&c, "b1", "p1", CTL_HOOK_PRE, &j), 0, "handed back only once");
	j = wait_take(&c, "b1", "p1", CTL_HOOK_POST);
	ok(j && j->kind == CTL_HOOK_POST, "the post job is its own");
	ctl_hookjob_free(j);
	j = NULL;

	/* b2 is gone from the list: its finished job is swept; b3 is listed and kept. b5
	 * was started after both, so once it is handed back they finished too. */
	is_int(ctl_hookjob_start(&c, "b5", CTL_HOOK_PRE, pod("p5"), json_array()), 0,
	       "a later job starts");
	j = wait_take(&c, "b5", "p5", CTL_HOOK_PRE);
	ok(j != NULL, "the later job finished");
	ctl_hookjob_free(j);
	j = NULL;
	backups = json_pack("[{s:{s:s}}]", "metadata", "uid", "b3");
	ctl_hookpool_sweep(&c, backups);
	is_int(ctl_hookjob_take(&c, "b2", "p2", CTL_HOOK_PRE, &j), 0,
	       "the job of a backup no longer listed is swept once finished");
	ctl_hookpool_sweep(&c, backups);
	is_int(ctl_hookjob_take(&c, "b3", "p3", CTL_HOOK_PRE, &j), 2,
	       "a listed backup's job is kept by the sweep");
	ctl_hookjob_free(j);
	j = NULL;
	json_decref(backups);

	is_int(ctl_hookjob_start(&c, "b4", CTL_HOOK_PRE, pod("p4"), json_array()), 0,
	       "one more job, left to the pool");
	ctl_hookpool_free(&c);
	ok(c.hp == NULL, "the pool is freed with the jobs nobody took back");
	is_int(ctl_hookjob_start(&c, "", CTL_HOOK_PRE, json_object(), json_array()), -EINVAL,
	       "a pod without a uid is refused (and released)");
	ctl_hookpool_free(&c);
	return tap_done();
}
