#!/bin/bash
# End to end, migration: two volumes backed up in "cluster A" (one API-server double with
# its kubelet simulator, agent and controller); A is torn down; "cluster B" (a second,
# empty double) gets a storage location in ReadOnly access mode on the same repository.
# B's controller re-creates the Backup from the repository (DR sync), a Restore into new
# claims in B completes with byte- and metadata-identical data, and the repository is
# not written at all meanwhile: every file's size and sha256 are the same before and
# after, and an inotify watch over the repository folder sees no create, write, rename
# or delete (a lock taken and removed again would show there). The agents run with a
# fixed -r repository, as in restore-pvc-new.sh: the location's ReadOnly still holds.
# B's controller expires every Backup at once and wants maintenance every second: with
# the location ReadOnly it forgets no snapshot and prunes nothing.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
ka_suite_env hpA pvA hpB pvB
phase_is() { [ "$(field "$API/$1" '.status.phase // ""')" = "$2" ]; }

# stop_procs: stop cluster A's processes and forget their pids, so that cluster B's
# processes take the same pid files.
stop_procs() {
	for f in "$W"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
}
t_on_exit ka_stop_all

# cluster NAME MODE [CONTROLLER-FLAGS...]: the double (already started), its kubelet
# simulator for node n1, the agent's own pod marked Running with its folder, a storage
# location in MODE, an agent and a controller.
cluster() {
	local c=$1 mode=$2
	shift 2
	ka_kubelet_n1 "$W" "$c"
	ka_namespace app
	ka_default_bsl "$mode"
	ka_agent_pod n1
	ka_agent_pod_ready "$W/hp$c"
	"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp$c" --kubeconfig "$KUBECONFIG" \
		--metrics-address 127.0.0.1:0 --progress-interval 1 --threads 2 \
		>>"$W/agent$c.log" 2>&1 &
	echo $! >"$W/agent.pid"
	"$CAIRN_BIN" controller --kubeconfig "$KUBECONFIG" -r "$REPO" --metrics-address 127.0.0.1:0 \
		--resync 200ms --sync-interval 1s "$@" >>"$W/controller$c.log" 2>&1 &
	echo $! >"$W/controller.pid"
}

# ---- cluster A: back up two claim volumes ----
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml
"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
cluster A ReadWrite
ka_db_claims 1Gi "" a b
t_wait 60 is_running app db
t_ok $? "cluster A: pod with two claims Running" || t_bail "no pod to back up"
DBUID=$(field /api/v1/namespaces/app/pods/db .metadata.uid)
declare -A SRC
for v in a b; do
	SRC[$v]=$W/hpA/$DBUID/volumes/kubernetes.io~local-volume/$(pv_of app data-$v)
	d=${SRC[$v]}
	mkdir -p "$d/sub/deep"
	head -c $((200000 + RANDOM)) /dev/urandom >"$d/data.bin"
	echo "volume $v" >"$d/sub/name.txt"
	ln -s ../data.bin "$d/sub/link"
	ln "$d/data.bin" "$d/sub/hard"
	truncate -s 3M "$d/sparse" && printf tail >>"$d/sparse"
	chmod 640 "$d/sub/name.txt"
	chmod 750 "$d/sub/deep"
	chown 1234:4321 "$d/sub/name.txt" 2>/dev/null
	python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.cairn", b"v")' "$d/data.bin" 2>/dev/null
	touch -d '2021-03-04 05:06:07' "$d/sub/name.txt" "$d/sub/deep" "$d/sub"
done
ka_cairn_obj Backup b1 "includedNamespaces: [app], defaultVolumesToFsBackup: true"
t_wait 120 phase_is backups/b1 Completed
t_ok $? "cluster A: backup b1 Completed" || t_bail "no backup to migrate"
n=$("$CAIRN_BIN" -r "$REPO" snapshots --json 2>/dev/null | jq 'length')
[ "$n" = 2 ] || t_bail "backup b1 holds $n snapshots, not 2"
# Cluster A goes away; its volumes' data stays for the comparison.
kc delete pod -n app db >/dev/null
t_wait 30 test ! -e "$W/hpA/$DBUID"
declare -A OLD
for v in a b; do OLD[$v]=$W/pvA/$(pv_of app data-$v); done
stop_procs
"$KA_HOME/stop.sh" "$KA_DIR"

