#!/bin/bash
# End to end, cancel: a PodVolumeRestore for a pod waiting in its restore-wait init
# container is canceled (spec.cancel, as `cairn kube restore` and the controller set it)
# while the agent is in the middle of it. The test hook CAIRN_TEST_RESTORE_HOLD (builds
# with --enable-test-hooks) holds each restore thread after it finished a file, so with
# more files than threads the restore is stopped mid-way without any timing: some files
# are in place, the rest are not. The PVR ends Canceled, the agent writes nothing more
# (not after the hold is lifted either; no partial files left), no done-file appears and
# restore-wait keeps waiting (the pod's app containers never start).
# shellcheck source=tests/e2e/pvr-held-lib.sh
. "$(dirname "$0")/pvr-held-lib.sh"

kcurl "$API/podvolumerestores/p1" -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"spec":{"cancel":true}}' >/dev/null
canceled() { [ "$(phase)" = Canceled ]; }
t_wait 60 canceled
t_ok $? "canceled mid-way: the PodVolumeRestore ends Canceled" ||
	t_note "$(obj "$API/podvolumerestores/p1" | jq -c .status)"
n=$(whole)
[ "$n" -ge 1 ] && [ "$n" -lt 41 ]
t_ok $? "stopped in the middle: $n of 41 files restored"
[ -z "$(find "$T" -name '*cairn-partial*' -print -quit)" ]
t_ok $? "no partially written file left behind"
[ ! -e "$T/.velero/$RUID" ]
t_ok $? "no done-file written"
state() { (cd "$T" && find . -printf '%p %y %s %T@\n' | sort); }
state >"$W/state.1"
# Lifting the hold would let a restore thread that was still running go on; none is.
rm -f "$HOLD"
grep -q "pvr cairn/p1 canceled" "$W/agent.log"
t_ok $? "the agent logs the cancel"
[ "$(field "$API/podvolumerestores/p1" '.status.completionTimestamp != null')" = true ]
t_ok $? "completion time recorded"
# restore-wait logs once a second what it waits for: two more lines show it still waits.
RW=$W/hp1/$PU/restore-wait-root.log
lines() { grep -c "waiting for" "$RW" 2>/dev/null; }
n0=$(lines)
more() { [ "$(lines)" -ge $((n0 + 2)) ]; }
t_wait 60 more
t_ok $? "restore-wait is still waiting for the volume after the cancel"
[ "$(field /api/v1/namespaces/app/pods/db '.status.phase')" = Pending ] &&
	[ "$(field /api/v1/namespaces/app/pods/db '.status.initContainerStatuses[0].state.running != null')" = true ]
t_ok $? "restore-wait has not exited (the pod is Pending, its app containers not started)"
state >"$W/state.2"
cmp -s "$W/state.1" "$W/state.2"
t_ok $? "the agent wrote nothing into the volume after Canceled" ||
	diff "$W/state.1" "$W/state.2" | head -n 10 | sed 's/^/#   /'
t_done
