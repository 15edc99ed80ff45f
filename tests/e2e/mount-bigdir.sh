#!/bin/bash
# `cairn mount` of a folder too large to hold in memory. The mount loaded a folder's
# listing whole, and readdirplus made one node per entry that the kernel then held: a
# folder of a million entries with long names (honest, or forged: every node can write
# the repository) held GBs. Loaded listings are now bounded in bytes (test builds lower
# the limits: CAIRN_TEST_MOUNT_FOLDER_BYTES, CAIRN_TEST_MOUNT_LISTING_BYTES); a folder
# over its limit is read from its tree at each listing and lookup, and still lists whole,
# looks every name up and reads its files; the log names it once. The mount's peak RSS
# (VmHWM) must stay within a bound that the old binary passes by far.
# A snapshot root over the limit (forged: an honest root holds one entry per backed-up
# path) is shown cut at the limit, with one line naming it.
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "FUSE mounts need root here (/dev/fuse is root-only)"
command -v fusermount3 >/dev/null || t_bail "fusermount3 missing (tests/fuse/deps.sh)"
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"

N=${BIGDIR_N:-40000}
PAD=$(printf 'x%.0s' $(seq 220)) # 220 + "-NNNNNN": names near the 255-byte limit
mkdir -p "$T_TMP/src/big" "$T_TMP/src/small"
(cd "$T_TMP/src/big" && seq -f "$PAD-%06g" 1 "$N" | xargs touch) || t_bail "cannot make $N files"
echo hello >"$T_TMP/src/big/$PAD-000777"
echo world >"$T_TMP/src/small/ok"
t_init_repo "$T_TMP/repo"
run cairn --json backup "$T_TMP/src"
t_rc 0 "backup of a folder of $N entries with 227-byte names"

# shellcheck source=tests/e2e/mount-lib.sh
. "$(dirname "$0")/mount-lib.sh"
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$BG/status"; }

# 1 MiB for one folder: the big one (about 16 MiB of names and nodes) is over it.
mount_at "$T_TMP/mnt" "$T_TMP/mount.err" CAIRN_TEST_MOUNT_FOLDER_BYTES=1048576 \
	CAIRN_TEST_MOUNT_LISTING_BYTES=2097152
B="$S/src/big"
[ -d "$B" ] || t_bail "no folder big under $S"
(cd "$T_TMP/src/big" && ls -f | grep -v '^\.\.\?$' | LC_ALL=C sort) >"$T_TMP/want"
for pass in 1 2; do
	got=$(timeout 300 ls -f "$B" | wc -l)
	t_ok $(($got != N + 2)) "ls -f lists all $N entries and the dots (pass $pass: $got)"
done
timeout 300 find "$B" -mindepth 1 -printf '%f\n' | LC_ALL=C sort >"$T_TMP/got"
cmp -s "$T_TMP/want" "$T_TMP/got"
t_ok $? "find lists every name, each once, as backed up" ||
	diff "$T_TMP/want" "$T_TMP/got" | head -5 | sed 's/^/# /'
s=0
for i in 000001 000777 020000 "$(printf %06d "$N")"; do
	[ -f "$B/$PAD-$i" ] || { s=1; t_note "lookup of $PAD-$i fails"; }
done
t_ok $s "lookup finds the first, a middle and the last name"
[ "$(timeout 60 cat "$B/$PAD-000777")" = hello ]
t_ok $? "a file of the big folder reads back"
s=0
for i in 000000 "$(printf %06d $((N + 1)))" 0007770; do
	[ -e "$B/$PAD-$i" ] && { s=1; t_note "$PAD-$i found"; }
