#!/bin/bash
# shellcheck disable=SC2015 # ok and t_fail always succeed: A && ok || t_fail is safe
# End to end: the API-server double with cairn's CRDs, real `cairn agent`s for simulated
# nodes n1 and n2 (n3 has an agent pod object but no process), one local repository and
# `cairn controller` on an injected clock. Opt-in and opt-out selection with the skip
# warnings, fail-fast without an agent, a ReadOnly location refused at once, a controller
# restart mid-backup, a timeout keeping finished volumes, a schedule firing once per due
# run, TTL expiry forgetting snapshots, and DR sync into a second API double.
export CAIRN_PASSWORD=e2e-controller-password
# shellcheck source=tests/e2e/ctl-lib.sh
. "$(dirname "$0")/ctl-lib.sh"
# Schedules, timeouts and TTL run on the injected clock, which only test builds honour.
ctl_clock "controller end to end"
KA2=""
stop_ka2() { [ -z "$KA2" ] || { "$KA_HOME/stop.sh" "$KA2" && rm -rf "$KA2"; }; }
t_on_exit stop_ka2

wait_backup() { # NAME PHASE...
	wait_for 90 phase_in "$@" || { t_note "backup $1 is '$(bphase "$1")' (wanted ${*#"$1"})"; return 1; }
}
set_clock() { echo "$1" >"$CLOCK"; }

start_agent() { # N
	"$CAIRN_BIN" -r "$REPO" agent --node "n$1" --host-pods "$W/hp$1" \
		--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --concurrency 2 \
		--progress-interval 1 --threads 1 >>"$W/agent$1.log" 2>&1 &
	echo $! >"$W/agent$1.pid"
}
start_controller() { # KUBECONFIG LOG PIDFILE
	"$CAIRN_BIN" -r "$REPO" controller --kubeconfig "$1" \
		--metrics-address 127.0.0.1:0 --resync 200ms --validation-interval 1s \
		--sync-interval 1s >>"$2" 2>&1 &
	echo $! >"$3"
}
# app_pod NS NAME NODE ANNOTATIONS-FLOW VOLUMES-FLOW MOUNTS-FLOW [PHASE]
app_pod() {
	kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $2, namespace: $1, annotations: $4}
spec:
  nodeName: $3
  containers: [{name: c, image: busybox, volumeMounts: $6}]
  volumes: $5
EOF
	[ "${7:-Running}" = Running ] && running "/api/v1/namespaces/$1/pods/$2"
	kc get pod -n "$1" "$2" -o jsonpath='{.metadata.uid}'
}
fill() { # HOST-PODS UID VOLUME
	d="$1/$2/volumes/kubernetes.io~empty-dir/$3"
	mkdir -p "$d/sub"
	head -c 200000 /dev/urandom >"$d/data.bin"
	echo "$3" >"$d/sub/name.txt"
}

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
# The command table checks kube's flags: a create flag elsewhere, a bad --output, a typo.
usage2() { "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" "$@" >/dev/null 2>"$W/usage.err"; [ $? -eq 2 ]; }
t_cmd "kube: --ttl on get refused (exit 2)" usage2 backup get --ttl 1h
t_cmd "kube: the refusal names the flag" grep -q -- '--ttl is for backup' "$W/usage.err"
t_cmd "kube: -o yaml refused (exit 2)" usage2 -o yaml backup get
t_cmd "kube: misspelt flag gets the nearest (exit 2)" usage2 backup create x --wiat
t_cmd "kube: ... naming --wait" grep -q 'did you mean --wait' "$W/usage.err"
t_cmd "controller: bad duration refused (exit 2)" sh -c "'$CAIRN_BIN' controller --resync soon 2>/dev/null; [ \$? -eq 2 ]"
ka_namespace app far
ka_default_bsl
kc create -f - >/dev/null <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: ro, namespace: cairn}
spec: {accessMode: ReadOnly, objectStorage: {bucket: bucket}}
EOF
for n in n1 n2 n3; do
	ka_agent_pod $n
	ka_agent_pod_ready "$W/hp${n#n}" $n
