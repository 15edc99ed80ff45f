# agent/: the node agent (kubelet paths, PodVolumeBackup jobs, storage locations,
# metrics) on top of kube/.
noinst_LIBRARIES += agent/libcairn_agent.a
agent_libcairn_agent_a_SOURCES = agent/agent.h agent/agent-internal.h agent/kubelet.c \
	agent/pvb.c agent/ptable.c agent/bsl.c agent/metrics.c agent/jobprep.c agent/job.c agent/agent.c \
	agent/pvr.c agent/rjob.c agent/restorer.c agent/streamjob.c agent/wake.c \
	agent/progress.c agent/repocache.c agent/rrepo.c

AGENT_UNIT_TESTS = tests/unit/test-kubelet tests/unit/test-pvb tests/unit/test-pvr
check_PROGRAMS += $(AGENT_UNIT_TESTS)
TESTS += $(AGENT_UNIT_TESTS)
tests_unit_test_kubelet_LDADD = $(CAIRN_LIBS)
tests_unit_test_pvb_LDADD = $(CAIRN_LIBS)
tests_unit_test_pvr_LDADD = $(CAIRN_LIBS)

TESTS += tests/e2e/agent-e2e.sh tests/e2e/agent-safety.sh tests/e2e/restore-pvc-new.sh
EXTRA_DIST += tests/e2e/agent-e2e.sh tests/e2e/agent-safety.sh tests/e2e/restore-pvc-new.sh \
	tests/kubeapi/kubelet.py bench/agent.sh docs/agent.md

TESTS += tests/e2e/restore-pvc-cli.sh
EXTRA_DIST += tests/e2e/restore-pvc-cli.sh
# Backup command annotation: a pod's command output streamed into a snapshot.
TESTS += tests/e2e/agent-stream.sh
EXTRA_DIST += tests/e2e/agent-stream.sh
# Migration: restore in a second cluster from a ReadOnly location, the repository unwritten.
TESTS += tests/e2e/restore-migrate.sh
EXTRA_DIST += tests/e2e/restore-migrate.sh
# Cancel mid-way (test builds hold the restore with CAIRN_TEST_RESTORE_HOLD).
TESTS += tests/e2e/restore-cancel.sh
EXTRA_DIST += tests/e2e/restore-cancel.sh tests/e2e/pvr-held-lib.sh
# The PVR's options: writeSparseFiles, overwrite (identical files left untouched).
TESTS += tests/e2e/restore-pvr-opts.sh
EXTRA_DIST += tests/e2e/restore-pvr-opts.sh
# An agent killed mid-restore: the next one resumes, keeps finished files, removes leftovers.
TESTS += tests/e2e/restore-resume.sh
EXTRA_DIST += tests/e2e/restore-resume.sh
# Two agents race for one PodVolumeRestore (CAIRN_TEST_CLAIM_HOLD): exactly one restores.
TESTS += tests/e2e/restore-claim-race.sh
EXTRA_DIST += tests/e2e/restore-claim-race.sh
# A slow API server (progress writes held) does not stall a backup (CAIRN_TEST_BACKUP_HOLD).
TESTS += tests/e2e/agent-progress-held.sh
EXTRA_DIST += tests/e2e/agent-progress-held.sh
# The repository a restore keeps open for the next one: reused, dropped after a prune or a
# key removal, closed when idle (CAIRN_TEST_REPO_IDLE_SEC).
TESTS += tests/e2e/restore-pvr-repo-kept.sh
EXTRA_DIST += tests/e2e/restore-pvr-repo-kept.sh
