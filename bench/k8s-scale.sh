#!/bin/bash
# Benchmark (not a timed test): the cluster controller at scale. The API-server double
# with three simulated nodes (tests/kubeapi/kubelet.py), a `cairn agent` per node, one
# `cairn controller`, K8S_PODS (default 200) pods spread over the nodes, each annotated
# with backup.velero.io/backup-volumes and one small emptyDir volume (K8S_KIB KiB of
# random bytes, default 64, plus a few small files). One Backup of them all; prints the
# seconds from its creation to Completed, the controller's and each agent's peak RSS
# (VmHWM) and how many requests the double served during the Backup.
#   CAIRN_BIN=build/cairn bench/k8s-scale.sh
# K8S_AGENT_CONCURRENCY (default 2): the agents' --concurrency.
# K8S_HOOK_SECONDS (default 0: no hooks): give every pod a pre hook that sleeps this long
# and a post hook (run by the exec double in the pod's volume folder), to see the
# controller's --hook-concurrency (K8S_HOOK_CONCURRENCY, default the controller's own).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CAIRN_BIN:=$top/cairn}"
PODS=${K8S_PODS:-200}
KIB=${K8S_KIB:-64}
CONC=${K8S_AGENT_CONCURRENCY:-2}
HOOK_S=${K8S_HOOK_SECONDS:-0}
HOOK_N=${K8S_HOOK_CONCURRENCY:-}
TOP_SRCDIR=$top
export TOP_SRCDIR
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$top/tests/e2e/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W"
export CAIRN_PASSWORD=bench-k8s-scale
API=/apis/cairn.dev/v1alpha1/namespaces/cairn
ED=volumes/kubernetes.io~empty-dir
stop_all() { [ -f "$W/pids" ] || return 0; while read -r p; do kill "$p" 2>/dev/null; done <"$W/pids"; }
t_on_exit ka_cleanup
t_on_exit stop_all
ka_start --bookmark-interval 2 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml
pid() { echo $! >>"$W/pids"; echo $! >"$W/$1.pid"; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

"$CAIRN_BIN" -r "$W/repo" init >/dev/null
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n' | kc create -f - >/dev/null
kc create -f - >/dev/null <<'EOF'
apiVersion: cairn.dev/v1alpha1
kind: BackupStorageLocation
metadata: {name: default, namespace: cairn}
spec: {default: true, objectStorage: {bucket: bucket}}
EOF
python3 "$KA_HOME/kubelet.py" --dir "$KA_DIR" --node "n1=$W/hp1" --node "n2=$W/hp2" \
	--node "n3=$W/hp3" --pv-root "$W/pv" --cairn "$CAIRN_BIN" >"$W/kubelet.log" 2>&1 &
pid kubelet

# The agents' own pods, then the application pods, in one create each.
for n in 1 2 3; do
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: cairn-node-agent-n%s, namespace: cairn, labels: {name: cairn-node-agent}}\nspec: {nodeName: n%s, containers: [{name: agent, image: cairn}]}\n' "$n" "$n"
done | kc create -f - >/dev/null
for i in $(seq 1 "$PODS"); do
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%s, namespace: app, annotations: {backup.velero.io/backup-volumes: data}}\nspec: {nodeName: n%s, containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /d}]}], volumes: [{name: data, emptyDir: {}}]}\n' "$i" $((i % 3 + 1))
done | kc create -f - >/dev/null
running() {
	[ "$(kcurl /api/v1/pods | jq_py 'len([p for p in d["items"] if p.get("status", {}).get("phase") == "Running"])')" = $((PODS + 3)) ]
}
for _ in $(seq 600); do running && break; sleep 0.5; done
running || t_bail "the simulated kubelet did not start every pod"
kcurl /api/v1/pods | jq_py '"\n".join("%s %s %s %s" % (p["metadata"]["namespace"], p["spec"]["nodeName"], p["metadata"]["uid"], p["metadata"]["name"]) for p in d["items"])' |
	while read -r ns node uid name; do
		if [ "$ns" = cairn ]; then
			mkdir -p "$W/hp${node#n}/$uid"
			continue
		fi
		v=$W/hp${node#n}/$uid/$ED/data
		mkdir -p "$v/etc"
		head -c $((KIB * 1024)) /dev/urandom >"$v/data.bin"
		echo "$uid" >"$v/etc/id"
		date >"$v/etc/when"
		[ "$HOOK_S" = 0 ] && continue
		kcurl "/api/v1/namespaces/app/pods/$name" -X PATCH -H 'Content-Type: application/merge-patch+json' -d "{\"metadata\":{\"annotations\":{
			\"kubeapi.cairn.dev/exec-root\": \"$W/hp${node#n}/$uid/$ED\",
			\"pre.hook.backup.velero.io/command\": \"[\\\"sh\\\", \\\"-c\\\", \\\"sleep $HOOK_S\\\"]\",
			\"post.hook.backup.velero.io/command\": \"[\\\"true\\\"]\"}}}" >/dev/null
	done
for n in 1 2 3; do
	"$CAIRN_BIN" -r "$W/repo" agent --node "n$n" --host-pods "$W/hp$n" \
		--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --progress-interval 2 \
		--concurrency "$CONC" >"$W/agent$n.log" 2>&1 &
	pid "agent$n"
done
"$CAIRN_BIN" -r "$W/repo" controller --kubeconfig "$KUBECONFIG" \
	--metrics-address 127.0.0.1:0 --sync-interval 0 ${HOOK_N:+"--hook-concurrency" "$HOOK_N"} >"$W/controller.log" 2>&1 &
pid controller
CTL=$(cat "$W/controller.pid")
sleep 3
req0=$(wc -l <"$KA_DIR/kubeapi.log")
start=$(date +%s.%N)
"$CAIRN_BIN" kube --kubeconfig "$KUBECONFIG" backup create scale >/dev/null
phase=""
for _ in $(seq 36000); do
	phase=$(kcurl "$API/backups/scale" | jq_py 'd.get("status", {}).get("phase", "")')
	case $phase in Completed | PartiallyFailed | Failed | FailedValidation) break ;; esac
	sleep 0.2
