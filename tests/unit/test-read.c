/* read_open when the kernel refuses the open reply: libfuse frees the request on every
 * reply, so the handle must be released without touching the request again (no second
 * reply, no userdata read). The libfuse calls are replaced at link time (--wrap), so the
 * failure needs no real mount. */
#include "fuse/snapfs-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "util/banned.h"

/* fuse_req is opaque to libfuse's users: this test's requests are its own. */
struct fuse_req {
	bool freed;
	int replies;
};

static struct snapfs fs;
static int after_free; /* calls that used a request after its reply freed it */

void *__wrap_fuse_req_userdata(fuse_req_t req);
int __wrap_fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi);
int __wrap_fuse_reply_err(fuse_req_t req, int err);
static int open_result;

void *__wrap_fuse_req_userdata(fuse_req_t req)
{
	after_free += req->freed;
	return &fs;
}

int __wrap_fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	(void)fi;
	after_free += req->freed;
	req->replies++;
	req->freed = true; /* as libfuse does, whether the write worked or not */
	return open_result;
}

int __wrap_fuse_reply_err(fuse_req_t req, int err)
{
	(void)err;
	after_free += req->freed;
	req->replies++;
	req->freed = true;
	return 0;
}

int main(void)
{
	struct snode *n = calloc(1, sizeof(*n));
	struct extent hole = { .len = 4096, .hole = true };
	struct fuse_file_info fi = { .flags = O_RDONLY };
	struct fuse_req req = { 0 };

	pthread_mutex_init(&fs.lock, NULL);
	ok(n && itable_init(&fs.it) == 0, "inode table");
	n->kind = SN_REAL;
	n->nlookup = 1; /* the kernel holds it, so unpinning never frees it */
	n->node.type = NODE_FILE;
	n->node.content = &hole;
	n->node.n_content = 1;
	n->node.size = 4096; /* what its extents add up to: the open checks it */
	n->key = (uint8_t *)"f";
	n->key_len = 1;
	ok(itable_add(&fs.it, n) == 0, "a file node");

	open_result = 0;
	read_open(&req, n->ino, &fi);
	ok(req.replies == 1 && fi.fh != 0 && n->pins == 1, "open: one reply, a handle, a pin");
	req = (struct fuse_req){ 0 };
	read_release(&req, n->ino, &fi);
	ok(req.replies == 1 && n->pins == 0, "release: one reply, unpinned");

	/* The kernel refuses the reply (e.g. the opener was interrupted meanwhile). */
	req = (struct fuse_req){ 0 };
	fi = (struct fuse_file_info){ .flags = O_RDONLY };
	open_result = -ENOENT;
	read_open(&req, n->ino, &fi);
	is_int(req.replies, 1, "a refused open reply is not followed by another reply");
	is_int(after_free, 0, "the freed request is not used again");
	is_int(n->pins, 0, "the handle's pin is dropped");

	itable_release(&fs.it);
	free(n);
	pthread_mutex_destroy(&fs.lock);
	return tap_done();
}
