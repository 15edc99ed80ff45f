/* Mount lifecycle: check the mountpoint, start the libfuse session with the blob cache and
 * a first snapshot list, serve on a multi-threaded loop until a signal or an unmount. */
#include "fuse/snapfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse/snapfs-internal.h"
#include "util/banned.h"

void snapfs_options_default(struct snapfs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cache_bytes = SNAPFS_CACHE_DEFAULT;
	o->refresh_sec = SNAPFS_REFRESH_DEFAULT;
	o->threads = 16;
}

/* Blob fetches run concurrently with each other, never with a refresh reloading the index. */
static int fetch(void *ud, const uint8_t id[ID_BYTES], struct buf *out, struct err *e)
{
	struct snapfs *fs = ud;
	int r;

	pthread_rwlock_rdlock(&fs->repo_lock);
	r = repo_blob_get(fs->repo, BLOB_DATA, id, out, e);
	pthread_rwlock_unlock(&fs->repo_lock);
	return r;
}

static int check_mountpoint(const char *mp, struct err *e)
{
	struct stat st;

	if (stat(mp, &st) < 0) {
		int r = -errno;

		/* A FUSE server that died without unmounting leaves this behind. */
		if (r == -ENOTCONN)
			return err_set(
			    e, r,
			    "%s is a stale mount (Transport endpoint is not connected): "
			    "run `fusermount3 -u %s` (or `umount -l %s`) and mount again",
			    mp, mp, mp);
		return err_set(e, r, "mountpoint %s: %s", mp, strerror(-r));
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(e, -ENOTDIR, "mountpoint %s is not a directory", mp);
	return 0;
}

static int session_args(const struct snapfs_options *o, char *opts, size_t n)
{
	int w = snprintf(opts, n, "ro,default_permissions,fsname=cairn,subtype=cairn%s",
	                 o->allow_other ? ",allow_other" : "");

	return w < 0 || (size_t)w >= n ? -EOVERFLOW : 0;
}

static int serve(struct snapfs *fs, struct err *e)
{
	struct fuse_loop_config *cfg = NULL;
	char opts[256];
	char *argv[] = { (char *)"cairn", (char *)"-o", opts, (char *)"-d", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(fs->opt.debug ? 4 : 3, argv);
	bool mounted = false, handlers = false;
	int r;

	r = session_args(&fs->opt, opts, sizeof(opts));
	if (r < 0)
		return err_set(e, r, "mount options too long");
	fs->se = fuse_session_new(&args, &snapfs_ops, sizeof(snapfs_ops), fs);
	r = -EIO;
	if (!fs->se) {
		err_set(e, r, "cannot start a FUSE session (is /dev/fuse present?)");
		goto fail;
	}
	if (fuse_set_signal_handlers(fs->se) != 0) {
		err_set(e, r, "cannot install signal handlers");
		goto fail;
	}
	handlers = true;
	if (fuse_session_mount(fs->se, fs->opt.mountpoint) != 0) {
		err_set(e, r, "cannot mount on %s (libfuse said why above)", fs->opt.mountpoint);
		goto fail;
	}
	mounted = true;
	r = -ENOMEM;
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		goto fail;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	if (fs->opt.threads)
		fuse_loop_cfg_set_max_threads(cfg, fs->opt.threads);
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	r = fuse_session_loop_mt(fs->se, cfg);
	/* Nonzero is the signal number when a signal ended the loop: a clean exit for us. */
	if (r < 0)
		err_set(e, r, "FUSE session failed");
	else
		r = 0;
fail:
	fuse_loop_cfg_destroy(cfg);
	if (mounted)
		fuse_session_unmount(fs->se);
	if (handlers)
		fuse_remove_signal_handlers(fs->se);
	if (fs->se)
		fuse_session_destroy(fs->se);
	fs->se = NULL;
	fuse_opt_free_args(&args);
	return r;
}

int snapfs_mount(struct repo *r, const struct snapfs_options *o, struct err *e)
{
	struct snapfs fs;
	int k;

	k = check_mountpoint(o->mountpoint, e);
	if (k < 0)
		return k;
	k = fs_init(&fs, r, o, e);
	if (k < 0)
		goto fail;
	k = blobcache_new(o->cache_bytes, 2, fetch, &fs, &fs.cache);
	if (k < 0) {
		err_set(e, k, "cannot start the blob cache");
		goto fail;
	}
	/* The first listing must work before we mount: a wrong repository is an error now,
	 * not an empty directory later. */
	k = fs_refresh(&fs, true, e);
	if (k < 0)
		goto fail;
	k = serve(&fs, e);
fail:
	blobcache_free(fs.cache);
	fs_release(&fs);
	return k;
}
