#!/bin/bash
# End to end, an agent killed (kill -9) in the middle of a restore: the test hook
# CAIRN_TEST_RESTORE_HOLD (builds with --enable-test-hooks) holds each restore thread
# after it finished a file, so the kill lands with some files in place and the rest not,
# without any timing. The next agent process resumes the PodVolumeRestore it had claimed:
# the volume is not refused as "not empty" (that data is its own), the files finished
# before the kill are kept as they are (same inode: not fetched again), the killed run's
# temporary files are removed, the rest is restored, the PVR ends Completed, restore-wait
# exits and the data is identical.
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
# a name like a temporary one, but the snapshot's own: it must survive the clean-up
echo "mine" >"$W/src/data/.keep.cairn-partial"
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
whole() { find "$T" -maxdepth 1 -type f \( ! -name '*cairn-partial*' -o -name .keep.cairn-partial \) | wc -l; }
some_in() { [ "$(phase)" = InProgress ] && [ "$(whole)" -ge 1 ]; }
t_wait 60 some_in
t_ok $? "the restore is InProgress with some files in place" ||
	{ find "$W/hp1" -printf "# %p %s\n" | head -n 30; t_bail "the restore did not start: $(obj "$API/podvolumerestores/p1" | jq -c .status)"; }

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