done
M='[{name: data, mountPath: /d}, {name: logs, mountPath: /l}, {name: cfg, mountPath: /c}, {name: tmp, mountPath: /t}]'
V='[{name: data, emptyDir: {}}, {name: logs, emptyDir: {}}, {name: cfg, configMap: {name: x}}, {name: tmp, emptyDir: {}}]'
U1=$(app_pod app p1 n1 '{backup.velero.io/backup-volumes: "data,cfg"}' "$V" "$M")
U2=$(app_pod app p2 n2 '{backup.velero.io/backup-volumes-excludes: tmp}' "$V" "$M")
app_pod app p4 n1 '{backup.velero.io/backup-volumes: data}' "$V" "$M" Pending >/dev/null
app_pod far p5 n9 '{backup.velero.io/backup-volumes: data}' "$V" "$M" >/dev/null
for v in data logs tmp; do fill "$W/hp1" "$U1" $v; fill "$W/hp2" "$U2" $v; done
for n in 1 2; do start_agent $n; done
start_controller "$KUBECONFIG" "$W/controller.log" "$W/controller.pid"

# ---- opt-in (annotation) ----
t_cmd "kube backup create" "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create optin \
	--include-namespaces app
t_cmd "opt-in backup Completed" wait_backup optin Completed
vols=$(pvbs_of optin | jq_py 'sorted(i["spec"]["pod"]["name"] + "/" + i["spec"]["volume"] for i in d["items"])')
[ "$vols" = '["p1/data"]' ] && t_pass "opt-in: one PVB, p1/data" || t_fail "opt-in PVBs: $vols"
w=$(bfield optin 'd["status"].get("warningMessages", [])')
echo "$w" | grep -q 'p1 volume cfg skipped: configMap' && t_pass "configMap skip is a warning" || t_fail "warnings: $w"
echo "$w" | grep -q 'p4 is not running' && t_pass "pod not running is a warning" || t_fail "warnings: $w"
pvb=$(pvbs_of optin | jq_py 'd["items"][0]')
echo "$pvb" | jq_py 'd["metadata"]["generateName"] == "optin-" and d["metadata"]["ownerReferences"][0]["kind"] == "Backup" and d["spec"]["node"] == "n1" and d["metadata"]["labels"]["cairn.dev/backup-name"] == "optin" and d["spec"]["tags"]["pod-uid"] == "'"$U1"'"' |
	grep -qx true && t_pass "PVB as Velero's backupper makes it" || t_fail "PVB: $pvb"
SNAP_OPTIN=$(echo "$pvb" | jq_py 'd["status"]["snapshotID"]')

# ---- opt-out (defaultVolumesToFsBackup), and no agent on the node ----
t_cmd "opt-out backup created" "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create optout \
	--include-namespaces app,far --default-volumes-to-fs-backup
t_cmd "opt-out backup PartiallyFailed (n9 has no agent)" wait_backup optout PartiallyFailed
vols=$(pvbs_of optout | jq_py 'sorted(i["spec"]["pod"]["name"] + "/" + i["spec"]["volume"] for i in d["items"])')
[ "$vols" = '["p1/data", "p1/logs", "p1/tmp", "p2/data", "p2/logs"]' ] && t_pass "opt-out: every volume but excluded and configMap" ||
	t_fail "opt-out PVBs: $vols"
w=$(bfield optout 'd["status"].get("warningMessages", [])')
echo "$w" | grep -q 'p2 volume tmp skipped: excluded' && t_pass "excluded volume named in the warnings" || t_fail "warnings: $w"
er=$(bfield optout 'd["status"].get("errorMessages", [])')
echo "$er" | grep -q 'no cairn node agent runs on node n9' && t_pass "fail fast: no agent on n9" || t_fail "errors: $er"
t_cmd "describe lists the volumes" sh -c "'$CAIRN_BIN' kube --kubeconfig '$KUBECONFIG' backup describe optout | grep -q 'app/p2/logs *Completed'"

# ---- validation ----
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create ro1 --storage-location ro >/dev/null
t_cmd "ReadOnly location: FailedValidation" wait_backup ro1 FailedValidation
bfield ro1 'd["status"]["validationErrors"][0]' | grep -q ReadOnly && t_pass "message says ReadOnly" ||
	t_fail "ro1: $(bfield ro1 'd["status"]')"
