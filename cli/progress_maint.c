/* Owns turning check's and prune's pack counts into the progress line: packs stand where
 * backup has files, bytes are the packs' sizes, and the rate counts from the phase's start
 * (the index load and tree walk before it move no pack bytes). */
#include "cli/progress.h"

#include <jansson.h>

#include "util/banned.h"

void cli_maint_progress(void *ud, const struct repo_maint_progress *m)
{
	struct cli_maint_ui *u = ud;
	struct cli_progress_state s = {
		.files_done = m->packs_done,
		.files_total = m->packs_total,
		.bytes_done = m->bytes_done,
		.bytes_total = m->bytes_total,
		.total_known = true,
		.unit = "packs",
	};

	if (!m->packs_total)
		return; /* nothing to read or remove: no line */
	if (!u->started) {
		cli_progress_phase(&u->pr);
		u->started = true;
	}
	u->packs_total = m->packs_total;
	u->bytes_total = m->bytes_total;
	cli_progress_show(&u->pr, &s, u->pr.json ? json_pack("{s:s}", "phase", m->phase) : NULL);
}

void cli_maint_progress_end(struct cli_maint_ui *u)
{
	struct cli_progress_state s = {
		.files_done = u->packs_total,
		.files_total = u->packs_total,
		.bytes_done = u->bytes_total,
		.bytes_total = u->bytes_total,
		.total_known = true,
		.final = true,
		.unit = "packs",
	};

	if (u->started && u->pr.tty)
		cli_progress_show(&u->pr, &s, NULL);
}
