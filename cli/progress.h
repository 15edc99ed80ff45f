/* Progress of backup, restore, check --read-data and prune: a line redrawn on a terminal
 * (done/total, percentage, rate, time left), status objects with --json, nothing with
 * --quiet or when stdout is not a terminal; the scanners that find backup's and restore's
 * totals without engine changes; and the adapter for the maintenance engines' counts. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cli/cli.h"
#include "maint/maint.h"
#include "restore/restore.h"

struct cli_progress {
	pthread_mutex_t lock; /* warnings from worker threads clear the line */
	bool tty;             /* draw on stdout */
	bool json;
	bool drawn; /* a line is on the terminal, not yet ended */
	unsigned interval_ms;
	struct timespec start;
	struct timespec phase; /* rate and time left count from here (cli_progress_phase) */
};

struct cli_progress_state {
	uint64_t files_done, bytes_done, files_total, bytes_total, errors;
	bool total_known; /* the scan finished: totals are final */
	bool final;       /* the run finished: 100% */
	const char *unit; /* what files_* count: NULL for "files", or "packs" */
};

/* tty/json/quiet from c and isatty(stdout); the interval from CAIRN_PROGRESS_FPS.
 * Sets c->progress so warnings can clear the line. */
void cli_progress_init(struct cli_progress *p, struct cli *c);
/* The engine's progress_ms; 0 when nothing is shown (the callback can be left out). */
unsigned cli_progress_ms(const struct cli_progress *p);
/* Draw the line or print a status object (extra: a json_t* of the command's own fields,
 * consumed; may be NULL). The final state ends the line. */
void cli_progress_show(struct cli_progress *p, const struct cli_progress_state *s, void *extra);
/* A long phase begins after a setup that moved no bytes (check's index and tree walk):
 * rate and time left are measured from now on. */
void cli_progress_phase(struct cli_progress *p);
void cli_progress_release(struct cli_progress *p, struct cli *c);
/* "1.5 GiB", "512 B": binary units, three significant digits. */
void cli_human_bytes(uint64_t n, char *out, size_t max);

/* Backup's scanner: a thread walking the backup's paths with its excludes and
 * --one-file-system, counting regular files and their sizes. Memory is bounded by the
 * walk depth (at most 128 folders open), nothing per file; folders are read with
 * O_NOATIME, as the backup reads them. */
struct cli_scan {
	pthread_t thread;
	bool started;
	const char *const *paths;
	size_t n_paths;
	const char *const *excludes;
	size_t n_excludes;
	bool one_file_system;
	_Atomic uint64_t files, bytes;
	atomic_bool done, stop;
};

int cli_scan_start(struct cli_scan *s) _must_check_;
/* Stops the walk if it still runs and waits for the thread. */
void cli_scan_stop(struct cli_scan *s);

/* Restore's total: the files and bytes restore_run would write for o, counted from the
 * snapshot's trees before the restore starts. */
int cli_restore_total(struct repo *r, const struct restore_opts *o, uint64_t *ret_files,
                      uint64_t *ret_bytes, struct err *e) _must_check_;

/* check --read-data and prune: the engine's pack counts (struct repo_maint_progress)
 * shown as the line or status objects. Set it up with cli_progress_init on pr; pass
 * cli_maint_progress and the struct as the engine's callback and opaque. */
struct cli_maint_ui {
	struct cli_progress pr;
	bool started; /* the phase began: its first callback came */
	uint64_t packs_total, bytes_total;
};
void cli_maint_progress(void *ud, const struct repo_maint_progress *m);
/* The run succeeded: end the line at 100% on a terminal (JSON: the summary follows). */
void cli_maint_progress_end(struct cli_maint_ui *u);
