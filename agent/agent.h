/* The node agent: watches cairn.dev/v1alpha1 PodVolumeBackups for one node and backs up the
 * pod volumes they name straight from the kubelet's folders. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "repo/backend.h"
#include "util/attr.h"
#include "util/err.h"

struct agent_config {
	const char *node;            /* required: spec.node this agent serves */
	const char *host_pods;       /* <kubelet-root>/pods as mounted in the agent's pod */
	const char *ns;              /* namespace of the PodVolumeBackups; NULL: kubeconfig's */
	const char *kubeconfig;      /* NULL: KUBECONFIG, in-cluster, ~/.kube/config */
	const char *metrics_address; /* ":8085"; "" disables */
	int concurrency;             /* volumes backed up at once (>= 1) */
	int threads;                 /* backup workers per volume; 0 = number of CPUs */
	unsigned progress_sec;       /* seconds between progress updates (>= 1) */
	/* The repository: a fixed URL (every PVB goes there), or NULL to derive one per PVB
	 * from its BackupStorageLocation. The password is borrowed, never logged. */
	const char *repo_url;
	const struct backend_options *bopts;
	const char *password;
	size_t password_len;
};

/* Runs until SIGTERM/SIGINT (or agent_stop). Returns 0 after a clean shutdown; a negative
 * errno with e set when it cannot start (no API server, bad flags, metrics port taken). */
int agent_run(const struct agent_config *cfg, struct err *e) _must_check_;
/* Async-signal-safe request to stop agent_run. */
void agent_stop(void);
