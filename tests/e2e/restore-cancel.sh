#!/bin/bash
# End to end, cancel: a PodVolumeRestore for a pod waiting in its restore-wait init
# container is canceled (spec.cancel, as `cairn kube restore` and the controller set it)
# while the agent is in the middle of it. The test hook CAIRN_TEST_RESTORE_HOLD (builds
# with --enable-test-hooks) holds each restore thread after it finished a file, so with
# more files than threads the restore is stopped mid-way without any timing: some files
# are in place, the rest are not. The PVR ends Canceled, the agent writes nothing more
# (not after the hold is lifted either; no partial files left), no done-file appears and
# restore-wait keeps waiting (the pod's app containers never start).
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
t_need
command -v kubectl >/dev/null || t_require kubectl "tests/kubeapi/deps.sh" false
if [ -z "${CAIRN_TEST_HOOKS:-}" ]; then
	echo "1..0 # SKIP needs a build with --enable-test-hooks (CAIRN_TEST_RESTORE_HOLD)"
	exit 0
fi
W=$T_TMP/w
mkdir -p "$W/hp1" "$W/pv" "$W/src/data"
export CAIRN_PASSWORD=$T_PASS
REPO=$W/repo
HOLD=$W/hold
API=/apis/cairn.dev/v1alpha1/namespaces/cairn
kc() { kubectl $KUBECTL_VALIDATE "$@"; }
obj() { kcurl "$1" 2>/dev/null; }
field() { obj "$1" | jq -r "$2" 2>/dev/null; }
pv_of() { field "/api/v1/namespaces/$1/persistentvolumeclaims/$2" '.spec.volumeName // ""'; }

stop_all() {
	for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	if [ "$T_FAILED" -ne 0 ]; then
		for l in "$W"/*.log; do
			echo "# $l:"
			tail -n 30 "$l" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	ka_cleanup
}
t_on_exit stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

# The snapshot: 40 files and one of 8 MiB, backed up with `cairn backup` and tagged as
# the agent tags a pod volume's snapshot.
"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
for i in $(seq -w 1 40); do head -c 65536 /dev/urandom >"$W/src/data/f$i"; done
head -c 8M /dev/urandom >"$W/src/data/big"
"$CAIRN_BIN" -r "$REPO" backup --tag ns=app --tag volume=data "$W/src/data" >/dev/null 2>&1 ||
	t_bail "cairn backup failed"
SNAP=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq -r '.[0].id')

python3 "$KA_HOME/kubelet.py" --dir "$KA_DIR" --node "n1=$W/hp1" --pv-root "$W/pv" \
	--cairn "$CAIRN_BIN" >"$W/kubelet.log" 2>&1 &
echo $! >"$W/kubelet.pid"
kc create -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: default, namespace: cairn}
spec: {default: true, objectStorage: {bucket: bucket}}
---
apiVersion: v1
kind: Pod
metadata: {name: cairn-node-agent-n1, namespace: cairn, labels: {name: cairn-node-agent}}
spec: {nodeName: n1, containers: [{name: agent, image: cairn}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: app}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
EOF
mkdir -p "$W/hp1/$(field /api/v1/namespaces/cairn/pods/cairn-node-agent-n1 .metadata.uid)"
kcurl /api/v1/namespaces/cairn/pods/cairn-node-agent-n1/status -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Running"}}' >/dev/null
: >"$HOLD"
CAIRN_TEST_RESTORE_HOLD=$HOLD "$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" \
	--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --progress-interval 1 --threads 1 \
	>>"$W/agent.log" 2>&1 &
echo $! >"$W/agent.pid"

RUID=5d0f6a1e-0000-4000-8000-00000000c0c0
kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app}
spec:
  initContainers:
  - name: restore-wait
    image: cairn
    command: [cairn, restore-wait, "$RUID"]
    volumeMounts: [{name: data, mountPath: /restores/data}]
  containers: [{name: c, image: busybox}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data}}
EOF
waiting() { [ "$(field /api/v1/namespaces/app/pods/db '.status.initContainerStatuses[0].state.running != null')" = true ]; }
t_wait 60 waiting
t_ok $? "the pod waits in its restore-wait init container" || t_bail "no waiting pod"
kc create -f - >/dev/null <<EOF
apiVersion: cairn.dev/v1alpha1
kind: PodVolumeRestore
metadata: {name: p1, namespace: cairn, labels: {cairn.dev/restore-uid: "$RUID"}}
spec:
  pod: {kind: Pod, namespace: app, name: db}
  volume: data
  snapshotID: "$SNAP"
  backupStorageLocation: default
  sourceNamespace: app
EOF
PU=$(field /api/v1/namespaces/app/pods/db .metadata.uid)
T=$W/hp1/$PU/volumes/kubernetes.io~local-volume/$(pv_of app data)
phase() { field "$API/podvolumerestores/p1" '.status.phase // ""'; }
whole() { find "$T" -maxdepth 1 -type f ! -name '.*' | wc -l; }
some_in() { [ "$(phase)" = InProgress ] && [ "$(whole)" -ge 1 ]; }
t_wait 60 some_in
t_ok $? "the restore is InProgress with some files in place" ||
	{ find "$W/hp1" -printf "# %p %s\n" | head -n 30; t_bail "the restore did not start: $(obj "$API/podvolumerestores/p1" | jq -c .status)"; }

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
