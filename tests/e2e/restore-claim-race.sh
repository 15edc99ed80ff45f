#!/bin/bash
# End to end, the claim of a PodVolumeRestore: two agents serving the same node (as during
# a rolling update of the daemon set) both see a new PVR whose helper pod is ready, and the
# test hook CAIRN_TEST_CLAIM_HOLD (builds with --enable-test-hooks) holds each just before
# its claim until both are there, so both claim the same version of the object at once.
# Exactly one of them restores; the other says it lost and writes nothing; the PVR ends
# Completed with the data and the done-file in place.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
ka_suite_env hp1 pv src/data
if [ -z "${CAIRN_TEST_HOOKS:-}" ]; then
	echo "1..0 # SKIP needs a build with --enable-test-hooks (CAIRN_TEST_CLAIM_HOLD)"
	exit 0
fi
HOLD=$W/hold

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
for i in $(seq -w 1 20); do head -c $((4096 * 10#$i)) /dev/urandom >"$W/src/data/f$i"; done
"$CAIRN_BIN" -r "$REPO" backup --tag ns=app --tag volume=data "$W/src/data" >/dev/null 2>&1 ||
	t_bail "cairn backup failed"
SNAP=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq -r '.[0].id')

ka_node1 "$W"
ka_restore_helper data h
t_wait 60 is_running cairn cairn-node-agent-n1 || t_bail "the agent's pod did not start"
mkdir -p "$W/hp1/$(field /api/v1/namespaces/cairn/pods/cairn-node-agent-n1 .metadata.uid)"
t_wait 60 is_running app h
t_ok $? "the helper pod runs" || t_bail "no helper pod"

: >"$HOLD"
for a in a b; do
	CAIRN_TEST_CLAIM_HOLD=$HOLD "$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" \
		--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --progress-interval 1 \
		>"$W/agent-$a.log" 2>&1 &
	echo $! >"$W/agent-$a.pid"
done
RUID=5d0f6a1e-0000-4000-8000-00000000c1a1
ka_pvr p1 h data "$RUID" "$SNAP"
held() { grep -q "pvr cairn/p1: claim held" "$W/agent-$1.log"; }
both_held() { held a && held b; }
t_wait 60 both_held
t_ok $? "both agents reach the claim of the same PodVolumeRestore" ||
	t_bail "not both at the claim: $(obj "$API/podvolumerestores/p1" | jq -c .status)"
phase() { field "$API/podvolumerestores/p1" '.status.phase // "New"'; }
[ "$(phase)" = New ]
t_ok $? "nothing is claimed while both are held"
rm -f "$HOLD"
ended() { case $(phase) in Completed | PartiallyFailed | Failed | Canceled) return 0 ;; esac; return 1; }
t_wait 120 ended
[ "$(phase)" = Completed ]
t_ok $? "the PodVolumeRestore ends Completed" ||
	t_note "$(obj "$API/podvolumerestores/p1" | jq -c .status)"
# The loser's claim ended before the winner's Completed (its GET saw the winner's write);
# the watch events after it never start another restore: wait out a few idle ticks.
sleep 2
n=$(cat "$W/agent-a.log" "$W/agent-b.log" | grep -c "pvr cairn/p1: accepted")
[ "$n" = 1 ]
t_ok $? "exactly one agent claims it ($n did)"
n=$(cat "$W/agent-a.log" "$W/agent-b.log" | grep -c "pvr cairn/p1: restoring snapshot")
[ "$n" = 1 ]
t_ok $? "exactly one agent restores ($n did)"
n=$(cat "$W/agent-a.log" "$W/agent-b.log" | grep -c "pvr cairn/p1: another agent claimed it first")
[ "$n" = 1 ]
t_ok $? "the other one says it lost the claim ($n said so)"
! grep -q "pvr cairn/p1 failed" "$W/agent-a.log" "$W/agent-b.log"
t_ok $? "neither agent fails it"
[ "$(field "$API/podvolumerestores/p1" .status.node)" = n1 ]
t_ok $? "status.node names the node"
PU=$(field /api/v1/namespaces/app/pods/h .metadata.uid)
PV=$(field /api/v1/namespaces/app/persistentvolumeclaims/data .spec.volumeName)
T=$W/hp1/$PU/volumes/kubernetes.io~local-volume/$PV
diff -r --exclude=.velero "$W/src/data" "$T" >/dev/null
t_ok $? "the volume holds the snapshot's files"
[ -e "$T/.velero/$RUID" ]
t_ok $? "the done-file is there"
t_done
