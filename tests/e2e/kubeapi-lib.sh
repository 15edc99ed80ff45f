# shellcheck shell=bash
# Helpers for the suites that run against the API-server double (sourced, not run).
# TAP, the scratch folder and exit hooks come from lib.sh. Sets: KA_DIR (state dir),
# KUBECONFIG, KUBECACHEDIR, KA_URL, and functions ka_start/ka_cleanup, kcurl (curl with
# the bearer token and CA), kc (kubectl), ka_pod, jq_py, wait_watches, and the set-up
# the suites share, each piece of YAML once: ka_suite_env, ka_node1 (ka_kubelet_n1 +
# ka_node1_objects: ka_namespace, ka_default_bsl, ka_agent_pod), ka_agent_pod_ready,
# ka_restore_helper, ka_db_claims, ka_cairn_obj, ka_pvr, ka_pvr_field/_ended/_end.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
KA_HOME="$TOP_SRCDIR/tests/kubeapi"
KA_DIR=$(mktemp -d "$T_TMP/kubeapi.XXXXXX")
export KUBECONFIG="$KA_DIR/kubeconfig"
# A private discovery/OpenAPI cache: ports get reused between runs.
export KUBECACHEDIR="$KA_DIR/cache"

ka_start() {
	if ! "$KA_HOME/start.sh" "$KA_DIR" "$@" >"$KA_DIR/port.out"; then
		echo "Bail out! the API-server double did not start"
		exit 1
	fi
	KA_URL=$(cat "$KA_DIR/url")
	KA_TOKEN=$(cat "$KA_DIR/token")
}

