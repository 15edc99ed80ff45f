#!/bin/bash
# End to end, the PodVolumeRestore's options as the agent honours them:
# - spec.writeSparseFiles: false writes a sparse file's holes as zeros (the file owns its
#   blocks); absent, holes stay holes.
# - spec.overwrite: true restores into a volume that holds data and rewrites only what
#   differs: identical files keep inode and ctime, a changed one is written again.
# Each PVR targets a helper pod (label cairn.dev/restore-helper) the kubelet simulator runs.
# shellcheck source=tests/e2e/kubeapi-lib.sh
. "$(dirname "$0")/kubeapi-lib.sh"
ka_suite_env hp1 pv src/data/sub

t_on_exit ka_stop_all
ka_start --bookmark-interval 1 --load "$TOP_SRCDIR"/daemonset/crds/*.yaml

S=$W/src/data
head -c 300000 /dev/urandom >"$S/data.bin"
for i in 1 2 3; do echo "file $i" >"$S/sub/f$i"; done
truncate -s 16M "$S/sparse" && printf tail >>"$S/sparse"
ln -s sub/f1 "$S/link"
"$CAIRN_BIN" -r "$REPO" init >/dev/null 2>&1 || t_bail "cairn init failed"
"$CAIRN_BIN" -r "$REPO" backup "$S" >/dev/null 2>&1 || t_bail "cairn backup failed"
SNAP=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq -r '.[0].id')
[ "$(stat -c %b "$S/sparse")" -lt 2048 ] || t_bail "this file system keeps no holes"

ka_node1 "$W"
for h in h1 h2; do
	ka_restore_helper "$h" "$h"
done
t_wait 60 is_running app h1 && t_wait 60 is_running app h2
t_ok $? "two helper pods Running" || t_bail "no pods"
ka_agent_pod_ready "$W/hp1"
"$CAIRN_BIN" -r "$REPO" agent --node n1 --host-pods "$W/hp1" --kubeconfig "$KUBECONFIG" \
	--metrics-address 127.0.0.1:0 --progress-interval 1 --threads 2 >>"$W/agent.log" 2>&1 &
echo $! >"$W/agent.pid"

# pvr NAME POD RESTORE-UID EXTRA-SPEC: create a PodVolumeRestore and wait for its end.
pvr() {
	ka_pvr "$1" "$2" data "$3" "$SNAP" "$4"
	ka_pvr_end "$1"
}
vol() { echo "$W/hp1/$(field "/api/v1/namespaces/app/pods/$1" .metadata.uid)/volumes/kubernetes.io~local-volume/$(pv_of app "$1")"; }
V1=$(vol h1)
V2=$(vol h2)
blocks() { echo $(($(stat -c '%b * %B' "$1"))); }

# ---- sparse files ----
[ "$(pvr p1 h1 11111111-0000-4000-8000-000000000001 'writeSparseFiles: false')" = Completed ]
t_ok $? "writeSparseFiles false: Completed"
[ "$(blocks "$V1/sparse")" -ge $((16 * 1024 * 1024)) ]
t_ok $? "writeSparseFiles false: the holes are written, the file owns its 16 MiB ($(blocks "$V1/sparse") bytes)"
[ "$(pvr p2 h2 11111111-0000-4000-8000-000000000002 '')" = Completed ]
t_ok $? "default: Completed"
[ "$(blocks "$V2/sparse")" -lt $((1024 * 1024)) ]
t_ok $? "default: holes stay holes ($(blocks "$V2/sparse") bytes allocated)"
for v in "$V1" "$V2"; do rm -rf "$v/.velero"; done
cmp -s "$S/sparse" "$V1/sparse" &&
	[ "$(stat -c '%s %a %Y' "$S/sparse")" = "$(stat -c '%s %a %Y' "$V1/sparse")" ]
t_ok $? "writeSparseFiles false: the file reads the same, with its size, mode and mtime"
# treecmp also compares sparseness: the rest is compared without that file.
cp -a "$S" "$W/nosparse" && rm "$W/nosparse/sparse"
mv "$V1/sparse" "$W/sparse.1"
t_same "writeSparseFiles false: everything else byte- and metadata-identical" --no-atime \
	$(t_owner_opt) --ignore-root-times "$W/nosparse" "$V1"
t_same "default: byte-, metadata- and hole-identical" --no-atime $(t_owner_opt) \
	--ignore-root-times "$S" "$V2"

# ---- overwrite: identical files are not rewritten ----
ids() { (cd "$1" && find . ! -type d ! -path './.velero*' -printf '%p %i %C@\n' | sort); }
m=$(stat -c %y "$V2/sub/f2")
echo "FILE 2" >"$V2/sub/f2" # same size and mtime, other bytes
touch -d "$m" "$V2/sub/f2"
ids "$V2" >"$W/ids.1"
[ "$(pvr p3 h2 11111111-0000-4000-8000-000000000003 '')" = Failed ] &&
	field "$API/podvolumerestores/p3" .status.message | grep -q "not empty"
t_ok $? "without overwrite a volume holding data is refused"
[ "$(pvr p4 h2 11111111-0000-4000-8000-000000000004 'overwrite: true')" = Completed ]
t_ok $? "overwrite: Completed"
ids "$V2" >"$W/ids.2"
changed=$(diff "$W/ids.1" "$W/ids.2" | grep '^>' | cut -d' ' -f2 | tr '\n' ' ')
[ "$changed" = "./sub/f2 " ]
t_ok $? "overwrite: only the changed file was written again ($changed)" ||
	diff "$W/ids.1" "$W/ids.2" | head | sed 's/^/#   /'
grep -q "pvr cairn/p4: 5 files already identical in the volume were left as they were" "$W/agent.log"
t_ok $? "the agent logs how many files it left alone"
rm -rf "$V2/.velero"
t_same "overwrite: the volume is the snapshot's again" --no-atime $(t_owner_opt) \
	--ignore-root-times "$S" "$V2"
# ---- a forged PodVolumeRestore: one line in the log, nothing run, nothing written ----
ka_pvr bad h1 '"data/../../../../etc"' 11111111-0000-4000-8000-000000000009 "$SNAP"
BAD_UID=$(field "$API/podvolumerestores/bad" .metadata.uid)
said() { grep -q "PodVolumeRestore uid $BAD_UID ignored" "$W/agent.log"; }
t_wait 60 said
t_ok $? "a PVR whose volume is not a name: the agent says it ignores it"
# A valid PVR after it completes: the agent went past the forged one without running it.
[ "$(pvr p5 h1 11111111-0000-4000-8000-000000000005 'overwrite: true')" = Completed ]
t_ok $? "a valid PVR after it still runs"
[ "$(grep -c "PodVolumeRestore uid $BAD_UID ignored" "$W/agent.log")" = 1 ] &&
	[ -z "$(field "$API/podvolumerestores/bad" '.status.phase // ""')" ]
t_ok $? "the forged PVR is said once, never claimed, and has no status"
# ---- device nodes: a pod volume never gains one from a repository (any node can write
# a snapshot there); the rest of the snapshot is restored and the device is named ----
mkdir -p "$W/src2/data"
echo hello >"$W/src2/data/f"
mknod "$W/src2/data/null" c 1 3 || t_bail "mknod failed"
"$CAIRN_BIN" -r "$REPO" backup "$W/src2/data" >/dev/null 2>&1 || t_bail "cairn backup failed"
SNAP=$("$CAIRN_BIN" -r "$REPO" snapshots --json | jq -r '.[-1].id')
ph=$(pvr p6 h1 11111111-0000-4000-8000-000000000006 'overwrite: true')
msg=$(field "$API/podvolumerestores/p6" '.status.message // ""')
[ "$ph" = PartiallyFailed ] && case $msg in "1 file not restored: "*null*device*) true ;; *) false ;; esac
t_ok $? "a snapshot holding a device node: PartiallyFailed, '1 file not restored', the device named ($ph: ${msg:0:160})"
[ ! -e "$V1/null" ] && [ ! -L "$V1/null" ] && [ "$(cat "$V1/f" 2>/dev/null)" = hello ]
t_ok $? "no device node in the volume, the file beside it restored"
grep -q "null.*device" "$W/agent.log"
t_ok $? "the agent's log names the device"
t_done