# ---- the repository as cluster B finds it ----
repo_sums() {
	(cd "$REPO" && find . -printf '%p %y %s %m\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 sha256sum)
}
repo_sums >"$W/repo.before"
cat >"$W/inw.py" <<'EOF_PY'
# inotify over every folder of a tree: each event that changes it goes to the log.
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
# IN_MODIFY IN_ATTRIB IN_CLOSE_WRITE IN_MOVED_FROM IN_MOVED_TO IN_CREATE IN_DELETE
# IN_DELETE_SELF IN_MOVE_SELF
mask = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
wd = {}
for d, _, _ in os.walk(sys.argv[1]):
    w = libc.inotify_add_watch(fd, d.encode(), mask)
    if w < 0:
        sys.exit("cannot watch " + d)
    wd[w] = d
open(sys.argv[2], "w").close()
while True:
    buf = os.read(fd, 65536)
    i = 0
    with open(sys.argv[3], "a") as out:
        while i < len(buf):
            w, m, _, n = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode(errors="replace")
            out.write("%s/%s mask=%#x\n" % (wd.get(w, "?"), name, m))
            i += 16 + n
EOF_PY
: >"$W/repo.events"
python3 "$W/inw.py" "$REPO" "$W/inw.ready" "$W/repo.events" 2>"$W/inw.log" &
echo $! >"$W/inw.pid"
t_wait 30 test -e "$W/inw.ready" || t_bail "the inotify watch did not start"

# ---- cluster B: a second, empty double; the location is ReadOnly ----
KA_DIR=$(mktemp -d "$T_TMP/kubeapiB.XXXXXX")
export KUBECONFIG="$KA_DIR/kubeconfig" KUBECACHEDIR="$KA_DIR/cache"
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml
[ "$(obj "$API/backups" | jq '.items | length')" = 0 ]
t_ok $? "cluster B starts with no Backup"
# Every Backup there is expired at once and maintenance is due every second: neither
# may touch a ReadOnly location's repository (no snapshot forgotten, no prune).
cluster B ReadOnly --default-ttl 1s --maintenance-interval 1s
t_wait 60 phase_is backups/b1 Completed
t_ok $? "cluster B: DR sync re-created backup b1 from the ReadOnly location" || {
	t_note "$(obj "$API/backups")"
	t_bail "nothing to restore in cluster B"
}
synced() { [ "$(obj "$API/podvolumebackups" | jq '[.items[] | select(.status.phase == "Completed")] | length')" = 2 ]; }
t_wait 60 synced
t_ok $? "cluster B: its two PodVolumeBackups synced"
ka_cairn_obj Restore m1 "backupName: b1, namespaceMapping: {app: moved}"
ka_namespace moved
t_wait 120 phase_is restores/m1 Completed
t_ok $? "cluster B: Restore m1 Completed" || t_note "$(obj "$API/restores/m1" | jq -c .status)"
pvrs=$(obj "$API/podvolumerestores" | jq -r '[.items[] | .status.phase] | sort | join(",")')
[ "$pvrs" = "Completed,Completed" ]
t_ok $? "two PodVolumeRestores Completed ($pvrs)"
M1UID=$(field "$API/restores/m1" .metadata.uid)
for v in a b; do
	pvc=/api/v1/namespaces/moved/persistentvolumeclaims/data-$v
	[ "$(field $pvc .status.phase)" = Bound ] && [ "$(field $pvc .spec.storageClassName)" = fast ]
	t_ok $? "volume $v: a new claim data-$v in 'moved', Bound, class as recorded in A"
	new=$W/pvB/$(pv_of moved data-$v)
	[ -f "$new/.velero/$M1UID" ]
	t_ok $? "volume $v: done-file written"
	rm -rf "$new/.velero"
	t_same "volume $v: byte- and metadata-identical to cluster A's" --no-atime \
		$(t_owner_opt) --ignore-root-times "${OLD[$v]}" "$new"
done

[ "$(field "$API/backups/b1" '.status.phase')" = Completed ] &&
	[ "$(field "$API/backups/b1" '.metadata.deletionTimestamp // ""')" = "" ]
t_ok $? "cluster B: the expired backup b1 is kept: its location is ReadOnly"
grep -q "maintenance of .* skipped: .*ReadOnly" "$W/controllerB.log"
t_ok $? "cluster B: the controller says it skips maintenance of a ReadOnly location's repository"

# ---- the repository was not written ----
kill "$(cat "$W/controller.pid")" "$(cat "$W/agent.pid")" 2>/dev/null
t_wait 30 sh -c "! kill -0 $(cat "$W/controller.pid") 2>/dev/null && ! kill -0 $(cat "$W/agent.pid") 2>/dev/null"
repo_sums >"$W/repo.after"
cmp -s "$W/repo.before" "$W/repo.after"
t_ok $? "every file of the repository has the same size, mode and sha256 as before B" ||
	diff "$W/repo.before" "$W/repo.after" | head -n 20 | sed 's/^/#   /'
[ ! -s "$W/repo.events" ]
t_ok $? "inotify saw nothing created, written, renamed or removed in the repository (not even a lock)" ||
	head -n 20 "$W/repo.events" | sed 's/^/#   /'
grep -q "ReadOnly" "$W/agentB.log"
t_ok $? "the agent's log says it restores from a ReadOnly location without a lock"

! grep -q "$KA_TOKEN" "$W"/*.log
t_ok $? "no token in the logs"
t_done
