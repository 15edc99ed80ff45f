/* Owns folders being restored: a reference per unfinished file inside, and the metadata
 * applied by whoever lets go last (the walker, or the worker finishing the last file). */
#include "restore/restore-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

struct rdir *rs_dir_new(struct rs *s, int fd, const struct node *meta, const char *path)
{
	struct rdir *d = calloc(1, sizeof(*d));

	(void)s;
	if (!d)
		return NULL;
	d->fd = fd;
	d->meta.type = NODE_FILE; /* nothing to apply */
	atomic_store(&d->refs, 1);
	d->path = strdup(path);
	if (!d->path || (meta && node_copy(meta, &d->meta) < 0)) {
		free(d->path);
		free(d);
		return NULL;
	}
	if (meta) {
		/* The segment list is the walker's business; keep only the metadata. */
		free(d->meta.content);
		d->meta.content = NULL;
		d->meta.n_content = 0;
	}
	return d;
}

void rs_dir_put(struct rs *s, struct rdir *d)
{
	if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	if (d->meta.type == NODE_DIR) {
		rs_apply_fd(s, d->fd, &d->meta, d->path);
		atomic_fetch_add(&s->dirs, 1);
	}
	close(d->fd);
	rs_dir_bury(s, d); /* freed by the walker that allocated it (reap.c) */
}