done
[ -e "$B/a" ] && s=1
[ -e "$B/zzz" ] && s=1
t_ok $s "names it does not hold are not found (before, between and after its names)"
[ "$(timeout 30 cat "$S/src/small/ok")" = world ]
t_ok $? "a small folder beside it lists and reads as before"
[ "$(grep -c "folder 'big'.*over 1048576 bytes" "$MLOG")" = 1 ]
t_ok $? "the log names the big folder once, with the limit" || t_diag "$MLOG"
hwm=$(hwm_kib)
# The old mount held the listing and one node per entry: about 75 MiB here. ASan's shadow
# memory and quarantine make RSS meaningless in sanitizer builds (as in backup-stdin.sh).
if readelf -sW "$CAIRN_BIN" | grep -q '__asan_init'; then
	t_skip "the mount's peak RSS stays under 48 MiB" "sanitizer build ($hwm KiB)"
else
	t_ok $((hwm > 48 * 1024)) "the mount's peak RSS stays under 48 MiB ($hwm KiB)"
fi
unmount

# A forged snapshot whose root holds more than its limit: shown cut, and said once.
{
	for i in $(seq 1 3000); do echo "file $PAD-r$i R"; done
} | CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO" >"$T_TMP/id" || t_bail "forge failed"
# And a forged folder over its limit holding names twice and out of order: read from its
# tree, it must show what a loaded listing shows (and restore writes), each name once.
{
	echo 'dir fz'
	echo 'file a A'
	echo 'file dup first'
	echo 'file dup second'
	echo 'file m M'
	echo 'file z Z'
	echo 'file p P'
	echo 'file zz ZZ'
	for i in $(seq -w 1 2000); do echo "file zz$PAD-$i F"; done
	echo 'file b B'
	echo 'end'
} | CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO" >"$T_TMP/id2" || t_bail "forge failed"
mount_at "$T_TMP/mnt2" "$T_TMP/mount2.err" CAIRN_TEST_MOUNT_FOLDER_BYTES=262144
F=$(ls -d "$MNT"/ids/"$(cut -c1-8 "$T_TMP/id2")"*/fz 2>/dev/null | head -n 1)
[ -d "$F" ] || t_bail "no folder fz for the second forged snapshot in $MNT/ids"
got=$(timeout 60 ls -f "$F" | grep -v '^\.\.\?$' | grep -v "^zz$PAD" | LC_ALL=C sort | tr '\n' ' ')
n=$(timeout 60 ls -f "$F" | grep -c "^zz$PAD")
[ "$got" = "a dup m z zz " ] && [ "$n" = 2000 ]
t_ok $? "a forged folder read from its tree lists each name once, in order ('$got', $n)"
[ "$(timeout 30 cat "$F/dup")" = first ] && [ "$(timeout 30 cat "$F/zz$PAD-1999")" = F ] &&
	[ "$(timeout 30 cat "$F/a")" = A ]
t_ok $? "its lookups find the first copy of a name, and names before and after"
s=0
for x in p b; do [ -e "$F/$x" ] && s=1; done
t_ok $s "its entries out of order are not found (restore leaves them out)"
grep -q "folder 'fz'.*over 262144 bytes" "$MLOG"
t_ok $? "the log names it" || t_diag "$MLOG"
R=$(ls -d "$MNT"/ids/"$(cut -c1-8 "$T_TMP/id")"* 2>/dev/null | head -n 1)
[ -d "$R" ] || t_bail "no folder for the forged snapshot in $MNT/ids ($(ls "$MNT/ids"))"
n1=$(timeout 60 ls -f "$R" | wc -l)
n2=$(timeout 60 ls -f "$R" | wc -l)
[ "$n1" -gt 2 ] && [ "$n1" -lt 3002 ] && [ "$n1" = "$n2" ]
t_ok $? "the root is shown cut at its limit, the same each time ($n1 of 3002)"
first=$(timeout 60 ls -f "$R" | grep -v '^\.\.\?$' | head -n 1)
[ -n "$first" ] && [ "$(timeout 30 cat "$R/$first")" = R ]
t_ok $? "an entry of the cut root reads back"
[ "$(grep -c "snapshot root): only its first .* entries are shown" "$MLOG")" = 1 ]
t_ok $? "the log names the cut root once" || t_diag "$MLOG"
unmount
t_done
