/* Owns how progress is shown: the terminal line (redrawn in place, cut to the terminal's
 * width so it never wraps), the --json status objects, and clearing the line before a
 * warning is printed over it. */
#include "cli/progress.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/output.h"
#include "util/banned.h"

void cli_human_bytes(uint64_t n, char *out, size_t max)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(out, max, "%llu B", (unsigned long long)n);
	else
		snprintf(out, max, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
}

static void duration(double s, char *out, size_t max)
{
	unsigned long t = s > 0 && s < 1e9 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(out, max, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, max, "%lu:%02lu", t / 60, t % 60);
}

void cli_progress_init(struct cli_progress *p, struct cli *c)
{
	const char *fps = getenv("CAIRN_PROGRESS_FPS");
	double f = fps ? strtod(fps, NULL) : 0;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->json = c->json;
	p->tty = !c->json && !c->quiet && isatty(STDOUT_FILENO);
	/* Four redraws a second are smooth enough and cost nothing; JSON readers get one
	 * object a second unless they ask for more. */
	if (f > 0 && f <= 1000)
		p->interval_ms = (unsigned)(1000 / f);
	else
		p->interval_ms = p->tty ? 250 : 1000;
	if (!p->interval_ms)
		p->interval_ms = 1;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->phase = p->start;
	c->progress = p;
}

unsigned cli_progress_ms(const struct cli_progress *p)
{
	return p->tty || p->json ? p->interval_ms : 0;
}

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

void cli_progress_phase(struct cli_progress *p)
{
	clock_gettime(CLOCK_MONOTONIC, &p->phase);
}

/* Fraction done by bytes (files when there are no bytes); -1 while the total is unknown. */
static double fraction(const struct cli_progress_state *s)
{
	double f;

	if (s->final)
		return 1;
	if (!s->total_known)
		return -1;
	if (s->bytes_total)
		f = (double)s->bytes_done / (double)s->bytes_total;
	else
		f = s->files_total ? (double)s->files_done / (double)s->files_total : 1;
	return f > 1 ? 1 : f;
}

static void draw(struct cli_progress *p, const struct cli_progress_state *s, double t, double pt,
                 double f)
{
	char line[512], done[32], total[32], rate[32], el[48], eta[48] = "";
	const char *unit = s->unit ? s->unit : "files";
	double bps = pt > 0 ? (double)s->bytes_done / pt : 0;
	uint64_t ft = s->files_total > s->files_done ? s->files_total : s->files_done;
	uint64_t bt = s->bytes_total > s->bytes_done ? s->bytes_total : s->bytes_done;
	struct winsize ws;
	size_t cols = 80, n;

	cli_human_bytes(s->bytes_done, done, sizeof(done));
	cli_human_bytes(bt, total, sizeof(total));
	cli_human_bytes((uint64_t)bps, rate, sizeof(rate));
	duration(t, el, sizeof(el));
	if (f > 0 && f < 1)
		duration(pt / f - pt, eta, sizeof(eta));
	if (f >= 0)
		snprintf(line, sizeof(line), "[%s] %5.1f%%  %llu / %llu %s  %s / %s  %s/s%s%s", el,
		         f * 100, (unsigned long long)s->files_done, (unsigned long long)ft, unit,
		         done, total, rate, eta[0] ? "  ETA " : "", eta);
	else /* the scanner is still counting: totals so far, marked with '+' */
		snprintf(line, sizeof(line), "[%s] %llu / %llu+ %s  %s / %s+  %s/s", el,
		         (unsigned long long)s->files_done, (unsigned long long)ft, unit, done,
		         total, rate);
	if (s->errors) {
		n = strlen(line);
		snprintf(line + n, sizeof(line) - n, "  %llu errors",
		         (unsigned long long)s->errors);
	}
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		cols = ws.ws_col;
	n = strlen(line);
	if (n >= cols)
		line[cols - 1] = 0; /* a wrapped line could not be redrawn with \r */
	printf("\r%s\033[K%s", line, s->final ? "\n" : "");
	fflush(stdout);
	p->drawn = !s->final;
}

void cli_progress_show(struct cli_progress *p, const struct cli_progress_state *s, void *extra)
{
	double t = since(&p->start), pt = since(&p->phase), f = fraction(s);
	const char *unit = s->unit ? s->unit : "files";
	char done_key[32], total_key[32];
	json_t *o;

	if (p->json) {
		/* files_done / total_files for backup and restore, packs_done / total_packs for
		 * check and prune. */
		snprintf(done_key, sizeof(done_key), "%s_done", unit);
		snprintf(total_key, sizeof(total_key), "total_%s", unit);
		o = json_pack("{s:s, s:f, s:I, s:I}", "message_type", "status", "seconds_elapsed",
		              t, done_key, cli_json_count(s->files_done), "bytes_done",
		              cli_json_count(s->bytes_done));
		if (o && f >= 0) {
			json_object_set_new(o, "percent_done", json_real(f));
			json_object_set_new(o, total_key,
			                    json_integer(cli_json_count(s->files_total)));
			json_object_set_new(o, "total_bytes",
			                    json_integer(cli_json_count(s->bytes_total)));
			if (f > 0 && f < 1)
				json_object_set_new(o, "seconds_remaining",
				                    json_integer((json_int_t)(pt / f - pt + 0.5)));
		}
		if (o && extra)
			json_object_update(o, extra);
		json_decref(extra);
		cli_print_json(o);
		return;
	}
	json_decref(extra);
	if (!p->tty)
		return;
	pthread_mutex_lock(&p->lock);
	draw(p, s, t, pt, f);
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_clear(struct cli *c)
{
	struct cli_progress *p = c ? c->progress : NULL;

	if (!p || !p->tty)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->drawn) {
		fputs("\r\033[K", stdout);
		fflush(stdout);
		p->drawn = false;
	}
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_release(struct cli_progress *p, struct cli *c)
{
	cli_progress_clear(c);
	c->progress = NULL;
	pthread_mutex_destroy(&p->lock);
}