t_cmd "no PVB for a refused backup" test "$(pvbs_of ro1 | jq_py 'len(d["items"])')" = 0
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create nol --storage-location nowhere >/dev/null
t_cmd "unknown location: FailedValidation" wait_backup nol FailedValidation
t_cmd "location get shows Available" sh -c "'$CAIRN_BIN' kube --kubeconfig '$KUBECONFIG' location get | grep -q 'default *Available'"

# ---- restart mid-backup, then the timeout keeps finished volumes ----
app_pod far p6 n3 '{backup.velero.io/backup-volumes: data}' "$V" "$M" >/dev/null
kc label pod -n app p1 tier=x >/dev/null
kc label pod -n far p6 tier=x >/dev/null
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create slow2 --include-namespaces app,far \
	--selector tier=x >/dev/null
t_cmd "slow2 InProgress" wait_backup slow2 InProgress
kill -9 "$(cat "$W/controller.pid")"
wait "$(cat "$W/controller.pid")" 2>/dev/null
start_controller "$KUBECONFIG" "$W/controller.log" "$W/controller.pid"
has_done() { pvbs_of slow2 | jq_py '[i["spec"]["volume"] for i in d["items"] if i.get("status", {}).get("phase") == "Completed"]' | grep -q data; }
t_cmd "n1 volume of slow2 completes after the restart" wait_for 90 has_done
t_cmd "still InProgress (n3 never answers)" test "$(bphase slow2)" = InProgress
set_clock $((NOW + 5 * 3600))
t_cmd "timeout: PartiallyFailed" wait_backup slow2 PartiallyFailed
n=$(pvbs_of slow2 | jq_py 'len(d["items"])')
[ "$n" = 2 ] && t_pass "no duplicate PVBs after the restart" || t_fail "$n PVBs"
bfield slow2 'd["status"]["errorMessages"]' | grep -q 'far/p6 volume data: did not finish within 4h0m0s' &&
	t_pass "unfinished volume failed with the timeout" || t_fail "slow2: $(bfield slow2 'd["status"]')"
pvbs_of slow2 | jq_py '[i["spec"].get("cancel", False) for i in d["items"] if i["spec"]["node"] == "n3"]' | grep -q true &&
	t_pass "unfinished PVB cancelled" || t_fail "n3 PVB not cancelled"
id=$(pvbs_of slow2 | jq_py '[i["status"]["snapshotID"] for i in d["items"] if i["spec"]["node"] == "n1"][0]')
t_cmd "finished volume stays restorable" "$CAIRN_BIN" -r "$REPO" restore "$id" --target "$W/r-slow2"

# ---- schedules on the injected clock ----
# Back to the real time first: a new schedule's first run is the first cron time after
# its creationTimestamp (the API server's clock), so with the controller 5 h ahead a
# 03:00 Berlin fell in between whenever the suite ran from 21:00 to 02:00 UTC, and the
# schedule fired at once.
set_clock "$(date +%s)"
kc create -f - >/dev/null <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: Schedule
metadata: {name: nightly, namespace: cairn}
spec: {schedule: "CRON_TZ=Europe/Berlin 0 3 * * *", template: {includedNamespaces: [app], ttl: 1h0m0s}}
---
apiVersion: cairn.dev/v1alpha1
kind: Schedule
metadata: {name: broken, namespace: cairn}
spec: {schedule: "0 25 * * *", template: {}}
EOF
sched_count() { kcurl "$API/backups?labelSelector=cairn.dev%2Fschedule-name%3Dnightly" | jq_py 'len(d["items"])'; }
bad_sched() { kcurl "$API/schedules/broken" | jq_py 'd.get("status", {}).get("phase", "")' | grep -qx FailedValidation; }
t_cmd "bad cron: FailedValidation" wait_for 90 bad_sched
kcurl "$API/schedules/broken" | jq_py 'd["status"]["validationErrors"][0]' | grep -q 'out of range 0-23' &&
	t_pass "reason names the field" || t_fail "broken: $(kcurl "$API/schedules/broken")"
