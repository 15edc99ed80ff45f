#!/bin/bash
# End to end, restores: the API-server double with cairn's CRDs, the kubelet simulator
# (tests/kubeapi/kubelet.py) for node n1, a real `cairn agent` and `cairn controller`.
# Three claim volumes backed up, their pod deleted, then restored into new claims in a
# mapped namespace (byte- and metadata-identical, helper pods gone, claims Bound); a
# Velero-style pod whose restore-wait init container holds it until every done-file
# exists; a damaged pack making the Restore PartiallyFailed with the file named; an
# agent restart in the middle of a restore.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
ka_suite_env hp1 pv

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

start_agent() {
	"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
		--metrics-address 127.0.0.1:0 --concurrency 3 --progress-interval 1 --threads 2 \
		>>"$W/agent.log" 2>&1 &
	echo $! >"$W/agent.pid"
}
"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
ka_node1 "$W"
ka_db_claims 2Gi "app: db" a b c
t_wait 60 is_running app db
t_ok $? "kubelet simulator: claims bound, pod scheduled and Running"
ka_agent_pod_ready "$W/hp1"

DBUID=$(field /api/v1/namespaces/app/pods/db .metadata.uid)
for v in a b c; do
	d=$W/hp1/$DBUID/volumes/kubernetes.io~local-volume/$(pv_of app data-$v)
	mkdir -p "$d/sub/deep"
	head -c $((300000 + RANDOM)) /dev/urandom >"$d/data.bin"
	echo "volume $v" >"$d/sub/name.txt"
	ln -s ../data.bin "$d/sub/link"
	truncate -s 5M "$d/sparse" && printf tail >>"$d/sparse"
	chmod 640 "$d/sub/name.txt"
	chmod 750 "$d/sub/deep"
	python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.cairn", b"v")' "$d/data.bin" 2>/dev/null
	touch -d '2021-03-04 05:06:07' "$d/sub/name.txt" "$d/sub/deep" "$d/sub"
done

start_agent
"$CAIRN_BIN" controller --kubeconfig "$KUBECONFIG" -r "$REPO" --metrics-address 127.0.0.1:0 \
	--resync 200ms >>"$W/controller.log" 2>&1 &
echo $! >"$W/controller.pid"

ka_cairn_obj Backup b1 "includedNamespaces: [app], defaultVolumesToFsBackup: true"
phase_is() { [ "$(field "$API/$1" '.status.phase // ""')" = "$2" ]; }
t_wait 120 phase_is backups/b1 Completed
t_ok $? "backup of the three claim volumes Completed" || {
	t_note "$(obj "$API/backups/b1")"
	t_bail "no backup to restore"
}
snap=$("$CAIRN_BIN" -r "$REPO" snapshots --json 2>/dev/null | jq -r '[.[] | .tags[] | select(startswith("pvc-spec="))] | length')
[ "$snap" = 3 ]
t_ok $? "each snapshot carries the claim's spec as a tag (pvc-spec=...)"
declare -A OLDPV
for v in a b c; do OLDPV[$v]=$(pv_of app data-$v); done

# ---- flow 1: the pod is gone; restore into new claims in a mapped namespace ----
kc delete pod -n app db >/dev/null
gone() { [ ! -e "$W/hp1/$DBUID" ] && [ -d "$W/pv/${OLDPV[c]}" ]; }
t_wait 30 gone
t_ok $? "pod deleted: its claims' data back in their PV folders"
ka_cairn_obj Restore r1 "backupName: b1, namespaceMapping: {app: restored}, storageClassName: slow"
ka_namespace restored
t_wait 120 phase_is restores/r1 Completed
t_ok $? "Restore r1 Completed" || t_note "$(obj "$API/restores/r1")"
ok=0
for v in a b c; do
	pvc=/api/v1/namespaces/restored/persistentvolumeclaims/data-$v
	[ "$(field $pvc .status.phase)" = Bound ] && [ "$(field $pvc .spec.storageClassName)" = slow ] &&
		[ "$(field $pvc '.spec.resources.requests.storage')" = 2Gi ] &&
		[ "$(field $pvc '.metadata.labels.app')" = db ] || ok=1
done
t_ok $ok "claims data-a/b/c re-created in 'restored': Bound, size and labels as recorded, class overridden"
helpers() { [ "$(obj /api/v1/namespaces/restored/pods | jq '.items | length')" = 0 ]; }
t_wait 30 helpers
t_ok $? "helper pods deleted once the data is in"
pvrs=$(obj "$API/podvolumerestores" | jq -r '[.items[] | .status.phase + "@" + .status.node] | sort | join(",")')
[ "$pvrs" = "Completed@n1,Completed@n1,Completed@n1" ]
t_ok $? "three PodVolumeRestores Completed on n1 ($pvrs)"
R1UID=$(field "$API/restores/r1" .metadata.uid)
for v in a b c; do
	new=$W/pv/$(pv_of restored data-$v)
	[ -f "$new/.velero/$R1UID" ]
	t_ok $? "volume $v: done-file .velero/<restore-uid> written"
	rm -rf "$new/.velero" # the helper's restore-wait was not run to remove it
	t_same "volume $v: byte- and metadata-identical to the backed-up one" --no-atime \
		$(t_owner_opt) --ignore-root-times "$W/pv/${OLDPV[$v]}" "$new"
