#!/bin/bash
# shellcheck disable=SC2015 # ok and not_ok always succeed: A && ok || not_ok is safe
# End to end: the API-server double enforcing cairn's own CRDs (daemonset/crds/), three
# `cairn agent`s for three simulated nodes (each with its own host-pods tree), one shared
# local repository. PodVolumeBackups, made as the controller makes them (mkobj.py: owned
# by a Backup, generateName, labels), for an emptyDir, a CSI PVC and an NFS PVC complete
# and restore byte-identical; a re-created pod gets an incremental backup; wrong-node,
# missing-path, cancel, kill -9 and Backup-deletion cases.
set -u
v=""
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CAIRN_BIN:?CAIRN_BIN must name the cairn binary}"
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$TOP_SRCDIR/tests/e2e/kubeapi-lib.sh"
W=$KA_DIR/work
mkdir -p "$W"
export CAIRN_PASSWORD=e2e-agent-password
REPO=$W/repo

cleanup() {
	for n in 1 2 3; do
		[ -f "$W/agent$n.pid" ] && kill -9 "$(cat "$W/agent$n.pid")" 2>/dev/null
	done
	if [ "$T_FAILED" -ne 0 ]; then
		for n in 1 2 3; do
			echo "# agent n$n log:"
			tail -n 15 "$W/agent$n.log" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	ka_cleanup
}
t_on_exit cleanup
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml
NS=cairn
API=/apis/cairn.dev/v1alpha1/namespaces/$NS

# Polling goes through curl: a kubectl run costs half a second of discovery.
pvb_json() { kcurl "$API/podvolumebackups/$1" 2>/dev/null; }
# field NAME EXPR: a Python expression over the PVB object `d`.
field() { pvb_json "$1" | jq_py "$2" 2>/dev/null; }
phase() { field "$1" 'd.get("status", {}).get("phase", "")'; }
# wait_phase NAME PHASE... : up to a 120 s deadline for one of the phases (a count of
# polls shrinks or stretches with the load: each one starts python).
wait_phase() {
	local end=$((SECONDS + 120))
	name=$1
	shift
	while :; do
		p=$(phase "$name")
		for want in "$@"; do
			[ "$p" = "$want" ] && return 0
		done
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.1
	done
	t_note "$name stayed in phase '$p' (wanted $*)"
	return 1
}

start_agent() { # N
	"$CAIRN_BIN" -r "$REPO" agent --node "n$1" --host-pods "$W/hp$1" \
		--kubeconfig "$KUBECONFIG" --metrics-address 127.0.0.1:0 --concurrency 2 \
		--progress-interval 1 --threads 1 >>"$W/agent$1.log" 2>&1 &
	echo $! >"$W/agent$1.pid"
}

# mkpvb BACKUP POD VOLUME: a PodVolumeBackup as the controller makes it; prints its name.
mkpvb() { python3 "$KA_HOME/mkobj.py" "$KA_DIR" pvb "$1" app "$2" "$3"; }

fill() { # DIR MB: random files, a small text file, a subfolder and a symlink
	mkdir -p "$1/sub"
	head -c $(($2 * 1024 * 1024)) /dev/urandom >"$1/big.bin"
	echo "hello from $1" >"$1/sub/small.txt"
	ln -s sub/small.txt "$1/link"
	chmod 640 "$1/sub/small.txt"
}

t_cmd "repository initialised" "$CAIRN_BIN" -r "$REPO" init
ka_namespace app
kc create -f - >/dev/null <<'EOF'
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-csi}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-1}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-nfs}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  nfs: {server: nfs.example, path: /export}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c2, namespace: app}
spec: {accessModes: [ReadWriteOnce], volumeName: pv-csi, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c3, namespace: app}
spec: {accessModes: [ReadWriteMany], volumeName: pv-nfs, resources: {requests: {storage: 1Gi}}}
EOF

U1=$(ka_pod p1 n1 '[{name: cache, emptyDir: {}}, {name: big, emptyDir: {}}]')
U2=$(ka_pod p2 n2 '[{name: data, persistentVolumeClaim: {claimName: c2}}, {name: big, emptyDir: {}}]')
U3=$(ka_pod p3 n3 '[{name: data, persistentVolumeClaim: {claimName: c3}}, {name: ghost, emptyDir: {}}]')
V1=$W/hp1/$U1/volumes/kubernetes.io~empty-dir/cache
V2=$W/hp2/$U2/volumes/kubernetes.io~csi/pv-csi/mount
V3=$W/hp3/$U3/volumes/kubernetes.io~nfs/pv-nfs
fill "$V1" 3
fill "$V2" 2
fill "$V3" 1
mkdir -p "$W/hp3/$U3/volumes/kubernetes.io~empty-dir"
ka_pod p9 n9 '[{name: cache, emptyDir: {}}]' >/dev/null
t_cmd "pods have uids" test -n "$U1" -a -n "$U2" -a -n "$U3"