sleep 1
t_cmd "no run before it is due" test "$(sched_count)" = 0
T1=$((NOW + 3 * 86400))
set_clock $T1
one() { [ "$(sched_count)" = 1 ]; }
t_cmd "missed runs caught up once" wait_for 120 one
sleep 2
t_cmd "not in a burst" test "$(sched_count)" = 1
SB=$(kcurl "$API/backups?labelSelector=cairn.dev%2Fschedule-name%3Dnightly" | jq_py 'd["items"][0]["metadata"]["name"]')
case $SB in nightly-$(date -u -d "@$T1" +%Y%m%d%H%M)*) t_pass "named <schedule>-<YYYYMMDDhhmmss> ($SB)" ;; *) t_fail "name $SB" ;; esac
t_cmd "scheduled backup Completed" wait_backup "$SB" Completed
SIDS=$(pvbs_of "$SB" | jq_py '" ".join(i["status"]["snapshotID"] for i in d["items"])')
last() { kcurl "$API/schedules/nightly" | jq_py 'd["status"]["lastBackup"]'; }
L1=$(last)
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" schedule pause nightly >/dev/null
set_clock $((T1 + 86400))
sleep 2
t_cmd "paused schedule does not fire" test "$(last)" = "$L1"

# ---- TTL: the scheduled backup (ttl 1h) expired with the clock move ----
gone() { [ "$(obj "backups/$SB" | jq_py 'd.get("kind", "")')" != Backup ]; }
t_cmd "expired backup deleted" wait_for 90 gone
snaps=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py '" ".join(s["id"] for s in d)')
left=0
for s in $SIDS; do case " $snaps " in *" $s "*) left=1 ;; esac; done
[ -n "$SIDS" ] && [ $left = 0 ] && t_pass "its snapshots are forgotten" || t_fail "snapshots left: $SIDS in $snaps"
t_cmd "its PVBs are deleted" test "$(kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-name%3D$SB" | jq_py 'len(d["items"])')" = 0
t_cmd "other snapshots kept" sh -c "echo '$snaps' | grep -q '$SNAP_OPTIN'"

port=$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$W/controller.log" | tail -n 1)
curl -s "http://127.0.0.1:$port/metrics" | grep -q 'cairn_backup_success_total{schedule="nightly"} 1' &&
	t_pass "metrics count the scheduled success" || t_fail "metrics: $(curl -s "http://127.0.0.1:$port/metrics" | head -20)"

# ---- DR sync into a second API double given the same repository ----
KA2=$(mktemp -d "${TMPDIR:-/tmp}/kubeapi-dr.XXXXXX")
"$KA_HOME/start.sh" "$KA2" --load "$TOP_SRCDIR"/daemonset/crds/*.yaml >/dev/null
KUBECONFIG=$KA2/kubeconfig ka_default_bsl
start_controller "$KA2/kubeconfig" "$W/controller-dr.log" "$W/controller-dr.pid"
k2() { curl -sS --cacert "$KA2/ca.crt" -H "Authorization: Bearer $(cat "$KA2/token")" "$(cat "$KA2/url")$1"; }
want=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py 'sorted(set(dict(t.split("=", 1) for t in s.get("tags", []))["backup"] for s in d))')
synced() { [ "$(k2 "$API/backups" | jq_py 'sorted(i["metadata"]["name"] for i in d["items"] if i.get("status", {}).get("phase") == "Completed")')" = "$want" ]; }
t_cmd "every backup in the repository re-created ($want)" wait_for 90 synced
n=$(k2 "$API/podvolumebackups" | jq_py 'len([i for i in d["items"] if len(i.get("status", {}).get("snapshotID", "")) == 64])')
m=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py 'len(d)')
[ "$n" = "$m" ] && t_pass "one Completed PVB per snapshot ($n)" || t_fail "$n PVBs for $m snapshots"

for f in "$W"/*.pid; do kill "$(cat "$f")" 2>/dev/null; done
for f in "$W"/*.pid; do wait "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
t_cmd "cairn check passes" "$CAIRN_BIN" -r "$REPO" check
grep -q "$KA_TOKEN" "$W"/*.log && t_fail "token leaked into a log" || t_pass "no token in the logs"
t_done