done
end=$(date +%s.%N)
req1=$(wc -l <"$KA_DIR/kubeapi.log")
n=$(kcurl "$API/podvolumebackups" | jq_py 'len([i for i in d["items"] if i.get("status", {}).get("phase") == "Completed"])')
awk -v s="$start" -v e="$end" -v p="$PODS" -v ph="$phase" -v n="$n" 'BEGIN {
	printf "Backup of %d pods: %s in %.1f s (%d PodVolumeBackups Completed)\n", p, ph, e - s, n }'
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
echo "controller: peak RSS $(hwm "$CTL") MiB, CPU $(cpu "$CTL") s"
echo "API double: CPU $(cpu "$(cat "$KA_DIR/pid")") s, kubelet double: CPU $(cpu "$(cat "$W/kubelet.pid")") s"
for n in 1 2 3; do
	echo "agent n$n: peak RSS $(hwm "$(cat "$W/agent$n.pid")") MiB, CPU $(cpu "$(cat "$W/agent$n.pid")") s"
done
echo "API requests served by the double during the Backup: $((req1 - req0)); the most frequent:"
sed -n "$((req0 + 1)),${req1}p" "$KA_DIR/kubeapi.log" | awk '{print $2, $3}' |
	sed -E 's/[?].*//; s#/(p[0-9]+|scale-[a-z0-9]+|cairn-node-agent-n[0-9])(/|$)#/NAME\2#' |
	sort | uniq -c | sort -rn | head -n 8 | sed 's/^/  /'
# Where the time went: the controller's share is before the first and after the last
# PodVolumeBackup; the agents' is between.
kcurl "$API/podvolumebackups" | python3 -c '
import json, sys, datetime
def t(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
it = json.load(sys.stdin)["items"]
start = float(sys.argv[1]); end = float(sys.argv[2])
made = sorted(t(i["metadata"]["creationTimestamp"]) for i in it)
done = sorted(t(i["status"]["completionTimestamp"]) for i in it if i.get("status", {}).get("completionTimestamp"))
if made and done:
    print("PodVolumeBackups created %.0f..%.0f s after the Backup, completed by %.0f s; Completed seen at %.1f s (timestamps in whole seconds)" % (
        made[0] - int(start), made[-1] - int(start), done[-1] - int(start), end - start))' "$start" "$end"