for n in 1 2 3; do start_agent $n; done
BK_UID=$(python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk)
B1=$(mkpvb bk p1 cache)
B2=$(mkpvb bk p2 data)
B3=$(mkpvb bk p3 data)
BW=$(mkpvb bk p9 cache)
BG=$(mkpvb bk p3 ghost)
case $B1 in bk-?????) t_pass "PVB named from generateName ($B1)" ;; *) t_fail "PVB name $B1" ;; esac
field "$B2" 'd["metadata"]["labels"]["cairn.dev/pvc-uid"] != "" and d["metadata"]["ownerReferences"][0]["uid"] == "'"$BK_UID"'"' |
	grep -qx true && t_pass "PVB owned by the Backup, labelled with the claim's uid" || t_fail "PVB $B2 metadata"

for b in "$B1" "$B2" "$B3"; do
	t_cmd "$b completed" wait_phase $b Completed
done
i=1
for b in "$B1" "$B2" "$B3"; do
	eval "v=\$V$i"
	size=$(du -b --apparent-size "$v/big.bin" "$v/sub/small.txt" | awk '{s += $1} END {print s}')
	st=$(pvb_json $b | jq_py 'd["status"]')
	echo "$st" | jq_py 'd["progress"]["totalBytes"] == d["progress"]["bytesDone"] and d["progress"]["bytesDone"] >= '"$size" | grep -qx true &&
		t_pass "$b progress totalBytes = bytesDone >= $size" || t_fail "$b progress: $st"
	echo "$st" | jq_py 'd["path"]' | grep -qx "$v" && t_pass "$b status.path is the kubelet folder" ||
		t_fail "$b path: $st"
	echo "$st" | jq_py 'len(d["snapshotID"]) == 64 and "startTimestamp" in d and "completionTimestamp" in d and d["incrementalBytes"] > 0' |
		grep -qx true && t_pass "$b snapshotID, timestamps, incrementalBytes" || t_fail "$b fields: $st"
	field $b 'd["metadata"].get("finalizers") or []' | grep -q pod-volume-finalizer &&
		t_fail "$b finalizer left behind" || t_pass "$b finalizer removed"
	id=$(field $b 'd["status"]["snapshotID"]')
	rm -rf "$W/restore-$b"
	if "$CAIRN_BIN" -r "$REPO" restore "$id" --target "$W/restore-$b" >/dev/null 2>&1 &&
		diff -r "$v" "$W/restore-$b/$(basename "$v")" >/dev/null &&
		[ "$(readlink "$W/restore-$b/$(basename "$v")/link")" = sub/small.txt ]; then
		t_pass "$b snapshot restores byte-identical"
	else
		t_fail "$b restore differs"
	fi
	eval "SNAP_$i=\$id"
	i=$((i + 1))
done

tags=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py '[s["tags"] for s in d if s["id"] == "'"$SNAP_2"'"][0]')
for t in ns=app pod=p2 pod-uid="$U2" volume=data pvc=c2 pvc-uid= backup=bk backup-uid="$BK_UID"; do
	echo "$tags" | grep -q "\"$t" && t_pass "tag $t" || t_fail "tag $t missing: $tags"
done

t_cmd "ghost volume failed" wait_phase "$BG" Failed
msg=$(field "$BG" 'd["status"].get("message", "")')
case $msg in
*"/$U3/volumes/*/ghost"*) t_pass "failure message names the glob" ;;
*) t_fail "failure message: $msg" ;;
esac
kc get events -n $NS -o json | jq_py '[e["reason"] for e in d["items"] if e["involvedObject"]["name"] == "'"$BG"'"]' |
	grep -q BackupFailed && t_pass "Warning event for the failure" || t_fail "no event for $BG"
t_cmd "wrong-node PVB left alone" test "$(phase "$BW")" = ""

# Second run after the pod is re-created with a new uid: incremental, same identity.
kc delete pod -n app p1 >/dev/null
U1b=$(ka_pod p1 n1 '[{name: cache, emptyDir: {}}, {name: big, emptyDir: {}}]')
t_cmd "re-created pod has a new uid" test "$U1b" != "$U1"
V1b=$W/hp1/$U1b/volumes/kubernetes.io~empty-dir/cache
mkdir -p "$(dirname "$V1b")"
cp -a "$V1" "$V1b"
echo "changed" >>"$V1b/sub/small.txt"
python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk2 >/dev/null
B21=$(mkpvb bk2 p1 cache)
t_cmd "second backup completed" wait_phase "$B21" Completed
inc=$(field "$B21" 'd["status"]["incrementalBytes"]')
tot=$(field "$B21" 'd["status"]["progress"]["totalBytes"]')
if [ "$inc" -lt $((tot / 4)) ] 2>/dev/null; then
	t_pass "second run is incremental ($inc of $tot bytes added)"
