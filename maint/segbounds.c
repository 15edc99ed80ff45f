/* Owns check's table of tree segment boundary names (segbounds.h): a hash of one small
 * allocation per segment, an id and two names, so a segment of 1 MiB of entries costs
 * about 80 bytes plus its two names; and the marks that fill it as check reads. */
#include "maint/segbounds.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"
#include "util/ckd.h"

/* Ids are hashes: their first bytes spread well enough. */
static size_t slot0(const struct segbounds *s, const uint8_t id[ID_BYTES])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)h & (s->cap - 1);
}

static size_t find(const struct segbounds *s, const uint8_t id[ID_BYTES])
{
	size_t i = slot0(s, id);

	while (s->v[i] && memcmp(s->v[i]->id, id, ID_BYTES))
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* Double the table (or make the first one) and re-insert every entry. */
static int grow(struct segbounds *s)
{
	struct segbounds n = { .cap = s->cap ? 2 * s->cap : 64 };

	if (n.cap < s->cap || n.cap > SIZE_MAX / sizeof(*n.v))
		return -ENOMEM;
	n.v = calloc(n.cap, sizeof(*n.v));
	if (!n.v)
		return -ENOMEM;
	for (size_t j = 0; j < s->cap; j++)
		if (s->v[j])
			n.v[find(&n, s->v[j]->id)] = s->v[j];
	free(s->v);
	s->v = n.v;
	s->cap = n.cap;
	return 0;
}

int segbounds_put(struct segbounds *s, const uint8_t id[ID_BYTES], const char *first,
                  size_t first_len, const char *last, size_t last_len, bool unknown)
{
	struct segbound *b;
	size_t i;
	int rc;

	if (first_len > NAME_MAX || last_len > NAME_MAX)
		return -EINVAL;
	if ((s->n + 1) * 2 > s->cap) {
		rc = grow(s);
		if (rc < 0)
			return rc;
	}
	i = find(s, id);
	if (s->v[i])
		return 0;
	b = malloc(sizeof(*b) + first_len + last_len);
	if (!b)
		return -ENOMEM;
	memcpy(b->id, id, ID_BYTES);
	b->first_len = (uint16_t)first_len;
	b->last_len = (uint16_t)last_len;
	b->unknown = unknown;
	if (first_len)
		memcpy(b->names, first, first_len);
	if (last_len)
		memcpy(b->names + first_len, last, last_len);
	s->v[i] = b;
	s->n++;
	s->bytes += sizeof(*b) + first_len + last_len;
	return 1;
}

const struct segbound *segbounds_get(const struct segbounds *s, const uint8_t id[ID_BYTES])
{
	return s->cap ? s->v[find(s, id)] : NULL;
}

size_t segbounds_bytes(const struct segbounds *s)
{
	return s->cap * sizeof(*s->v) + s->bytes;
}

void segbounds_release(struct segbounds *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int segmarks_reserve(struct segmark **m, size_t *cap, size_t depth)
{
	size_t n = *cap ? *cap : 16;
	struct segmark *v;

	while (n < depth)
		if (ckd_mul(&n, n, 2))
			return -EOVERFLOW;
	if (n == *cap)
		return 0;
	v = reallocarray(*m, n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + *cap, 0, (n - *cap) * sizeof(*v));
	*m = v;
	*cap = n;
	return 0;
}

void segmarks_free(struct segmark *m, size_t cap)
{
	for (size_t i = 0; m && i < cap; i++)
		free(m[i].first);
	free(m);
}

void segmark_reset(struct segmark *m, bool rec)
{
	free(m->first);
	*m = (struct segmark){ .rec = rec, .clean = true };
}

int segmark_name(struct segmark *m, const char *name, size_t len, bool refused)
{
	if (!m->rec)
		return 0;
	if (refused)
		m->clean = false;
	if (refused || m->first)
		return 0;
	m->first = malloc(len ? len : 1);
	if (!m->first)
		return -ENOMEM;
	memcpy(m->first, name, len);
	m->first_len = len;
	return 0;
}

int segmark_done(struct segbounds *s, struct segmark *m, const uint8_t id[ID_BYTES],
                 const char *last, size_t last_len)
{
	int rc = 0;

	/* No valid name: an empty entry, across which the order is unchanged. */
	if (m->rec && m->clean)
		rc = segbounds_put(s, id, m->first, m->first ? m->first_len : 0, last,
		                   m->first ? last_len : 0, false);
	segmark_reset(m, false);
	return rc < 0 ? rc : 0;
}

int segbounds_read(struct segbounds *s, struct repo *r, const struct extent *seg,
                   const struct segbound **ret)
{
	char first[NAME_MAX + 1], last[NAME_MAX + 1];
	size_t first_len = 0, last_len = 0;
	struct err e = ERR_INIT;
	struct tree_iter it;
	struct node n;
	int rc;

	tree_iter_init_root(&it, r, seg, 1);
	while ((rc = tree_iter_next(&it, &n, &e)) > 0) {
		/* Names no restore creates take no part in the order (check.c check_rules). */
		if (repo_name_ok(n.name, n.name_len)) {
			if (!first_len) {
				memcpy(first, n.name, n.name_len);
				first_len = n.name_len;
			}
			memcpy(last, n.name, n.name_len);
			last_len = n.name_len;
		}
		node_release(&n);
	}
	tree_iter_release(&it);
	if (rc == -ENOMEM)
		return rc;
	/* One that does not read was reported where check first met it. */
	rc = segbounds_put(s, seg->id, first, first_len, last, last_len, rc < 0);
	if (rc < 0)
		return rc;
	*ret = segbounds_get(s, seg->id);
	return 0;
}
