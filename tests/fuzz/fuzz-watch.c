/* Fuzz target: a watch stream as the API server sends it, newline-delimited JSON events
 * split over arbitrary chunk boundaries. The line splitter (watch_lines_feed) must give
 * the same lines whatever the chunking (checked: whole input at once vs chunks sized by
 * the input's own bytes); the input decodes when every line is a JSON event with a string
 * "type" and an object "object", as watch.c expects. */
#include <jansson.h>
#include <string.h>

#include "kube/kube.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_LINE_MAX (64u * 1024)

struct seen {
	size_t lines, bytes, events;
	uint64_t sum;
};

static int on_line(void *ud, const char *line, size_t n)
{
	struct seen *s = ud;
	json_t *ev, *obj;
	const char *type;

	s->lines++;
	s->bytes += n;
	for (size_t i = 0; i < n; i++)
		s->sum = s->sum * 131 + (uint8_t)line[i];
	ev = json_loadb(line, n, 0, NULL);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (type && json_is_object(obj))
		s->events++;
	json_decref(ev);
	return 0;
}

static int feed(const uint8_t *data, size_t size, bool chunked, struct seen *s)
{
	struct watch_lines w;
	size_t off = 0;
	int rc = 0;

	watch_lines_init(&w, FUZZ_LINE_MAX);
	while (rc >= 0 && off < size) {
		size_t n = chunked ? 1u + data[off] % 97u : size;

		if (n > size - off)
			n = size - off;
		rc = watch_lines_feed(&w, (const char *)data + off, n, on_line, s);
		off += n;
	}
	watch_lines_release(&w);
	return rc;
}

int fuzz_decode(const uint8_t *data, size_t size)
{
	struct seen a = { 0 }, b = { 0 };
	int ra = feed(data, size, false, &a), rb = feed(data, size, true, &b);

	/* Chunk boundaries must not change the lines (an over-long line may be refused at a
	 * different point, so compare only streams both accepted). */
	if (ra >= 0 && rb >= 0 && (a.lines != b.lines || a.bytes != b.bytes || a.sum != b.sum))
		__builtin_trap();
	return ra >= 0 && a.lines > 0 && a.events == a.lines;
}
