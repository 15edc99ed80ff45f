#!/bin/bash
# End to end, an agent killed (kill -9) in the middle of a restore: the test hook
# CAIRN_TEST_RESTORE_HOLD (builds with --enable-test-hooks) holds each restore thread
# after it finished a file, so the kill lands with some files in place and the rest not,
# without any timing. The next agent process resumes the PodVolumeRestore it had claimed:
# the volume is not refused as "not empty" (that data is its own), the files finished
# before the kill are kept as they are (same inode: not fetched again), the killed run's
# temporary files are removed, the rest is restored, the PVR ends Completed, restore-wait
# exits and the data is identical.
# A name like a temporary one, but the snapshot's own: it must survive the clean-up.
held_src_extra() { echo "mine" >"$1/.keep.cairn-partial"; }
whole() { find "$T" -maxdepth 1 -type f \( ! -name '*cairn-partial*' -o -name .keep.cairn-partial \) | wc -l; }
# shellcheck source=tests/e2e/pvr-held-lib.sh
. "$(dirname "$0")/pvr-held-lib.sh"

ids() { (cd "$T" && find . -maxdepth 1 -type f \( ! -name '*cairn-partial*' -o -name .keep.cairn-partial \) -printf '%p %i\n' | sort); }
ids >"$W/ids.1"
kill -9 "$(cat "$W/agent.pid")"
t_wait 30 sh -c "! kill -0 $(cat "$W/agent.pid") 2>/dev/null"
rm -f "$HOLD"
"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
	--metrics-address 127.0.0.1:0 --progress-interval 1 --threads 1 >>"$W/agent.log" 2>&1 &
echo $! >"$W/agent.pid"
done_ok() { [ "$(phase)" = Completed ]; }
t_wait 120 done_ok
t_ok $? "the restarted agent resumes the restore and it Completes" ||
	t_note "$(obj "$API/podvolumerestores/p1" | jq -c .status)"
grep -q "accepted again after a restart" "$W/agent.log"
t_ok $? "the agent log says it resumed"
grep -q "pvr cairn/p1: [0-9]* partly written files of the interrupted run removed" "$W/agent.log"
t_ok $? "the interrupted run's temporary files are removed (and the log says so)"
[ -z "$(find "$T" -name '*cairn-partial*' ! -name .keep.cairn-partial -print -quit)" ]
t_ok $? "no temporary file left in the volume"
[ "$(cat "$T/.keep.cairn-partial")" = mine ]
t_ok $? "the snapshot's own file named like a temporary one is kept"
ids >"$W/ids.2"
kept=$(join "$W/ids.1" "$W/ids.2" | awk '$2 == $3' | wc -l)
[ "$kept" -eq "$(wc -l <"$W/ids.1")" ]
t_ok $? "the $kept files finished before the kill were kept, not written again"
running() { [ "$(field /api/v1/namespaces/app/pods/db '.status.phase')" = Running ]; }
t_wait 60 running
t_ok $? "restore-wait exits: the pod runs"
t_same "the volume is identical to the backed-up folder" --no-atime $(t_owner_opt) \
	--ignore-root-times "$W/src/data" "$T"
t_done
