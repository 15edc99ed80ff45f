#!/bin/bash
# The main job end to end on a local repository: init, backup a tree with every file and
# metadata kind, list, restore, compare entry by entry with treecmp, verify, check,
# incremental backups, partial restores, excludes and cat.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1
OWN=$(t_owner_opt)
REPO=$T_TMP/repo

"$MKTREE" src --seed 42 --files 40 --big-mib 8 2>/dev/null || t_bail "mktree failed"
"$MKTREE" ref --seed 42 --files 40 --big-mib 8 2>/dev/null || t_bail "mktree failed"

run cairn init
t_rc 0 "init creates a repository"
[ -f repo/config ] && [ -d repo/keys ] && [ -n "$(ls repo/keys)" ]
t_ok $? "the repository has a config and a key file"
cfgsum=$(cat repo/config repo/keys/* | md5sum)
run cairn init
[ "$RC" -ne 0 ] && [ "$(cat repo/config repo/keys/* | md5sum)" = "$cfgsum" ]
t_ok $? "init on an existing repository fails and changes nothing (exit $RC)"

run cairn --json backup "$T_TMP/src"
t_rc 0 "first backup"
snap1=$(jget "$OUT" '.snapshot_id' 2>/dev/null)
[[ "$snap1" =~ ^[0-9a-f]{64}$ ]]
t_ok $? "the --json summary names the snapshot id" || t_diag "$OUT" 3
[ "$(jget "$OUT" '.message_type')" = summary ] && [ "$(jget "$OUT" '.files_new')" -gt 100 ]
t_ok $? "the summary counts the new files"

run cairn snapshots
[ "$RC" -eq 0 ] && grep -q "${snap1:0:8}" "$OUT"
t_ok $? "snapshots lists the snapshot"
run cairn --json snapshots
[ "$RC" -eq 0 ] && python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert isinstance(v, list) and len(v) == 1, v
assert v[0]["id"] == sys.argv[2], v[0]
assert any(p.endswith("/src") for p in v[0]["paths"]), v[0]
assert "tree" in v[0] and "time" in v[0] and "hostname" in v[0], v[0]' "$OUT" "$snap1" 2>"$T_TMP/py.err"
t_ok $? "snapshots --json: one snapshot with id, paths, tree, time, hostname" || t_diag "$T_TMP/py.err"
run cairn snapshots --json
[ "$RC" -eq 0 ] && json_ok "$OUT"
t_ok $? "snapshots accepts --json after the subcommand too (as in the issue)" || t_diag "$ERR"

run cairn restore latest --keep-privileges --target "$T_TMP/r1"
t_rc 0 "restore latest"
R1=$(t_landed "$T_TMP/r1" "$T_TMP/src")
SP=$(t_snap_path "$T_TMP/r1" "$T_TMP/src")
# shellcheck disable=SC2086
t_same "restored tree equals the original: names, bytes, modes, times, xattrs, ACLs, links, holes${OWN:+ (no owners: not root)}" $OWN ref "$R1"

run cairn ls latest
[ "$RC" -eq 0 ] && grep -q 'files/big-random' "$OUT" && grep -q 'links/relative' "$OUT"
t_ok $? "ls lists the files of the snapshot" || t_diag "$ERR"
run cairn --json ls latest
[ "$RC" -eq 0 ] && python3 -c '
import json, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
try:
    items = json.loads(raw)
except ValueError:
    items = [json.loads(l) for l in raw.splitlines() if l.strip()]
if isinstance(items, dict):
    items = items.get("nodes") or items.get("entries") or [items]
blob = json.dumps(items)
paths = [i.get("path", "") for i in items if isinstance(i, dict)]
# A newline may be carried as JSON "\n" or as an unambiguous "\x0a" escape.
assert any(p.endswith("/names/new\nline") or p.endswith("/names/new\\x0aline") for p in paths), "newline name missing"
assert any(p.endswith("/files/big-random") for p in paths), "big-random missing"
' "$OUT" 2>"$T_TMP/py.err"
t_ok $? "ls --json gives parseable JSON with every path (a newline in a name included)" || { t_diag "$T_TMP/py.err"; t_diag "$OUT" 3; }

run cairn restore "$snap1" --keep-privileges --target "$T_TMP/r2" --verify
t_rc 0 "restore --verify re-reads and checks every file"
run cairn check
t_rc 0 "check passes"
run cairn check --read-data
t_rc 0 "check --read-data passes"

run cairn --json backup "$T_TMP/src"
t_rc 0 "second backup of the unchanged tree"
[ "$(jget "$OUT" '.parent')" = "$snap1" ]
t_ok $? "the second backup found the first as its parent" || t_diag "$OUT" 2
[ "$(jget "$OUT" '.files_new')" = 0 ] && [ "$(jget "$OUT" '.files_changed')" = 0 ] &&
	[ "$(jget "$OUT" '.files_unmodified')" -gt 100 ]
t_ok $? "the unchanged re-backup counts 0 new and 0 changed files" || t_diag "$OUT" 2
added=$(jget "$OUT" '.data_added')
[ "$added" -lt 1048576 ]
t_ok $? "the unchanged re-backup adds almost nothing ($added bytes)"
snap2=$(jget "$OUT" '.snapshot_id')

# A day of changes: append, add, delete, chmod, a new xattr.
echo "one more line" >>src/files/text
echo new >src/files/added
rm src/files/var/f0003
chmod 0600 src/files/one
setfattr -n user.added -v yes src/files/4k-plus-7
run cairn --json backup "$T_TMP/src"
t_rc 0 "backup after changes"
[ "$(jget "$OUT" '.files_new')" -ge 1 ] && [ "$(jget "$OUT" '.files_changed')" -ge 1 ]
t_ok $? "the summary counts new and changed files" || t_diag "$OUT" 2
run cairn restore latest --keep-privileges --target "$T_TMP/r3"
t_rc 0 "restore the latest snapshot"
# The source's atimes moved when it was read; everything else must match.
# shellcheck disable=SC2086
t_same "the latest restore equals the changed tree" --no-atime $OWN src "$(t_landed "$T_TMP/r3" "$T_TMP/src")"

run cairn restore "$snap1:$SP/files" --keep-privileges --target "$T_TMP/r4"
t_rc 0 "restore SNAP:/subdir"
# shellcheck disable=SC2086
t_same "SNAP:/subdir puts the subdir's contents straight into the target" --ignore-root-times $OWN ref/files "$T_TMP/r4"

run cairn restore "$snap1" --keep-privileges --target "$T_TMP/r5" --include '*/links*'
t_rc 0 "restore --include"
L5=$(t_landed "$T_TMP/r5" "$T_TMP/src")
[ -L "$L5/links/relative" ] && [ -L "$L5/links/dangling" ] && ! [ -e "$L5/files/big-random" ] &&
	! [ -e "$L5/sparse" ]
t_ok $? "--include restores only what matches" || find "$T_TMP/r5" -maxdepth 4 | head | sed 's/^/#   /'
run cairn restore "$snap1" --keep-privileges --target "$T_TMP/r6" --exclude '*/sparse*' --exclude 'big-*'
t_rc 0 "restore --exclude"
L6=$(t_landed "$T_TMP/r6" "$T_TMP/src")
! [ -e "$L6/sparse" ] && ! [ -e "$L6/files/big-random" ] && [ -f "$L6/files/one" ] &&
	cmp -s "$L6/files/text" ref/files/text
t_ok $? "--exclude leaves out what matches (full path or name) and keeps the rest"

run cairn --json backup --exclude 'big-*' --exclude '*/deep' "$T_TMP/src"
t_rc 0 "backup with --exclude"
snap4=$(jget "$OUT" '.snapshot_id')
run cairn ls "$snap4"
[ "$RC" -eq 0 ] && ! grep -q 'big-random' "$OUT" && ! grep -q '/deep/' "$OUT" && grep -q 'files/one' "$OUT"
t_ok $? "an excluded path is not in the snapshot" || t_diag "$OUT" 5

run cairn cat config
[ "$RC" -eq 0 ] && json_ok "$OUT"
t_ok $? "cat config prints JSON" || t_diag "$OUT" 3
run cairn cat snapshot "$snap2"
# the tree is one id, or a list of {"id": ...} when the root listing spans several blobs
tree=$(jget "$OUT" 'if (.tree | type) == "string" then .tree else .tree[0].id end' 2>/dev/null)
[ "$RC" -eq 0 ] && [[ "$tree" =~ ^[0-9a-f]{64}$ ]]
t_ok $? "cat snapshot prints JSON with the tree id" || t_diag "$OUT" 3
run cairn cat tree "$tree"
[ "$RC" -eq 0 ] && json_ok "$OUT"
t_ok $? "cat tree prints JSON" || { t_diag "$OUT" 3; t_diag "$ERR"; }
idx=$(find repo/index -type f | head -n 1)
run cairn cat index "$(basename "$idx")"
[ -n "$idx" ] && [ "$RC" -eq 0 ] && json_ok "$OUT"
t_ok $? "cat index prints JSON" || { t_diag "$OUT" 3; t_diag "$ERR"; }
run cairn cat snapshot 0000000000000000000000000000000000000000000000000000000000000000
t_rc 13 "cat of an unknown snapshot: not found (13)"
run cairn version
[ "$RC" -eq 0 ] && [ -s "$OUT" ]
t_ok $? "version prints something"
run cairn check --read-data
t_rc 0 "check --read-data passes after all of it"
t_done