else
	t_fail "second run added $inc of $tot bytes"
fi
id2=$(field "$B21" 'd["status"]["snapshotID"]')
"$CAIRN_BIN" -r "$REPO" snapshots --json | jq_py '[s.get("parent", "") for s in d if s["id"] == "'"$id2"'"][0]' |
	grep -q "$SNAP_1" && t_pass "parent is the first snapshot of the volume" ||
	t_fail "parent of $id2 is not $SNAP_1"

# Cancel a running backup.
VB=$W/hp1/$U1b/volumes/kubernetes.io~empty-dir/big
mkdir -p "$VB"
head -c $((300 * 1024 * 1024)) /dev/urandom >"$VB/huge.bin"
python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk3 >/dev/null
B3C=$(mkpvb bk3 p1 big)
# Cancel as soon as it is claimed: on a loaded machine the poll can lag by seconds.
t_cmd "big backup claimed" wait_phase "$B3C" Accepted InProgress
kcurl "$API/podvolumebackups/$B3C" -X PATCH \
	-H 'Content-Type: application/merge-patch+json' -d '{"spec":{"cancel":true}}' >/dev/null
t_cmd "cancel ends in Canceled" wait_phase "$B3C" Canceled Completed
t_note "$B3C: $(field "$B3C" 'd["status"].get("message", "")')"
t_cmd "phase is Canceled, not Completed" test "$(phase "$B3C")" = Canceled

# Deleting the Backup (foreground, as kubectl --cascade=foreground) deletes its running
# PVB: the agent sees the deletion, cancels, removes its finalizer; then the Backup goes.
python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk5 >/dev/null
B5=$(mkpvb bk5 p1 big)
t_cmd "backup of bk5 claimed" wait_phase "$B5" Accepted InProgress
kcurl "$API/backups/bk5" -X DELETE -H 'Content-Type: application/json' \
	-d '{"propagationPolicy":"Foreground"}' >/dev/null
absent() { [ "$(kcurl "$API/$1" -o /dev/null -w '%{http_code}')" = 404 ]; }
t_cmd "deleting the Backup ends its running PVB (finalizer removed, object gone)" \
	t_wait 120 absent "podvolumebackups/$B5"
t_cmd "the Backup goes once its PVB is gone (foreground GC)" t_wait 120 absent backups/bk5

# kill -9 an agent mid-backup, restart it: the PVB ends in a terminal phase.
VB2=$W/hp2/$U2/volumes/kubernetes.io~empty-dir/big
mkdir -p "$VB2"
head -c $((300 * 1024 * 1024)) /dev/urandom >"$VB2/huge.bin"
python3 "$KA_HOME/mkobj.py" "$KA_DIR" backup bk4 >/dev/null
B4=$(mkpvb bk4 p2 big)
t_cmd "backup on n2 in progress" wait_phase "$B4" InProgress
kill -9 "$(cat "$W/agent2.pid")"
wait "$(cat "$W/agent2.pid")" 2>/dev/null
t_cmd "still InProgress after kill -9" test "$(phase "$B4")" = InProgress
start_agent 2
t_cmd "restarted agent ends it" wait_phase "$B4" Failed Completed
field "$B4" 'd["status"].get("message", "")' | grep -q restarted &&
	t_pass "Failed with a message that explains the restart" ||
	t_fail "$B4: $(phase "$B4"): $(field "$B4" 'd["status"].get("message", "")')"

port=$(sed -n 's/.*metrics and \/healthz on port \([0-9]*\).*/\1/p' "$W/agent1.log" | tail -n 1)
curl -s "http://127.0.0.1:$port/metrics" | grep -q 'cairn_pvb_total{phase="Completed"} [1-9]' &&
	t_pass "metrics count completed backups" || t_fail "metrics on port $port"
t_cmd "healthz" sh -c "curl -sf http://127.0.0.1:$port/healthz | grep -q ok"

for n in 1 2 3; do kill "$(cat "$W/agent$n.pid")" 2>/dev/null; done
for n in 1 2 3; do wait "$(cat "$W/agent$n.pid")" 2>/dev/null; rm -f "$W/agent$n.pid"; done
t_cmd "cairn check passes" "$CAIRN_BIN" -r "$REPO" check
grep -q "$KA_TOKEN" "$W"/agent*.log && t_fail "token leaked into a log" || t_pass "no token in the logs"
t_done
