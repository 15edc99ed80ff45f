# shellcheck shell=bash
# Helpers for the suites that run against the API-server double (sourced, not run).
# TAP, the scratch folder and exit hooks come from lib.sh. Sets: KA_DIR (state dir),
# KUBECONFIG, KUBECACHEDIR, KA_URL, and functions ka_start/ka_cleanup, kcurl (curl with
# the bearer token and CA), kc (kubectl), ka_pod, jq_py, wait_watches.

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

# ka_node1 DIR: the kubelet simulator for node n1 (pods' folders in DIR/hp1, volumes in
# DIR/pv, its log DIR/kubelet.log, its pid DIR/kubelet.pid), namespace app, the default
# BackupStorageLocation and the agent's own pod on n1: what every one-node restore test
# starts from.
ka_node1() {
	python3 "$KA_HOME/kubelet.py" --dir "$KA_DIR" --node "n1=$1/hp1" --pv-root "$1/pv" \
		--cairn "$CAIRN_BIN" >"$1/kubelet.log" 2>&1 &
	echo $! >"$1/kubelet.pid"
	kc create -f - >/dev/null <<'EOF_Y'
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
EOF_Y
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
