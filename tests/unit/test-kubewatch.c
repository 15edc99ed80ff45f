/* The watch stream's line splitter: lines split across any chunk boundary, CRLF, empty
 * lines, the bounded line buffer; plus query escaping and timestamps used by watches. */
#include "kube/kube.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/tap.h"
#include "util/banned.h"

struct got {
	char text[4096];
	size_t len;
	int lines;
	int fail_at; /* return an error on this line number (1-based); 0 never */
};

static int collect(void *ud, const char *line, size_t n)
{
	struct got *g = ud;

	g->lines++;
	if (g->fail_at && g->lines == g->fail_at)
		return -ECANCELED;
	if (g->len + n + 1 < sizeof(g->text)) {
		memcpy(g->text + g->len, line, n);
		g->len += n;
		g->text[g->len++] = '|';
		g->text[g->len] = 0;
	}
	return 0;
}

static const char stream[] = "{\"type\":\"ADDED\"}\n\n{\"type\":\"MODIFIED\"}\r\n{\"a\":1}\n"
                             "partial-at-end";

int main(void)
{
	const char *want = "{\"type\":\"ADDED\"}|{\"type\":\"MODIFIED\"}|{\"a\":1}|";
	struct watch_lines w;
	struct got g;
	size_t len = strlen(stream), step, i;
	bool all = true;
	char q[64];

	/* Every chunk size from 1 byte to the whole stream gives the same lines. */
	for (step = 1; step <= len; step++) {
		memset(&g, 0, sizeof(g));
		watch_lines_init(&w, 64);
		for (i = 0; i < len; i += step)
			if (watch_lines_feed(&w, stream + i, len - i < step ? len - i : step,
			                     collect, &g) < 0)
				all = false;
		if (strcmp(g.text, want) != 0 || w.b.len != strlen("partial-at-end")) {
			all = false;
			tap_diag("step %zu: got %s", step, g.text);
		}
		watch_lines_release(&w);
	}
	ok(all, "same three lines for every chunk size; the unfinished line is held");

	/* A line longer than the bound fails with -EFBIG and the buffer is dropped. */
	{
		char big[200];

		memset(big, 'x', sizeof(big));
		memset(&g, 0, sizeof(g));
		watch_lines_init(&w, 64);
		is_int(watch_lines_feed(&w, big, 50, collect, &g), 0, "50 bytes of a line fit");
		is_int(watch_lines_feed(&w, big, 50, collect, &g), -EFBIG,
		       "growing past the bound is -EFBIG");
		is_int(w.b.len, 0, "the partial line is dropped");
		is_int(watch_lines_feed(&w, "ok\n", 3, collect, &g), 0,
		       "the splitter is usable after");
		is_str(g.text, "ok|", "next line intact");
		watch_lines_release(&w);
	}
	/* A line that arrives whole is not copied, so it is not bounded by the buffer. */
	{
		char big[201];

		memset(big, 'y', 200);
		big[200] = '\n';
		memset(&g, 0, sizeof(g));
		watch_lines_init(&w, 64);
		is_int(watch_lines_feed(&w, big, sizeof(big), collect, &g), 0,
		       "a whole line within one chunk passes in place");
		is_int(g.lines, 1, "one line");
		watch_lines_release(&w);
	}
	/* The callback's error stops the feed and is returned. */
	memset(&g, 0, sizeof(g));
	g.fail_at = 2;
	watch_lines_init(&w, 64);
	is_int(watch_lines_feed(&w, "a\nb\nc\n", 6, collect, &g), -ECANCELED,
	       "callback error returned");
	is_int(g.lines, 2, "no line after the failing one");
	watch_lines_release(&w);

	is_int(kube_query_escape("spec.node=node-1,a b/c", q, sizeof(q)), 0, "escape fits");
	is_str(q, "spec.node%3Dnode-1%2Ca%20b%2Fc", "selector percent-encoded");
	is_int(kube_query_escape("0123456789", q, 10), -ENAMETOOLONG, "escape bounded");
	kube_timestamp(1700000000, q);
	is_str(q, "2023-11-14T22:13:20Z", "RFC 3339 UTC timestamp");
	return tap_done();
}
