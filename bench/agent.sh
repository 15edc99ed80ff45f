#!/bin/bash
# Benchmark (not a timed test): three agents for three nodes back up one volume each
# (1 GiB of incompressible data by default, AGENT_BENCH_MB to change) into one local
# repository at the same time. Prints throughput, each agent's peak RSS (VmHWM) and the
# mean status-update latency from the agents' own metrics.
#   CAIRN_BIN=build/cairn bench/agent.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CAIRN_BIN:=$top/cairn}"
MB=${AGENT_BENCH_MB:-1024}
TOP_SRCDIR=$top
export TOP_SRCDIR
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$top/tests/e2e/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W"
export CAIRN_PASSWORD=bench-agent
stop_agents() { for p in $(cat "$W"/pids 2>/dev/null); do kill "$p" 2>/dev/null; done; }
t_on_exit ka_cleanup
t_on_exit stop_agents
ka_start --bookmark-interval 2
"$CAIRN_BIN" -r "$W/repo" init >/dev/null
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n' |
	kubectl $KUBECTL_VALIDATE create -f - >/dev/null

for n in 1 2 3; do
	kubectl $KUBECTL_VALIDATE create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: p$n, namespace: app}
spec: {nodeName: n$n, containers: [{name: c, image: busybox}], volumes: [{name: data, emptyDir: {}}]}
EOF
	uid=$(kubectl get pod -n app "p$n" -o jsonpath='{.metadata.uid}')
	echo "$uid" >"$W/uid$n"
	v=$W/hp$n/$uid/volumes/kubernetes.io~empty-dir/data
	mkdir -p "$v"
	head -c $((MB * 1024 * 1024)) /dev/urandom >"$v/data.bin"
	"$CAIRN_BIN" -r "$W/repo" agent --node "n$n" --host-pods "$W/hp$n" \
		--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --progress-interval 2 \
		>"$W/agent$n.log" 2>&1 &
	echo $! >>"$W/pids"
	echo $! >"$W/pid$n"
done
sleep 1
start=$(date +%s.%N)
for n in 1 2 3; do
	kubectl $KUBECTL_VALIDATE create -f - >/dev/null <<EOF
apiVersion: velero.io/v1
kind: PodVolumeBackup
metadata: {name: bench-$n, namespace: velero}
spec: {node: n$n, volume: data, uploaderType: cairn,
  pod: {kind: Pod, namespace: app, name: p$n, uid: $(cat "$W/uid$n")}}
EOF
done
for n in 1 2 3; do
	while :; do
		p=$(kcurl "/apis/velero.io/v1/namespaces/velero/podvolumebackups/bench-$n" |
			jq_py 'd.get("status", {}).get("phase", "")')
		case $p in Completed | Failed | Canceled) break ;; esac
		sleep 0.2
	done
	echo "bench-$n: $p"
done
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v mb="$MB" 'BEGIN {
	printf "3 x %d MiB in %.1f s: %.1f MiB/s total\n", mb, e - s, 3 * mb / (e - s) }'
for n in 1 2 3; do
	pid=$(cat "$W/pid$n")
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	port=$(sed -n 's/.*metrics and \/healthz on port \([0-9]*\).*/\1/p' "$W/agent$n.log")
	lat=$(curl -s "http://127.0.0.1:$port/metrics" | awk '
		/^cairn_status_update_seconds_sum/ {s = $2} /^cairn_status_update_seconds_count/ {c = $2}
		END {if (c) printf "%.1f ms over %d updates", 1000 * s / c, c}')
	echo "agent n$n: peak RSS $((hwm / 1024)) MiB, status update latency $lat"
done
