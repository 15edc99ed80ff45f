#!/bin/bash
# shellcheck disable=SC2015 # ok and not_ok always succeed: A && ok || not_ok is safe
# The node agent is safe on a shared cluster: against the schema-enforcing API double
# loaded with cairn's CRDs and Velero-like velero.io CRDs and in-flight objects,
# - an agent start touches neither Velero's objects (not one request to velero.io) nor
#   cairn objects of other nodes; it resumes its own Accepted PVB and fails its own
#   InProgress one with a message saying why;
# - connection resets and 503s on the final status write are retried until Completed;
# - a 422 on the claim gives one Failed with the server's reason; a 422 that never ends
#   gives a bounded number of requests, not a loop;
# - an in-tree PV migrated to CSI is read from <pv>/mount, not from the CSI parent;
# - a wrong kubelet pods folder stops the agent at start with a message naming a pod.
set -u
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$TOP_SRCDIR/tests/e2e/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W"
export CAIRN_PASSWORD=e2e-agent-password
REPO=$W/repo
NS=cairn
API=/apis/cairn.dev/v1alpha1/namespaces/$NS
AGENT_PID=""

cleanup() {
	[ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
	if [ "$T_FAILED" -ne 0 ]; then
		echo "# agent log:"
		tail -n 30 "$W/agent.log" 2>/dev/null | sed 's/^/#   /'
	fi
	ka_cleanup
}
t_on_exit cleanup
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml \
	"$KA_HOME/fixtures/velero.yaml"

obj() { kcurl "$1" 2>/dev/null; }
field() { obj "$API/podvolumebackups/$1" | jq_py "$2" 2>/dev/null; }
phase() { field "$1" 'd.get("status", {}).get("phase", "")'; }
rv() { obj "$1" | jq_py 'd["metadata"]["resourceVersion"]'; }
wait_phase() { # NAME PHASE...: up to a 120 s deadline (each poll starts python)
	local end=$((SECONDS + 120))
	name=$1
	shift
	while :; do
		p=$(phase "$name")
		for want in "$@"; do [ "$p" = "$want" ] && return 0; done
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.1
	done
	t_note "$name stayed in phase '$p' (wanted $*)"
	return 1
}
mkpvb() { python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb "$1" app "$2" "$3"; }
mkbackup() { python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup "$1" >/dev/null; }
set_status() { # NAME JSON: what an earlier agent process left behind
	kcurl "$API/podvolumebackups/$1/status" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' -d "{\"status\": $2}" >/dev/null
}
inject() { kcurl /_test/inject -X POST -d "$1" >/dev/null; }
start_agent() { # HOST-PODS
	"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$1" --namespace $NS \
		--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --concurrency 2 \
		--progress-interval 1 --threads 1 >>"$W/agent.log" 2>&1 &
	AGENT_PID=$!
}

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_namespace app
kc create -f - >/dev/null <<'EOF2'
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: ebs.csi.aws.com}
spec: {}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-mig
  annotations: {pv.kubernetes.io/provisioned-by: kubernetes.io/aws-ebs, pv.kubernetes.io/migrated-to: ebs.csi.aws.com}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  awsElasticBlockStore: {volumeID: vol-1}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cm, namespace: app}
spec: {accessModes: [ReadWriteOnce], volumeName: pv-mig, resources: {requests: {storage: 1Gi}}}
EOF2
U1=$(ka_pod p1 n1 '[{name: cache, emptyDir: {}}, {name: mig, persistentVolumeClaim: {claimName: cm}}]')
ka_pod p2 n2 '[{name: cache, emptyDir: {}}]' >/dev/null
# p1 runs: the agent's start-up check looks for its folder.
kcurl "/api/v1/namespaces/app/pods/p1/status" -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Running"}}' >/dev/null
V=$W/hp/$U1/volumes/kubernetes.io~empty-dir/cache
mkdir -p "$V" "$W/hp/$U1/volumes/kubernetes.io~csi/pv-mig/mount" "$W/hp-wrong"
echo "small file" >"$V/a.txt"
echo "migrated volume data" >"$W/hp/$U1/volumes/kubernetes.io~csi/pv-mig/mount/data.txt"
echo '{"driverName":"ebs.csi.aws.com"}' >"$W/hp/$U1/volumes/kubernetes.io~csi/pv-mig/vol_data.json"

# --- a wrong host path stops the agent at start -----------------------------------------
start_agent "$W/hp-wrong"
wait "$AGENT_PID"
rc=$?
AGENT_PID=""
t_cmd "agent with a wrong kubelet pods folder exits non-zero ($rc)" test "$rc" -ne 0
grep -q "running pod app/p1 has no folder" "$W/agent.log" && t_pass "its error names the pod" ||
	t_fail "no error naming app/p1: $(tail -n 2 "$W/agent.log")"

# --- leftovers of an earlier process; Velero's objects -----------------------------------
mkbackup old
ACC=$(mkpvb old p1 cache)
INP=$(mkpvb old p1 cache)
OTHER=$(mkpvb old p2 cache)
set_status "$ACC" '{"phase":"Accepted"}'
set_status "$INP" '{"phase":"InProgress","startTimestamp":"2024-01-01T00:00:00Z"}'
set_status "$OTHER" '{"phase":"InProgress","startTimestamp":"2024-01-01T00:00:00Z"}'
VP=/apis/velero.io/v1/namespaces/$NS
RV_VI=$(rv "$VP/podvolumebackups/vel-inflight")
RV_VN=$(rv "$VP/podvolumebackups/vel-new")
RV_VB=$(rv "$VP/backupstoragelocations/default")
RV_OTHER=$(rv "$API/podvolumebackups/$OTHER")
kcurl "/_test/requests?clear=1" >/dev/null

