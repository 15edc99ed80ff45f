/* Snapshot naming in the mount: time names and collisions, short ids, tags, hosts,
 * volumes for agent snapshots, latest, and unsafe names. */
#include "fuse/snapfs-internal.h"

#include <stdlib.h>

#include "tests/tap.h"
#include "util/banned.h"

static const struct layout_entry *find(const struct layout *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].path, path) == 0)
			return &l->e[i];
	return NULL;
}

static size_t count_prefix(const struct layout *l, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += strncmp(l->e[i].path, prefix, strlen(prefix)) == 0;
	return n;
}

static void snap(struct snapshot *s, uint8_t id0, uint8_t id1, int64_t t, uint32_t ns,
                 const char *host, char **tags, size_t n_tags)
{
	memset(s, 0, sizeof(*s));
	memset(s->id, 0xab, ID_BYTES);
	s->id[0] = id0;
	s->id[1] = id1;
	s->time_sec = t;
	s->time_nsec = ns;
	s->hostname = (char *)host;
	s->tags = tags;
	s->n_tags = n_tags;
}

int main(void)
{
	char *t_agent[] = { "ns=shop", "pod=db-0", "volume=data", "pvc=db-0" };
	char *t_nopvc[] = { "ns=shop", "pod=web-7f", "volume=cache" };
	char *t_odd[] = { "a/b", "..", "daily" };
	struct snapshot s[5];
	struct layout l;
	const struct layout_entry *x;
	char name[LAYOUT_NAME_MAX];

	/* Out of time order on purpose: naming sorts by time, then nanoseconds. */
	snap(&s[0], 0x11, 0x22, 1714557600, 500, "node-a", t_agent, 4); /* 2024-05-01T10:00:00Z */
	snap(&s[1], 0x11, 0x23, 1714557600, 100, "node-a", NULL, 0);    /* same second, earlier */
	snap(&s[2], 0x33, 0x00, 1714644000, 0, "node/b", t_nopvc, 3);   /* 2024-05-02T10:00:00Z */
	snap(&s[3], 0x44, 0x00, 1714000000, 0, "", t_odd, 3);           /* 2024-04-24T23:06:40Z */
	snap(&s[4], 0x55, 0x00, 1714644001, 0, "node-a", NULL, 0);      /* newest */
	ok(layout_build(s, 5, &l) == 0, "build");

	x = find(&l, "snapshots/2024-05-01T10:00:00Z");
	ok(x && x->kind == LAYOUT_SNAP && x->snap == 1,
	   "earlier of one second gets the plain name");
	x = find(&l, "snapshots/2024-05-01T10:00:00Z-2");
	ok(x && x->snap == 0, "later of one second gets -2");
	x = find(&l, "snapshots/2024-04-24T23:06:40Z");
	ok(x && x->snap == 3, "times are UTC ISO 8601");
	x = find(&l, "snapshots/latest");
	ok(x && x->kind == LAYOUT_LINK && x->snap == 4 &&
	       strcmp(x->target, "2024-05-02T10:00:01Z") == 0,
	   "latest links to the newest by time");
	is_int(count_prefix(&l, "snapshots/"), 6, "one entry per snapshot plus latest");

	x = find(&l, "ids/112"); /* never: too short */
	ok(!x, "ids are at least 8 hex digits");
	x = find(&l, "ids/1122abab");
	ok(x && x->snap == 0, "8-digit id when unique");
	x = find(&l, "ids/55000000");
	ok(!x, "id prefix reflects the real id");
	x = find(&l, "ids/5500abab");
	ok(x && x->snap == 4, "short id of another snapshot");

	ok(find(&l, "tags/daily/2024-04-24T23:06:40Z") != NULL, "tags/<tag>/<time>");
	ok(find(&l, "tags/a_b/2024-04-24T23:06:40Z") != NULL, "a slash in a tag becomes _");
	ok(find(&l, "tags/_../2024-04-24T23:06:40Z") != NULL, "a tag '..' cannot climb");
	ok(find(&l, "tags/pvc=db-0/2024-05-01T10:00:00Z-2") != NULL, "key=value tags as names");
	ok(find(&l, "hosts/node-a/2024-05-01T10:00:00Z") != NULL, "hosts/<host>/<time>");
	ok(find(&l, "hosts/node_b/2024-05-02T10:00:00Z") != NULL, "host with a slash");
	ok(find(&l, "hosts/_/2024-04-24T23:06:40Z") != NULL, "empty host name");

	x = find(&l, "volumes/shop/db-0/2024-05-01T10:00:00Z-2");
	ok(x && x->snap == 0, "volumes/<ns>/<pvc>/<time> for agent snapshots");
	x = find(&l, "volumes/shop/web-7f-cache/2024-05-02T10:00:00Z");
	ok(x && x->snap == 2, "volumes/<ns>/<pod>-<volume> without a PVC");
	is_int(count_prefix(&l, "volumes/"), 2, "only agent snapshots appear under volumes/");
	ok(find(&l, "snapshots") && find(&l, "ids") && find(&l, "tags") && find(&l, "hosts") &&
	       find(&l, "volumes"),
	   "top directories exist");
	layout_release(&l);

	/* Two ids sharing 5 bytes need 12 hex digits to tell apart. */
	snap(&s[0], 0x11, 0x22, 1, 0, "h", NULL, 0);
	snap(&s[1], 0x11, 0x22, 2, 0, "h", NULL, 0);
	s[1].id[4] = 0xab;
	s[1].id[5] = 0x01;
	ok(layout_build(s, 2, &l) == 0, "build with near-colliding ids");
	ok(find(&l, "ids/1122ababab01") && find(&l, "ids/1122abababab"),
	   "colliding short ids grow until unique");
	layout_release(&l);

	ok(layout_build(NULL, 0, &l) == 0 && l.n == 5 && !find(&l, "snapshots/latest"),
	   "empty repository: top directories only");
	layout_release(&l);

	ok(layout_name("x/y", 3, name, sizeof(name)) == 0 && strcmp(name, "x_y") == 0, "x/y");
	ok(layout_name(".", 1, name, sizeof(name)) == 0 && strcmp(name, "_.") == 0, ".");
	ok(layout_name("", 0, name, sizeof(name)) == 0 && strcmp(name, "_") == 0, "empty");
	return tap_done();
}
