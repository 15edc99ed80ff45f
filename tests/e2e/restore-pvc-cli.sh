#!/bin/bash
# End to end, `cairn kube restore ...`: the set-up of restore-pvc-new.sh (API-server double
# with cairn's CRDs, kubelet simulator for node n1, a real `cairn agent` and `cairn
# controller`), two claim volumes backed up, their pod deleted; then the CLI alone restores
# one of them (by its claim's label) into a new claim in a mapped namespace with `restore
# create --wait` (exit 0, data identical), `get` (table, -o json) shows Completed,
# `describe` names its PodVolumeRestore, `delete` removes it; bad flags exit 2 naming the
# flag, an unknown restore 13, an unreachable API server 17; with a damaged pack --wait
# exits 3 (PartiallyFailed) or 1 (Failed) and names the file.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
ka_suite_env hp1 pv
kube() { "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" "$@"; }

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
ka_node1 "$W"
ka_db_claims 2Gi "app: db" a b
t_wait 60 is_running app db
t_ok $? "kubelet simulator: claims bound, pod scheduled and Running"
ka_agent_pod_ready "$W/hp1"

DBUID=$(field /api/v1/namespaces/app/pods/db .metadata.uid)
for v in a b; do
	d=$W/hp1/$DBUID/volumes/kubernetes.io~local-volume/$(pv_of app data-$v)
	mkdir -p "$d/sub/deep"
	head -c $((300000 + RANDOM)) /dev/urandom >"$d/data.bin"
	echo "volume $v" >"$d/sub/name.txt"
	ln -s ../data.bin "$d/sub/link"
	truncate -s 5M "$d/sparse" && printf tail >>"$d/sparse"
	chmod 640 "$d/sub/name.txt"
	touch -d '2021-03-04 05:06:07' "$d/sub/name.txt" "$d/sub/deep" "$d/sub"
done

"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
	--metrics-address 127.0.0.1:0 --concurrency 2 --progress-interval 1 --threads 2 \
	>>"$W/agent.log" 2>&1 &
echo $! >"$W/agent.pid"
"$CAIRN_BIN" controller --kubeconfig "$KUBECONFIG" -r "$REPO" --metrics-address 127.0.0.1:0 \
	--resync 200ms >>"$W/controller.log" 2>&1 &
echo $! >"$W/controller.pid"

run kube backup create b1 --include-namespaces app --default-volumes-to-fs-backup --wait
t_rc 0 "backup of the two claim volumes Completed (kube backup create --wait)" ||
	t_bail "no backup to restore"
declare -A OLDPV
for v in a b; do OLDPV[$v]=$(pv_of app data-$v); done
kc delete pod -n app db >/dev/null
gone() { [ ! -e "$W/hp1/$DBUID" ] && [ -d "$W/pv/${OLDPV[a]}" ]; }
t_wait 30 gone
t_ok $? "pod deleted: its claims' data back in their PV folders"

# ---- refusals before anything is made ----
run kube restore create r1 --from-bakup b1
t_rc 2 "a misspelt flag exits 2"
grep -q -- '--from-backup' "$ERR"
t_ok $? "... naming the nearest flag (--from-backup)" || t_diag "$ERR"
run kube restore create r1 --from-backup b1 --namespace-mappings app
t_rc 2 "--namespace-mappings without OLD:NEW exits 2"
run kube restore create r1 --from-backup b1 --to-pvc app/data-a
t_rc 2 "--to-pvc without --volume exits 2"
run kube restore create r1 --from-backup b1 --ttl 1h
t_rc 2 "a backup-only flag on restore create exits 2"
grep -q -- '--ttl' "$ERR"
t_ok $? "... naming it" || t_diag "$ERR"
run kube backup create bx --from-backup b1
t_rc 2 "a restore-only flag on backup create exits 2"
run kube restore create r1
t_rc 2 "restore create without --from-backup exits 2"
[ "$(obj "$API/restores" | jq '.items | length')" = 0 ]
t_ok $? "no Restore made by a refused command"
run kube restore get nope
t_rc 13 "restore get of an unknown restore exits 13"
run kube restore describe nope
t_rc 13 "restore describe of an unknown restore exits 13"
sed -E 's#(server: *https://[^:]+:)[0-9]+#\11#' "$KUBECONFIG" >"$W/dead.kubeconfig"
run "$CAIRN_BIN" kube --kubeconfig "$W/dead.kubeconfig" restore get
t_rc 17 "an unreachable API server exits 17"

# ---- one volume (claim label vol=a) into a new claim in a mapped namespace ----
ka_namespace restored
run kube restore create r1 --from-backup b1 --namespace-mappings app:restored --selector vol=a \
	--storage-class slow --pvc-size 3Gi --wait
t_rc 0 "restore create --wait exits 0" || t_note "$(obj "$API/restores/r1")"
grep -q 'Restore "r1" Completed' "$OUT"
t_ok $? "... and says Completed" || t_diag "$OUT"
[ "$(field "$API/restores/r1" '.spec | [.backupName, .namespaceMapping.app, .labelSelector.matchLabels.vol, .storageClassName, .pvcSize] | join(",")')" = "b1,restored,a,slow,3Gi" ]
t_ok $? "the Restore's spec carries the flags" || t_note "$(obj "$API/restores/r1" | jq -c .spec)"
pvc=/api/v1/namespaces/restored/persistentvolumeclaims/data-a
[ "$(field $pvc .status.phase)" = Bound ] && [ "$(field $pvc .spec.storageClassName)" = slow ] &&
	[ "$(field $pvc '.spec.resources.requests.storage')" = 3Gi ]