start_agent "$W/hp"
t_cmd "its own Accepted PVB is resumed to Completed" wait_phase "$ACC" Completed
t_cmd "its own InProgress PVB is failed" wait_phase "$INP" Failed
field "$INP" 'd["status"]["message"]' | grep -q "restarted while this backup was InProgress" &&
	t_pass "with a message that says why" || t_fail "message: $(field "$INP" 'd["status"]')"
grep -q "accepted again after a restart" "$W/agent.log" && t_pass "the resume is logged" ||
	t_fail "resume not logged"

# --- migrated in-tree PV -----------------------------------------------------------------
mkbackup mig
MIG=$(mkpvb mig p1 mig)
t_cmd "CSI-migrated PV backed up" wait_phase "$MIG" Completed
field "$MIG" 'd["status"]["path"]' | grep -q "kubernetes.io~csi/pv-mig/mount$" &&
	t_pass "from <pv>/mount, not the CSI parent" || t_fail "path: $(field "$MIG" 'd["status"]')"
kcurl "/_test/requests" | jq_py '[r["path"] for r in d["items"] if "csidrivers" in r["path"]]' |
	grep -q csidrivers && t_pass "CSIDrivers listed to decide it" || t_fail "no CSIDriver list"

# --- transient errors on the final write ---------------------------------------------------
inject '{"code": 0, "reset": true, "method": "PUT", "path": "podvolumebackups/t503-.*/status$", "body": "\"phase\": *\"Completed\"", "count": 2}'
inject '{"code": 503, "reason": "ServiceUnavailable", "message": "etcd leader changed", "method": "PUT", "path": "podvolumebackups/t503-.*/status$", "body": "\"phase\": *\"Completed\"", "count": 3}'
mkbackup t503
T503=$(mkpvb t503 p1 cache)
t_cmd "two resets and three 503s on the final write: still Completed" wait_phase "$T503" Completed
hits=$(kcurl /_test/inject | jq_py 'sum(i.get("hits", 0) for i in d["items"] if "t503" in i["path"])')
t_cmd "all five faults were met and retried ($hits)" test "$hits" = 5
field "$T503" '(d["metadata"].get("finalizers") or [])' | grep -q finalizer &&
	t_fail "finalizer left" || t_pass "finalizer removed after the retried write"

# --- a 422 on the claim: one failure with the reason -----------------------------------------
inject '{"code": 422, "reason": "Invalid", "message": "PodVolumeBackup.cairn.dev is invalid: status.phase: Unsupported value: \"Accepted\"", "method": "PUT", "path": "podvolumebackups/t422-.*/status$", "body": "\"phase\": *\"Accepted\"", "count": 1}'
mkbackup t422
T422=$(mkpvb t422 p1 cache)
t_cmd "a 422 on the claim ends the PVB Failed" wait_phase "$T422" Failed
field "$T422" 'd["status"]["message"]' | grep -q 'Unsupported value: "Accepted"' &&
	t_pass "the message carries the server's reason" || t_fail "message: $(field "$T422" 'd["status"]')"
n=$(grep -c "pvb $NS/$T422 failed" "$W/agent.log")
t_cmd "one failure logged, not a loop ($n)" test "$n" = 1

# A 422 on every write of a PVB: the agent gives up after one claim and one Failed.
inject '{"code": 422, "reason": "Invalid", "message": "always refused", "method": "PUT", "path": "podvolumebackups/tstuck-.*", "count": 1000}'
mkbackup tstuck
TS=$(mkpvb tstuck p1 cache)
t_wait 120 grep -q "pvb $NS/$TS: cannot record phase Failed" "$W/agent.log"
puts() { kcurl /_test/requests | jq_py 'len([r for r in d["items"] if r["method"] == "PUT" and "/'"$TS"'" in r["path"]])'; }
n1=$(puts)
# A later backup completing shows the agent went round its loop many times meanwhile.
mkbackup later
LATER=$(mkpvb later p1 cache)
t_cmd "a later backup completes" wait_phase "$LATER" Completed
n2=$(puts)
t_cmd "a PVB refused for ever costs a bounded number of writes ($n1, then $n2)" \
	test "$n1" -le 4 -a "$n1" = "$n2"
t_cmd "and stays New (nothing recorded)" test "$(phase "$TS")" = ""

# --- nothing of Velero's nor of another node's was touched -----------------------------------
velero=$(kcurl /_test/requests | jq_py '[r["method"] + " " + r["path"] for r in d["items"] if r["path"].startswith("/apis/velero.io")]')
t_cmd "the agent sent no request to velero.io ($velero)" test "$velero" = "[]"
t_cmd "Velero's in-flight PVB untouched" test "$(rv "$VP/podvolumebackups/vel-inflight")" = "$RV_VI"
t_cmd "Velero's New PVB untouched" test "$(rv "$VP/podvolumebackups/vel-new")" = "$RV_VN"
t_cmd "Velero's BackupStorageLocation untouched" \
	test "$(rv "$VP/backupstoragelocations/default")" = "$RV_VB"
t_cmd "another node's InProgress PVB untouched" \
	test "$(rv "$API/podvolumebackups/$OTHER")" = "$RV_OTHER"

port=$(sed -n 's/.*metrics and \/healthz on port \([0-9]*\).*/\1/p' "$W/agent.log" | tail -n 1)
t_cmd "healthz ok while the watch is healthy" sh -c "curl -sf http://127.0.0.1:$port/healthz | grep -q ok"
kill "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=""
t_done
