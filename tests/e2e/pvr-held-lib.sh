# shellcheck shell=bash
# The set-up restore-cancel.sh and restore-resume.sh share (sourced, not run): the API
# double with cairn's CRDs, the kubelet simulator for node n1, a repository with one
# snapshot of 41 files (40 of 64 KiB and one of 8 MiB; a caller's held_src_extra DIR, when
# defined before sourcing, adds its own), an agent whose restore threads the test hook
# CAIRN_TEST_RESTORE_HOLD=$HOLD holds after each finished file (one thread), a pod db
# waiting in its restore-wait init container, and PodVolumeRestore p1 for it, waited for
# until it is InProgress with some files in place. Sets W, REPO, HOLD, API, RUID, SNAP,
# PU (the pod's uid), T (its volume folder) and the functions obj, field, pv_of, phase,
# whole (files in place; a caller may define its own before sourcing).
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kubeapi-lib.sh"
ka_suite_env hp1 pv src/data
if [ -z "${CAIRN_TEST_HOOKS:-}" ]; then
	echo "1..0 # SKIP needs a build with --enable-test-hooks (CAIRN_TEST_RESTORE_HOLD)"
	exit 0
fi
HOLD=$W/hold

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

# The snapshot: 40 files and one of 8 MiB, backed up with `cairn backup` and tagged as
# the agent tags a pod volume's snapshot.
"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
for i in $(seq -w 1 40); do head -c 65536 /dev/urandom >"$W/src/data/f$i"; done
head -c 8M /dev/urandom >"$W/src/data/big"
if declare -F held_src_extra >/dev/null; then held_src_extra "$W/src/data"; fi
"$CAIRN_BIN" -r "$REPO" backup --tag ns=app --tag volume=data "$W/src/data" >/dev/null 2>&1 ||
	t_bail "cairn backup failed"
SNAP=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq -r '.[0].id')

ka_node1 "$W"
kc create -f - >/dev/null <<'EOF'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: app}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
EOF
ka_agent_pod_ready "$W/hp1"
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
ka_pvr p1 db data "$RUID" "$SNAP"
PU=$(field /api/v1/namespaces/app/pods/db .metadata.uid)
T=$W/hp1/$PU/volumes/kubernetes.io~local-volume/$(pv_of app data)
phase() { field "$API/podvolumerestores/p1" '.status.phase // ""'; }
# Files in place; a caller whose snapshot holds dot files defines its own before sourcing.
declare -F whole >/dev/null || whole() { find "$T" -maxdepth 1 -type f ! -name '.*' | wc -l; }
some_in() { [ "$(phase)" = InProgress ] && [ "$(whole)" -ge 1 ]; }
t_wait 60 some_in
t_ok $? "the restore is InProgress with some files in place" ||
	{ find "$W/hp1" -printf "# %p %s\n" | head -n 30; t_bail "the restore did not start: $(obj "$API/podvolumerestores/p1" | jq -c .status)"; }