t_ok $? "claim data-a made in 'restored': Bound, class and size overridden"
[ "$(obj /api/v1/namespaces/restored/persistentvolumeclaims | jq '.items | length')" = 1 ]
t_ok $? "only the selected claim restored"
new=$W/pv/$(pv_of restored data-a)
R1UID=$(field "$API/restores/r1" .metadata.uid)
rm -rf "$new/.velero" # the done-file; the helper's restore-wait was not run to remove it
t_same "restored volume byte- and metadata-identical to the backed-up one" --no-atime \
	$(t_owner_opt) --ignore-root-times "$W/pv/${OLDPV[a]}" "$new"

run kube restore get r1 -o json
t_rc 0 "restore get r1 -o json exits 0"
[ "$(jq -r '.metadata.name + ":" + .status.phase' "$OUT")" = r1:Completed ]
t_ok $? "... and shows it Completed" || t_diag "$OUT"
run kube restore get -o json
[ "$RC" = 0 ] && [ "$(jq -r '[.[] | .metadata.name] | join(",")' "$OUT")" = r1 ]
t_ok $? "restore get -o json lists the restores" || t_diag "$OUT"
run kube restore get
[ "$RC" = 0 ] && head -n 1 "$OUT" | grep -q '^NAME  *BACKUP  *STATUS' &&
	grep -Eq '^r1 +b1 +Completed +0 +0 .* 1/1$' "$OUT"
t_ok $? "restore get: the table (r1, b1, Completed, 1/1 volumes)" || t_diag "$OUT"

PVR=$(obj "$API/podvolumerestores?labelSelector=cairn.dev%2Frestore-uid%3D$R1UID" | jq -r '.items[] | .metadata.name')
[ -n "$PVR" ] && [ "$(echo "$PVR" | wc -l)" = 1 ]
t_ok $? "one PodVolumeRestore for r1 ($PVR)"
[ "$(field "$API/podvolumerestores/$PVR" '.spec | has("writeSparseFiles")')" = false ]
t_ok $? "without --no-sparse the PodVolumeRestore leaves writeSparseFiles to the agent"
run kube restore describe r1
[ "$RC" = 0 ] && grep -q '^Phase: *Completed' "$OUT" &&
	grep -Eq "^  $PVR +restored/[^ ]+/a +Completed +[1-9][0-9]* " "$OUT"
t_ok $? "restore describe names the PodVolumeRestore, its volume, phase and bytes" ||
	t_diag "$OUT"
run kube restore describe r1 -o json
[ "$(jq -r '.podVolumeRestores[0].metadata.name' "$OUT")" = "$PVR" ]
t_ok $? "restore describe -o json carries podVolumeRestores" || t_diag "$OUT"

run kube restore delete r1
t_rc 0 "restore delete exits 0"
run kube restore get r1
t_rc 13 "... and the restore is gone (get exits 13)"

# ---- a damaged snapshot: --wait's exit follows the phase, the files named ----
big=$(find "$REPO/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d" " -f2)
truncate -s 100 "$big"
ka_namespace app4
run kube restore create r4 --from-backup b1 --namespace-mappings app:app4 --no-sparse --wait
P4=$(field "$API/restores/r4" .status.phase)
{ [ "$P4" = PartiallyFailed ] && [ "$RC" = 3 ]; } || { [ "$P4" = Failed ] && [ "$RC" = 1 ]; }
t_ok $? "damaged packs: --wait exits 3 for PartiallyFailed, 1 for Failed ($P4, exit $RC)" ||
	t_diag "$ERR"
grep -q 'data.bin' "$ERR"
t_ok $? "... naming the file not restored (data.bin) on stderr" || t_diag "$ERR"
R4UID=$(field "$API/restores/r4" .metadata.uid)
[ "$(field "$API/restores/r4" .spec.writeSparseFiles)" = false ] &&
	[ "$(obj "$API/podvolumerestores?labelSelector=cairn.dev%2Frestore-uid%3D$R4UID" |
		jq '[.items[] | .spec.writeSparseFiles == false] | length > 0 and all')" = true ]
t_ok $? "--no-sparse: the Restore and each of its PodVolumeRestores say writeSparseFiles false"

# ---- a volume the backup never finished: named as not restored, never counted done ----
# On a node without an agent, so its PodVolumeBackup stays New.
ka_pod ghost n9 '[{name: gv, emptyDir: {}}]' >/dev/null
python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb b1 app ghost gv >/dev/null
ka_namespace app5
run kube restore create r5 --from-backup b1 --namespace-mappings app:app5 --wait
P5=$(field "$API/restores/r5" .status.phase)
{ [ "$P5" = PartiallyFailed ] && [ "$RC" = 3 ]; } || { [ "$P5" = Failed ] && [ "$RC" = 1 ]; }
t_ok $? "a volume without a snapshot: the Restore is not Completed ($P5, exit $RC)"
field "$API/restores/r5" '.status.errorMessages[]' | grep -q "app/ghost volume gv: not restored: its backup is New"
t_ok $? "... and its status names that volume" || t_note "$(obj "$API/restores/r5" | jq -c .status)"
grep -q "$KA_TOKEN" "$W"/*.log
[ $? -ne 0 ]
t_ok $? "no token in the logs"
t_done