ka_cleanup() {
	for p in $(cat "$KA_DIR"/bg.pids 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	"$KA_HOME/stop.sh" "$KA_DIR"
	if [ "$T_FAILED" -ne 0 ] && [ -f "$KA_DIR/kubeapi.log" ]; then
		echo "# last requests seen by the double:"
		tail -n 30 "$KA_DIR/kubeapi.log" | sed 's/^/#   /'
	fi
	rm -rf "$KA_DIR"
}

# ka_stop_all: the exit hook of a suite that keeps its processes' pids and logs in $W
# (W/NAME.pid, W/NAME.log): kill them, show each log's tail when a check failed, then
# stop the double.
ka_stop_all() {
	for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	if [ "$T_FAILED" -ne 0 ]; then
		for l in "$W"/*.log; do
			echo "# $l:"
			tail -n 30 "$l" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	ka_cleanup
}

# kcurl PATH [curl args...]: authenticated request to the double.
kcurl() {
	p=$1
	shift
	curl -sS --cacert "$KA_DIR/ca.crt" -H "Authorization: Bearer $KA_TOKEN" \
		"$@" "$KA_URL$p"
}

# jq_py EXPR: evaluate a Python expression over the JSON on stdin (bound to
# `d`) and print the result (str as is, others as JSON).
jq_py() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$1"
}

# Older kubectl (Debian 12 ships 1.20) validates with OpenAPI v2, which the
# double does not serve; 1.27+ asks the server to validate instead.
KUBECTL_VALIDATE=""
minor=$(kubectl version --client -o json 2>/dev/null | jq_py 'd["clientVersion"]["minor"]' |
	tr -dc 0-9)
if [ -n "$minor" ] && [ "$minor" -lt 27 ]; then
	KUBECTL_VALIDATE="--validate=false"
fi

# wait_watches N: wait (up to a 120 s deadline, the machine may be loaded) until the
# double has at least N open watch streams.
wait_watches() {
	local end=$((SECONDS + 120)) n
	while :; do
		n=$(kcurl /_test/dump 2>/dev/null | jq_py 'd["watches"]' 2>/dev/null)
		[ "${n:-0}" -ge "$1" ] && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

kc() { kubectl $KUBECTL_VALIDATE "$@"; }

# ka_suite_env FOLDER...: what a restore suite sets up before the double: the tools every
# suite needs and kubectl (skip without it), the work folder W=$T_TMP/w with FOLDER... made
# in it, REPO=$W/repo, CAIRN_PASSWORD, API (where cairn's objects are), and the readers
# obj PATH (GET), field PATH JQ-EXPR (raw), pv_of NAMESPACE CLAIM (its volume's name) and
# is_running NAMESPACE POD (its phase is Running).
# shellcheck disable=SC2034,SC2317 # what it sets and defines is for the suite
ka_suite_env() {
	local d
	t_need
	command -v kubectl >/dev/null || t_require kubectl "tests/kubeapi/deps.sh" false
	W=$T_TMP/w
	mkdir -p "$W"
	for d in "$@"; do mkdir -p "$W/$d"; done
	export CAIRN_PASSWORD=$T_PASS
	REPO=$W/repo
	API=/apis/cairn.dev/v1alpha1/namespaces/cairn
	obj() { kcurl "$1" 2>/dev/null; }
	field() { obj "$1" | jq -r "$2" 2>/dev/null; }
	pv_of() { field "/api/v1/namespaces/$1/persistentvolumeclaims/$2" '.spec.volumeName // ""'; }
	is_running() { [ "$(field "/api/v1/namespaces/$1/pods/$2" '.status.phase // ""')" = Running ]; }
}

# ka_kubelet_n1 DIR [TAG]: start the kubelet simulator for node n1, its pods' folders in
# DIR/hp1 and its volumes in DIR/pv (with TAG: DIR/hpTAG and DIR/pvTAG), its log
# DIR/kubelet.log (DIR/kubeletTAG.log), its pid in DIR/kubelet.pid.
ka_kubelet_n1() {
	local hp=$1/hp${2:-1} pv=$1/pv${2:-}
	python3 "$KA_HOME/kubelet.py" --dir "$KA_DIR" --node "n1=$hp" --pv-root "$pv" \
		--cairn "$CAIRN_BIN" >"$1/kubelet${2:-}.log" 2>&1 &
	echo $! >"$1/kubelet.pid"
}

# ka_namespace NAME...: a namespace NAME (each).
ka_namespace() {
	local ns
	for ns in "$@"; do
		printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns" | kc create -f - >/dev/null
	done
}

# ka_default_bsl [ACCESS-MODE]: the default BackupStorageLocation (spec.accessMode
# ACCESS-MODE when given), in the cluster $KUBECONFIG names.
# shellcheck disable=SC2120 # ACCESS-MODE is optional
ka_default_bsl() {
	kc create -f - >/dev/null <<EOF_Y
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: default, namespace: cairn}
spec: {default: true, ${1:+accessMode: $1, }objectStorage: {bucket: bucket}}
EOF_Y
}

# ka_agent_pod NODE: the agent's own pod cairn-node-agent-NODE on NODE, as its daemon set
# makes it (not Running: see ka_agent_pod_ready).
ka_agent_pod() {
	kc create -f - >/dev/null <<EOF_Y
apiVersion: v1
kind: Pod
metadata: {name: cairn-node-agent-$1, namespace: cairn, labels: {name: cairn-node-agent}}
spec: {nodeName: $1, containers: [{name: agent, image: cairn}]}
EOF_Y
}

# ka_agent_pod_ready HOSTPODS [NODE]: mark the agent's own pod on NODE (n1) Running and
# make its folder in HOSTPODS: the agent's start-up check wants both.
ka_agent_pod_ready() {
	local pod=cairn-node-agent-${2:-n1}
	kcurl "/api/v1/namespaces/cairn/pods/$pod/status" -X PATCH \
		-H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Running"}}' >/dev/null
	mkdir -p "$1/$(kc get pod -n cairn "$pod" -o jsonpath='{.metadata.uid}')"
}

# ka_node1_objects: the objects a one-node cluster starts with: namespace app, the default
# BackupStorageLocation and the agent's own pod on n1 (not Running).
ka_node1_objects() {
	ka_namespace app
	ka_default_bsl
	ka_agent_pod n1
}

# ka_node1 DIR: the kubelet simulator for node n1 (ka_kubelet_n1 DIR: pods' folders in
# DIR/hp1, volumes in DIR/pv, its log DIR/kubelet.log, its pid DIR/kubelet.pid) and
# ka_node1_objects (namespace app, the default BackupStorageLocation and the agent's own
# pod on n1): what every one-node restore test starts from.
ka_node1() {
	ka_kubelet_n1 "$1"
	ka_node1_objects
}

# ka_restore_helper CLAIM POD: a claim CLAIM (1Gi) in namespace app and a pod POD
# labelled cairn.dev/restore-helper that mounts it at /data (volume `data`), as the
# controller makes for a restore into a new claim.
ka_restore_helper() {
	kc create -f - >/dev/null <<EOF_Y
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1, namespace: app}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: $2, namespace: app, labels: {cairn.dev/restore-helper: "yes"}}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: $1}}]
EOF_Y
}

# ka_db_claims SIZE EXTRA-LABELS V...: for each V a claim data-V in namespace app (storage
# class fast, SIZE, labelled EXTRA-LABELS (a flow-map body such as "app: db", or "") and
# vol=V), then pod db (no node: the kubelet simulator schedules it) mounting each at /V.
ka_db_claims() {
	local size=$1 labels=${2:+$2, } v mounts="" vols=""
	shift 2
	for v in "$@"; do
		kc create -f - >/dev/null <<EOF_Y
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-$v, namespace: app, labels: {${labels}vol: "$v"}}
spec: {accessModes: [ReadWriteOnce], storageClassName: fast, resources: {requests: {storage: $size}}}
EOF_Y
		mounts+="${mounts:+, }{name: $v, mountPath: /$v}"
		vols+="  - {name: $v, persistentVolumeClaim: {claimName: data-$v}}"$'\n'
	done
	kc create -f - >/dev/null <<EOF_Y
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [$mounts]}]
  volumes:
$vols
EOF_Y
}

# ka_cairn_obj KIND NAME SPEC: an object of cairn's KIND (Backup, Restore, ...) named NAME
# in namespace cairn whose spec is the flow map {SPEC} (such as "backupName: b1,
# namespaceMapping: {app: restored}").
ka_cairn_obj() {
	kc create -f - >/dev/null <<EOF_Y
apiVersion: cairn.dev/v1alpha1
kind: $1
metadata: {name: $2, namespace: cairn}
spec: {$3}
EOF_Y
}

# ka_pvr NAME POD VOLUME RESTORE-UID SNAPSHOT [SPEC-LINE]: a PodVolumeRestore NAME (labelled
# cairn.dev/restore-uid RESTORE-UID) of snapshot SNAPSHOT from the default location into
# volume VOLUME (written into the YAML as is) of pod POD in namespace app, source
# namespace app, with SPEC-LINE (such as "overwrite: true") added to its spec.
ka_pvr() {
	kc create -f - >/dev/null <<EOF_Y
apiVersion: cairn.dev/v1alpha1
kind: PodVolumeRestore
metadata: {name: $1, namespace: cairn, labels: {cairn.dev/restore-uid: "$4"}}
spec:
  pod: {kind: Pod, namespace: app, name: $2}
  volume: $3
  snapshotID: "$5"
  backupStorageLocation: default
  sourceNamespace: app
  ${6:-}
EOF_Y
}

# ka_pvr_field NAME EXPR: jq EXPR over PodVolumeRestore NAME (raw output).
ka_pvr_field() {
	kcurl "/apis/cairn.dev/v1alpha1/namespaces/cairn/podvolumerestores/$1" 2>/dev/null |
		jq -r "$2" 2>/dev/null
}

# ka_pvr_ended NAME: PodVolumeRestore NAME has ended: its phase is set and is none of New,
# Accepted, InProgress.
ka_pvr_ended() {
	local p
	p=$(ka_pvr_field "$1" '.status.phase // ""')
	[ -n "$p" ] && [ "$p" != New ] && [ "$p" != Accepted ] && [ "$p" != InProgress ]
}

# ka_pvr_end NAME: wait (up to 120 s) until PodVolumeRestore NAME has ended, then print its
# phase (whatever it is by then: "null" when it has none).
ka_pvr_end() {
	t_wait 120 ka_pvr_ended "$1"
	ka_pvr_field "$1" '.status.phase'
}

# ka_pod NAME NODE VOLUMES-YAML (a flow list): a pod in namespace app bound to NODE with
# one busybox container; prints its uid.
ka_pod() {
	kc create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: app}
spec:
  nodeName: $2
  containers: [{name: c, image: busybox}]
  volumes: $3
EOF
	kc get pod -n app "$1" -o jsonpath='{.metadata.uid}'
}