done

# ---- flow 2: Velero's way, a pod with the restore-wait init container ----
ka_cairn_obj Restore r2 "backupName: b1, namespaceMapping: {app: app2}, restorePVCs: false"
ka_namespace app2
R2UID=$(field "$API/restores/r2" .metadata.uid)
for v in a b c; do
	kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-$v, namespace: app2}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
EOF
done
kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app2}
spec:
  initContainers:
  - name: restore-wait
    image: cairn
    command: [cairn, restore-wait, "$R2UID"]
    volumeMounts: [{name: a, mountPath: /restores/a}, {name: b, mountPath: /restores/b}, {name: c, mountPath: /restores/c}]
  containers: [{name: c, image: busybox}]
  volumes:
  - {name: a, persistentVolumeClaim: {claimName: data-a}}
  - {name: b, persistentVolumeClaim: {claimName: data-b}}
  - {name: c, persistentVolumeClaim: {claimName: data-c}}
EOF
t_wait 120 phase_is restores/r2 Completed
t_ok $? "Restore r2 (restore-wait pod) Completed" || t_note "$(obj "$API/restores/r2")"
t_wait 30 is_running app2 db
t_ok $? "the pod's app containers start after restore-wait exits"
grep -q "all 3 volumes restored" "$W/hp1/$(field /api/v1/namespaces/app2/pods/db .metadata.uid)/restore-wait-root.log"
t_ok $? "restore-wait saw all three done-files before it exited"
[ "$(obj /api/v1/namespaces/app2/persistentvolumeclaims | jq '.items | length')" = 3 ]
t_ok $? "no new claim made for a pod that carries restore-wait"
U2=$(field /api/v1/namespaces/app2/pods/db .metadata.uid)
t_same "restore-wait pod: volume a identical" --no-atime $(t_owner_opt) --ignore-root-times \
	"$W/pv/${OLDPV[a]}" "$W/hp1/$U2/volumes/kubernetes.io~local-volume/$(pv_of app2 data-a)"

# ---- an agent restart in the middle of a restore ----
kill -STOP "$(cat "$W/agent.pid")"
ka_cairn_obj Restore r3 "backupName: b1, namespaceMapping: {app: app3}, includedNamespaces: [app]"
ka_namespace app3
three_pvrs() { [ "$(obj "$API/podvolumerestores?labelSelector=cairn.dev%2Frestore-uid%3D$(field "$API/restores/r3" .metadata.uid)" | jq '.items | length')" = 3 ]; }
t_wait 60 three_pvrs
# Mark one as claimed by this node's earlier process, as a kill -9 mid-restore leaves it.
P3=$(obj "$API/podvolumerestores?labelSelector=cairn.dev%2Frestore-uid%3D$(field "$API/restores/r3" .metadata.uid)" | jq -r '.items[0].metadata.name')
kcurl "$API/podvolumerestores/$P3/status" -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"status":{"phase":"InProgress","node":"n1","startTimestamp":"2024-01-01T00:00:00Z"}}' >/dev/null
kill -9 "$(cat "$W/agent.pid")"
start_agent
t_wait 120 phase_is restores/r3 Completed
t_ok $? "after an agent restart the restore it had InProgress runs again and completes"
grep -q "accepted again after a restart" "$W/agent.log"
t_ok $? "the agent log says it resumed the restore"

# ---- a damaged snapshot: PartiallyFailed, the file named ----
big=$(find "$REPO/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d" " -f2)
truncate -s 100 "$big"
ka_cairn_obj Restore r4 "backupName: b1, namespaceMapping: {app: app4}"
ka_namespace app4
ended() { p=$(field "$API/restores/r4" '.status.phase // ""'); [ "$p" = PartiallyFailed ] || [ "$p" = Failed ]; }
t_wait 120 ended
t_ok $? "damaged packs: Restore r4 ended ($(field "$API/restores/r4" .status.phase))"
field "$API/restores/r4" '.status.warningMessages, .status.errorMessages' | grep -q 'data.bin'
t_ok $? "the Restore's status names the file (data.bin)" || t_note "$(obj "$API/restores/r4" | jq -c .status)"
grep -q 'pvr .*data.bin' "$W/agent.log"
t_ok $? "the agent's log names the file"

grep -q "$KA_TOKEN" "$W"/*.log
[ $? -ne 0 ]
t_ok $? "no token in the logs"
t_done
