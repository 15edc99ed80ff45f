/* Owns repository locks: sealed lock objects with host, pid and a refresh time. Backups
 * hold shared locks, prune an exclusive one; locks not refreshed for REPO_LOCK_STALE_SEC
 * are stale and ignored, so a crashed agent never blocks the repository for good. */
#include "repo/repo-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

#define LOCK_REFRESH_SEC (5 * 60)

struct repo_lock {
	struct repo *r;
	enum repo_lock_kind kind;
	char name[ID_HEX];
	time_t refreshed;
};

struct lock_info {
	bool exclusive;
	int64_t time, pid;
	char host[128];
};

static int lock_read(struct repo *r, const char *name, struct lock_info *li, struct err *e)
{
	struct buf b = BUF_INIT;
	const char *host = "";
	json_t *o = NULL;
	int excl = 0, rc;
	json_int_t t = 0, pid = 0;

	buf_init(&b, 64 * 1024);
	rc = obj_get_open(r, OBJ_LOCK, KEY_DOMAIN_LOCK, name, &b, e);
	if (rc >= 0) {
		o = json_loadb((const char *)b.p, b.len, 0, NULL);
		if (!o || json_unpack(o, "{s:b, s:I, s:I, s:s}", "exclusive", &excl, "time", &t,
				      "pid", &pid, "hostname", &host) < 0)
			rc = -EBADMSG;
	}
	if (rc >= 0) {
		li->exclusive = excl;
		li->time = t;
		li->pid = pid;
		snprintf(li->host, sizeof(li->host), "%s", host);
	}
	json_decref(o);
	buf_release(&b);
	return rc;
}

static int lock_write(struct repo *r, enum repo_lock_kind kind, char ret_name[ID_HEX],
		      struct err *e)
{
	char host[128] = "";
	json_t *o;
	char *s;
	int rc;

	gethostname(host, sizeof(host) - 1);
	o = json_pack("{s:b, s:I, s:I, s:s, s:I}", "exclusive", kind == REPO_LOCK_EXCLUSIVE, "time",
		      (json_int_t)time(NULL), "pid", (json_int_t)getpid(), "hostname", host,
		      "uid", (json_int_t)getuid());
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	rc = obj_seal_put(r, OBJ_LOCK, KEY_DOMAIN_LOCK, s, strlen(s), ret_name, e);
	free(s);
	return rc;
}

struct lock_scan {
	struct repo *r;
	struct err *e;
	const char *self;
	enum repo_lock_kind kind;
	bool remove_stale, remove_all;
	ssize_t removed;
	int conflict;
};

static int scan_one(void *ud, const char *name, uint64_t size)
{
	struct lock_scan *s = ud;
	struct lock_info li;
	struct err ignore = ERR_INIT;
	bool stale;

	if (s->self && strcmp(name, s->self) == 0)
		return 0;
	/* A lock we cannot read (another key, or damaged) is treated as stale-by-age only
	 * when we can tell its age: otherwise ignore it rather than block forever. */
	if (lock_read(s->r, name, &li, &ignore) < 0)
		return 0;
	stale = time(NULL) - li.time > REPO_LOCK_STALE_SEC;
	if (s->remove_all || (s->remove_stale && stale)) {
		if (s->r->be->ops->del(s->r->be, OBJ_LOCK, name, s->e) >= 0)
			s->removed++;
		return 0;
	}
	if (stale || s->remove_stale)
		return 0;
	if (s->kind == REPO_LOCK_EXCLUSIVE || li.exclusive) {
		s->conflict = err_set(s->e, -EBUSY,
				      "repository is locked %s by pid %lld on %s (lock %.8s, "
				      "refreshed %llds ago; 'cairn unlock' removes stale locks)",
				      li.exclusive ? "exclusively" : "", (long long)li.pid, li.host,
				      name, (long long)(time(NULL) - li.time));
		return -EBUSY;
	}
	return 0;
}

int repo_lock(struct repo *r, enum repo_lock_kind kind, struct err *e, struct repo_lock **ret)
{
	struct lock_scan s = { .r = r, .e = e, .kind = kind };
	struct repo_lock *l;
	int rc;

	rc = r->be->ops->list(r->be, OBJ_LOCK, scan_one, &s, e);
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return err_set(e, -ENOMEM, "out of memory");
	l->r = r;
	l->kind = kind;
	rc = lock_write(r, kind, l->name, e);
	if (rc < 0)
		goto fail;
	l->refreshed = time(NULL);
	/* Two lockers may have raced past the first scan: look again with ours in place,
	 * and back off if there is a conflict now. */
	s.self = l->name;
	rc = r->be->ops->list(r->be, OBJ_LOCK, scan_one, &s, e);
	if (rc < 0) {
		struct err ignore = ERR_INIT;

		r->be->ops->del(r->be, OBJ_LOCK, l->name, &ignore);
		goto fail;
	}
	*ret = l;
	return 0;
fail:
	free(l);
	return rc;
}

int repo_lock_refresh(struct repo_lock *l, struct err *e)
{
	char old[ID_HEX];
	int rc;

	if (!l || time(NULL) - l->refreshed < LOCK_REFRESH_SEC)
		return 0;
	memcpy(old, l->name, ID_HEX);
	rc = lock_write(l->r, l->kind, l->name, e);
	if (rc < 0)
		return rc;
	l->refreshed = time(NULL);
	return l->r->be->ops->del(l->r->be, OBJ_LOCK, old, e);
}

void repo_unlock(struct repo_lock *l)
{
	struct err ignore = ERR_INIT;

	if (!l)
		return;
	l->r->be->ops->del(l->r->be, OBJ_LOCK, l->name, &ignore);
	free(l);
}

ssize_t repo_locks_remove(struct repo *r, bool all, struct err *e)
{
	struct lock_scan s = { .r = r, .e = e, .remove_stale = true, .remove_all = all };
	int rc = r->be->ops->list(r->be, OBJ_LOCK, scan_one, &s, e);

	return rc < 0 ? rc : s.removed;
}
