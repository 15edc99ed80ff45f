#!/bin/bash
# `check` reports what restore refuses as forged or corrupt, so that a routine check finds
# a planted snapshot before a restore meets it: a file whose extents do not add up to its
# size, a name held twice or out of order in a folder, a symlink without a target or with
# one longer than any link, a name longer than a file name can be (the tree decoder itself
# refuses "", ".", ".." and names with '/' or NUL, in check and restore alike). Before,
# `check --read-data` said "0 problems" for all of them while restore named each one
# (red-team finding L2). An honest snapshot stays clean.
. "$(dirname "$0")/lib.sh"
t_need
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"
t_init_repo "$T_TMP/repo"
mkdir -p "$T_TMP/src/d" && echo hello >"$T_TMP/src/d/a" && ln -s d/a "$T_TMP/src/l"
t_cmd "backup of an honest tree" cairn backup "$T_TMP/src"
t_cmd "check --read-data of the honest repository is clean" cairn check --read-data

LONG=$(printf 'n%.0s' $(seq 300))
ID=$(CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO" <<SPEC
dir f
file ok fine
hole short 10 20
file twice one
file twice two
file a out-of-order
link zlink %
longlink zzlong 5000
end
file $LONG long
SPEC
) || t_bail "forge failed"
run cairn check --read-data
t_rc 14 "check of the repository holding the forged snapshot fails (exit 14)"
s=0
grep -q "snapshot ${ID:0:8}: /f/short: its extents do not add up to its size" "$ERR" || s=1
grep -q "snapshot ${ID:0:8}: /f/twice: this name comes twice or out of order" "$ERR" || s=1
grep -q "snapshot ${ID:0:8}: /f/a: this name comes twice or out of order" "$ERR" || s=1
grep -q "snapshot ${ID:0:8}: /f/zlink: a symlink without a valid target" "$ERR" || s=1
grep -q "snapshot ${ID:0:8}: /$LONG: an invalid name" "$ERR" || s=1
t_ok $s "each of the five is named with its snapshot and path" || t_diag "$ERR" 20
s=0
grep -q "/f/ok" "$ERR" && s=1
grep -q "snapshot ${ID:0:8}: /f/twice: .*twice" "$ERR" &&
	[ "$(grep -c '/f/twice:' "$ERR")" = 1 ] || s=1
t_ok $s "the sound entries are not named, the repeated name once"
grep -q "snapshot ${ID:0:8}: /f/zzlong: a symlink target of 5000 bytes, longer than any link" "$ERR"
t_ok $? "a symlink target longer than PATH_MAX is named (restore and the mount refuse it)" ||
	t_diag "$ERR" 20
run cairn restore "$ID" --target "$T_TMP/out"
t_rc 3 "restore refuses the same entries (exit 3)"
t_done
