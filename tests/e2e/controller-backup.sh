#!/bin/sh
# shellcheck disable=SC2015 # ok and not_ok always succeed: A && ok || not_ok is safe
# End to end: the API-server double with cairn's CRDs, real `cairn agent`s for simulated
# nodes n1 and n2 (n3 has an agent pod object but no process), one local repository and
# `cairn controller` on an injected clock. Opt-in and opt-out selection with the skip
# warnings, fail-fast without an agent, a ReadOnly location refused at once, a controller
# restart mid-backup, a timeout keeping finished volumes, a schedule firing once per due
# run, TTL expiry forgetting snapshots, and DR sync into a second API double.
set -u
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$TOP_SRCDIR/tests/e2e/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W"
export CAIRN_PASSWORD=e2e-controller-password
REPO=$W/repo
CLOCK=$W/clock
export CAIRN_TEST_CLOCK_FILE=$CLOCK
NOW=$(date +%s)
echo "$NOW" >"$CLOCK"
API=/apis/cairn.dev/v1alpha1/namespaces/cairn
KA2=""

cleanup() {
	for f in "$W"/*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	if [ "$FAILED" -ne 0 ]; then
		for l in "$W"/*.log; do
			echo "# $l:"
			tail -n 25 "$l" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	[ -n "$KA2" ] && "$KA_HOME/stop.sh" "$KA2" && rm -rf "$KA2"
	ka_cleanup
}
trap cleanup EXIT
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

kc() { kubectl $KUBECTL_VALIDATE "$@"; }
obj() { kcurl "$API/$1" 2>/dev/null; }
# bfield NAME EXPR: a Python expression over Backup `d`, its detail annotation folded in.
bfield() {
	obj "backups/$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
det = d.get("metadata", {}).get("annotations", {}).get("cairn.dev/status-detail")
if det: d.setdefault("status", {}).update(json.loads(det))
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$2" 2>/dev/null
}
bphase() { bfield "$1" 'd.get("status", {}).get("phase", "")'; }
# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
	n=$(($1 * 10))
	shift
	i=0
	while [ $i -lt "$n" ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
phase_in() { # NAME PHASE...
	p=$(bphase "$1")
	shift
	for want in "$@"; do [ "$p" = "$want" ] && return 0; done
	return 1
}
wait_backup() { # NAME PHASE...
	wait_for 90 phase_in "$@" || { diag "backup $1 is '$(bphase "$1")' (wanted ${*#"$1"})"; return 1; }
}
pvbs_of() { # BACKUP -> PVB list (JSON)
	uid=$(bfield "$1" 'd["metadata"]["uid"]')
	kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-uid%3D$uid" 2>/dev/null
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
running() { # OBJECT-PATH: set status.phase Running through the status subresource
	kcurl "$1/status" -X PATCH -H 'Content-Type: application/merge-patch+json' \
		-d '{"status":{"phase":"Running"}}' >/dev/null
}
agent_pod() { # NODE
	kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: cairn-node-agent-$1, namespace: cairn, labels: {name: cairn-node-agent}}
spec: {nodeName: $1, containers: [{name: agent, image: cairn}]}
EOF
	running "/api/v1/namespaces/cairn/pods/cairn-node-agent-$1"
	# the agent checks that its own pod has a folder in the kubelet's pods folder
	mkdir -p "$W/hp${1#n}/$(kc get pod -n cairn "cairn-node-agent-$1" -o jsonpath='{.metadata.uid}')"
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

check "repository initialised" "$CAIRN_BIN" -r "$REPO" init
# The command table checks kube's flags: a create flag elsewhere, a bad --output, a typo.
usage2() { "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" "$@" >/dev/null 2>"$W/usage.err"; [ $? -eq 2 ]; }
check "kube: --ttl on get refused (exit 2)" usage2 backup get --ttl 1h
check "kube: the refusal names the flag" grep -q -- '--ttl is for backup create' "$W/usage.err"
check "kube: -o yaml refused (exit 2)" usage2 -o yaml backup get
check "kube: misspelt flag gets the nearest (exit 2)" usage2 backup create x --wiat
check "kube: ... naming --wait" grep -q 'did you mean --wait' "$W/usage.err"
check "controller: bad duration refused (exit 2)" sh -c "'$CAIRN_BIN' controller --resync soon 2>/dev/null; [ \$? -eq 2 ]"
for ns in app far; do
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' $ns | kc create -f - >/dev/null
done
kc create -f - >/dev/null <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: default, namespace: cairn}
spec: {default: true, objectStorage: {bucket: bucket}}
---
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: ro, namespace: cairn}
spec: {accessMode: ReadOnly, objectStorage: {bucket: bucket}}
EOF
for n in n1 n2 n3; do agent_pod $n; done
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
check "kube backup create" "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create optin \
	--include-namespaces app
check "opt-in backup Completed" wait_backup optin Completed
vols=$(pvbs_of optin | jq_py 'sorted(i["spec"]["pod"]["name"] + "/" + i["spec"]["volume"] for i in d["items"])')
[ "$vols" = '["p1/data"]' ] && ok "opt-in: one PVB, p1/data" || not_ok "opt-in PVBs: $vols"
w=$(bfield optin 'd["status"].get("warningMessages", [])')
echo "$w" | grep -q 'p1 volume cfg skipped: configMap' && ok "configMap skip is a warning" || not_ok "warnings: $w"
echo "$w" | grep -q 'p4 is not running' && ok "pod not running is a warning" || not_ok "warnings: $w"
pvb=$(pvbs_of optin | jq_py 'd["items"][0]')
echo "$pvb" | jq_py 'd["metadata"]["generateName"] == "optin-" and d["metadata"]["ownerReferences"][0]["kind"] == "Backup" and d["spec"]["node"] == "n1" and d["metadata"]["labels"]["cairn.dev/backup-name"] == "optin" and d["spec"]["tags"]["pod-uid"] == "'"$U1"'"' |
	grep -qx true && ok "PVB as Velero's backupper makes it" || not_ok "PVB: $pvb"
SNAP_OPTIN=$(echo "$pvb" | jq_py 'd["status"]["snapshotID"]')

# ---- opt-out (defaultVolumesToFsBackup), and no agent on the node ----
check "opt-out backup created" "$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create optout \
	--include-namespaces app,far --default-volumes-to-fs-backup
check "opt-out backup PartiallyFailed (n9 has no agent)" wait_backup optout PartiallyFailed
vols=$(pvbs_of optout | jq_py 'sorted(i["spec"]["pod"]["name"] + "/" + i["spec"]["volume"] for i in d["items"])')
[ "$vols" = '["p1/data", "p1/logs", "p1/tmp", "p2/data", "p2/logs"]' ] && ok "opt-out: every volume but excluded and configMap" ||
	not_ok "opt-out PVBs: $vols"
w=$(bfield optout 'd["status"].get("warningMessages", [])')
echo "$w" | grep -q 'p2 volume tmp skipped: excluded' && ok "excluded volume named in the warnings" || not_ok "warnings: $w"
er=$(bfield optout 'd["status"].get("errorMessages", [])')
echo "$er" | grep -q 'no cairn node agent runs on node n9' && ok "fail fast: no agent on n9" || not_ok "errors: $er"
check "describe lists the volumes" sh -c "'$CAIRN_BIN' kube --kubeconfig '$KUBECONFIG' backup describe optout | grep -q 'app/p2/logs *Completed'"

# ---- validation ----
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create ro1 --storage-location ro >/dev/null
check "ReadOnly location: FailedValidation" wait_backup ro1 FailedValidation
bfield ro1 'd["status"]["validationErrors"][0]' | grep -q ReadOnly && ok "message says ReadOnly" ||
	not_ok "ro1: $(bfield ro1 'd["status"]')"
check "no PVB for a refused backup" test "$(pvbs_of ro1 | jq_py 'len(d["items"])')" = 0
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create nol --storage-location nowhere >/dev/null
check "unknown location: FailedValidation" wait_backup nol FailedValidation
check "location get shows Available" sh -c "'$CAIRN_BIN' kube --kubeconfig '$KUBECONFIG' location get | grep -q 'default *Available'"

# ---- restart mid-backup, then the timeout keeps finished volumes ----
app_pod far p6 n3 '{backup.velero.io/backup-volumes: data}' "$V" "$M" >/dev/null
kc label pod -n app p1 tier=x >/dev/null
kc label pod -n far p6 tier=x >/dev/null
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create slow2 --include-namespaces app,far \
	--selector tier=x >/dev/null
check "slow2 InProgress" wait_backup slow2 InProgress
kill -9 "$(cat "$W/controller.pid")"
wait "$(cat "$W/controller.pid")" 2>/dev/null
start_controller "$KUBECONFIG" "$W/controller.log" "$W/controller.pid"
has_done() { pvbs_of slow2 | jq_py '[i["spec"]["volume"] for i in d["items"] if i.get("status", {}).get("phase") == "Completed"]' | grep -q data; }
check "n1 volume of slow2 completes after the restart" wait_for 90 has_done
check "still InProgress (n3 never answers)" test "$(bphase slow2)" = InProgress
set_clock $((NOW + 5 * 3600))
check "timeout: PartiallyFailed" wait_backup slow2 PartiallyFailed
n=$(pvbs_of slow2 | jq_py 'len(d["items"])')
[ "$n" = 2 ] && ok "no duplicate PVBs after the restart" || not_ok "$n PVBs"
bfield slow2 'd["status"]["errorMessages"]' | grep -q 'far/p6 volume data: did not finish within 4h0m0s' &&
	ok "unfinished volume failed with the timeout" || not_ok "slow2: $(bfield slow2 'd["status"]')"
pvbs_of slow2 | jq_py '[i["spec"].get("cancel", False) for i in d["items"] if i["spec"]["node"] == "n3"]' | grep -q true &&
	ok "unfinished PVB cancelled" || not_ok "n3 PVB not cancelled"
id=$(pvbs_of slow2 | jq_py '[i["status"]["snapshotID"] for i in d["items"] if i["spec"]["node"] == "n1"][0]')
check "finished volume stays restorable" "$CAIRN_BIN" -r "$REPO" restore "$id" --target "$W/r-slow2"

# ---- schedules on the injected clock ----
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
check "bad cron: FailedValidation" wait_for 30 bad_sched
kcurl "$API/schedules/broken" | jq_py 'd["status"]["validationErrors"][0]' | grep -q 'out of range 0-23' &&
	ok "reason names the field" || not_ok "broken: $(kcurl "$API/schedules/broken")"
sleep 1
check "no run before it is due" test "$(sched_count)" = 0
T1=$((NOW + 3 * 86400))
set_clock $T1
one() { [ "$(sched_count)" = 1 ]; }
check "missed runs caught up once" wait_for 60 one
sleep 2
check "not in a burst" test "$(sched_count)" = 1
SB=$(kcurl "$API/backups?labelSelector=cairn.dev%2Fschedule-name%3Dnightly" | jq_py 'd["items"][0]["metadata"]["name"]')
case $SB in nightly-$(date -u -d "@$T1" +%Y%m%d%H%M)*) ok "named <schedule>-<YYYYMMDDhhmmss> ($SB)" ;; *) not_ok "name $SB" ;; esac
check "scheduled backup Completed" wait_backup "$SB" Completed
SIDS=$(pvbs_of "$SB" | jq_py '" ".join(i["status"]["snapshotID"] for i in d["items"])')
last() { kcurl "$API/schedules/nightly" | jq_py 'd["status"]["lastBackup"]'; }
L1=$(last)
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" schedule pause nightly >/dev/null
set_clock $((T1 + 86400))
sleep 2
check "paused schedule does not fire" test "$(last)" = "$L1"

# ---- TTL: the scheduled backup (ttl 1h) expired with the clock move ----
gone() { [ "$(obj "backups/$SB" | jq_py 'd.get("kind", "")')" != Backup ]; }
check "expired backup deleted" wait_for 90 gone
snaps=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py '" ".join(s["id"] for s in d)')
left=0
for s in $SIDS; do case " $snaps " in *" $s "*) left=1 ;; esac; done
[ -n "$SIDS" ] && [ $left = 0 ] && ok "its snapshots are forgotten" || not_ok "snapshots left: $SIDS in $snaps"
check "its PVBs are deleted" test "$(kcurl "$API/podvolumebackups?labelSelector=cairn.dev%2Fbackup-name%3D$SB" | jq_py 'len(d["items"])')" = 0
check "other snapshots kept" sh -c "echo '$snaps' | grep -q '$SNAP_OPTIN'"

port=$(sed -n 's/.*metrics on port \([0-9]*\).*/\1/p' "$W/controller.log" | tail -n 1)
curl -s "http://127.0.0.1:$port/metrics" | grep -q 'cairn_backup_success_total{schedule="nightly"} 1' &&
	ok "metrics count the scheduled success" || not_ok "metrics: $(curl -s "http://127.0.0.1:$port/metrics" | head -20)"

# ---- DR sync into a second API double given the same repository ----
KA2=$(mktemp -d "${TMPDIR:-/tmp}/kubeapi-dr.XXXXXX")
"$KA_HOME/start.sh" "$KA2" --load "$TOP_SRCDIR"/daemonset/crds/*.yaml >/dev/null
KUBECONFIG=$KA2/kubeconfig kubectl $KUBECTL_VALIDATE create -f - >/dev/null <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: default, namespace: cairn}
spec: {default: true, objectStorage: {bucket: bucket}}
EOF
start_controller "$KA2/kubeconfig" "$W/controller-dr.log" "$W/controller-dr.pid"
k2() { curl -sS --cacert "$KA2/ca.crt" -H "Authorization: Bearer $(cat "$KA2/token")" "$(cat "$KA2/url")$1"; }
want=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py 'sorted(set(dict(t.split("=", 1) for t in s.get("tags", []))["backup"] for s in d))')
synced() { [ "$(k2 "$API/backups" | jq_py 'sorted(i["metadata"]["name"] for i in d["items"] if i.get("status", {}).get("phase") == "Completed")')" = "$want" ]; }
check "every backup in the repository re-created ($want)" wait_for 90 synced
n=$(k2 "$API/podvolumebackups" | jq_py 'len([i for i in d["items"] if len(i.get("status", {}).get("snapshotID", "")) == 64])')
m=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py 'len(d)')
[ "$n" = "$m" ] && ok "one Completed PVB per snapshot ($n)" || not_ok "$n PVBs for $m snapshots"

for f in "$W"/*.pid; do kill "$(cat "$f")" 2>/dev/null; done
for f in "$W"/*.pid; do wait "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
check "cairn check passes" "$CAIRN_BIN" -r "$REPO" check
grep -q "$KA_TOKEN" "$W"/*.log && not_ok "token leaked into a log" || ok "no token in the logs"
echo "1..$T"
[ "$FAILED" -eq 0 ]
