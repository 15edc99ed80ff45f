#!/bin/bash
# Restore of forged snapshots (anyone with the password can write one): a tree holding a
# name that is "..", ".", empty, or holds '/' or NUL is refused when decoded and named;
# nothing is written outside the target and no file outside it is linked; repeated or
# out-of-order names are refused by restore itself; a name the snapshot root holds twice
# is restored from its first copy only. (tests/unit/test-restore-* cover restore's own name checks.)
. "$(dirname "$0")/lib.sh"
t_need
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"

t_init_repo "$T_TMP/repo"
BOX=$T_TMP/box
mkdir -p "$BOX/target" "$T_TMP/outside"
echo secret >"$BOX/victim"
forge() { CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO"; }

SNAP=$(forge <<EOF2
dir ..
file escaped-dotdot pwned
end
file ..%2Fescaped-slash pwned
file . dot
file % empty
file ok%00%2F..%2Fescaped-nul pwned
link out $T_TMP/outside
file out%2Fescaped-symlink pwned
hard ..%2Fvictim 7 pwned
hard good 7 safe
file ok fine
dir sub
file inner fine
file inner twice
file a out-of-order
end
EOF2
)
t_ok $? "forge writes a snapshot with invalid names" || t_bail "forge failed"

before=$(cd "$T_TMP" && find box outside -path box/target -prune -o -printf '%P %y %s %T@\n' | sort)
victim_ino=$(stat -c %i "$BOX/victim")
run cairn restore "$SNAP" --target "$BOX/target"
t_rc 14 "restore of a snapshot with forged names is refused (exit 14)"
grep -q "is malformed: an entry name is empty, '.', '..' or holds '/' or NUL" "$ERR"
t_ok $? "the message names the malformed tree" || t_diag "$ERR"
after=$(cd "$T_TMP" && find box outside -path box/target -prune -o -printf '%P %y %s %T@\n' | sort)
s=0
[ "$before" = "$after" ] || s=1
t_ok $s "nothing is written outside the target" || diff <(echo "$before") <(echo "$after") | sed 's/^/#   /'
s=0
grep -qx secret "$BOX/victim" && [ "$(stat -c %h "$BOX/victim")" = 1 ] &&
	[ "$(stat -c %i "$BOX/victim")" = "$victim_ino" ] || s=1
t_ok $s "the file outside the target is neither changed nor linked"
s=0
[ -z "$(find "$BOX/target" -name '*cairn-partial*')" ] || s=1
t_ok $s "no temporary file is left"
run cairn --json restore "$SNAP" --target "$T_TMP/json"
s=0
[ "$RC" = 14 ] && grep -a '"message_type"' "$OUT" "$ERR" | grep -q "malformed" || s=1
t_ok $s "--json: exit 14 and the malformed tree named (exit $RC)" || t_diag "$OUT" 20

# Names that are each valid but repeated or out of order inside a folder (the decoder
# accepts them; restore refuses them, so a late rename cannot race an earlier entry).
SNAP3=$(forge <<EOF2
file ok fine
dir sub
file inner fine
file inner twice
file a out-of-order
end
EOF2
)
run cairn restore "$SNAP3" --target "$T_TMP/order"
t_rc 3 "a snapshot with a repeated name restores partially (exit 3)"
s=0
[ "$(cat "$T_TMP/order/ok")" = fine ] && [ "$(cat "$T_TMP/order/sub/inner")" = fine ] || s=1
t_ok $s "the valid entries are restored"
s=0
[ "$(grep -c 'twice or out of order' "$ERR")" = 2 ] && [ ! -e "$T_TMP/order/sub/a" ] || s=1
t_ok $s "a repeated or out-of-order name in a folder is refused and named" || t_diag "$ERR"

# SNAPSHOT:PATH resolves a name the way restore and the mount keep it: below the root an
# entry repeated or out of order is not the folder's. The lookup took the first match, so
# `ls SNAP:sub/a` listed, and `restore SNAP:sub/a` wrote, a file the full restore leaves
# out; and a repeat could be picked over the copy the full restore writes.
run cairn ls "$SNAP3" /sub/a
s=0
[ "$RC" != 0 ] && grep -q "sub/a: not found in snapshot" "$ERR" || s=1
t_ok $s "ls of an out-of-order entry: not found, as restore leaves it out (exit $RC)" || t_diag "$ERR"
run cairn restore "$SNAP3:/sub/a" --target "$T_TMP/order-a"
s=0
[ "$RC" != 0 ] && grep -q "not found in snapshot" "$ERR" && [ -z "$(find "$T_TMP/order-a" -type f 2>/dev/null)" ] || s=1
t_ok $s "restore SNAP:sub/a of an out-of-order entry: not found, nothing written (exit $RC)" || t_diag "$ERR"
run cairn ls "$SNAP3" /sub/inner
s=0
[ "$RC" = 0 ] && grep -q "inner" "$OUT" || s=1
t_ok $s "ls of a repeated name finds its first copy (exit $RC)" || t_diag "$ERR"

# The snapshot root keeps the order of the backed-up paths (not sorted) and a backup makes
# its names unique ("data", "data-2"). A forged root holding a name twice had both copies
# written to one place: the second file replaced the first, the second folder merged into
# the first, a FIFO took a file's place. The first copy of each name wins, as the mount
# shows it; each other copy is named once and nothing is written for it.
SNAP2=$(forge <<EOF2
file rdup first
dir ddup
file in one
end
file x
file rdup second
dir ddup
file in2 two
file in three
end
fifo x 644
dir rdup
file under folder
end
file last fine
EOF2
)
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" restore "$SNAP2" \
	--target "$T_TMP/rootdup" --verify
t_rc 3 "a root holding names twice restores partially (exit 3)"
s=0
[ "$(cat "$T_TMP/rootdup/rdup" 2>&1)" = first ] && [ -f "$T_TMP/rootdup/rdup" ] || s=1
t_ok $s "a file name repeated at the root (then as a folder) holds its first copy"
s=0
[ "$(find "$T_TMP/rootdup/ddup" -mindepth 1 -printf '%f ')" = "in " ] &&
	[ "$(cat "$T_TMP/rootdup/ddup/in")" = one ] || s=1
t_ok $s "a folder repeated at the root holds only its first copy's entries" ||
	find "$T_TMP/rootdup" -printf '#   %y %p\n'
s=0
[ -f "$T_TMP/rootdup/x" ] && [ ! -s "$T_TMP/rootdup/x" ] && [ "$(cat "$T_TMP/rootdup/last")" = fine ] || s=1
t_ok $s "a FIFO after a file of the same name is not made; the entry after them is restored"
s=0
[ "$(grep -c '/rdup: not restored: the snapshot root holds this name twice' "$ERR")" = 2 ] &&
	[ "$(grep -c '/ddup: not restored: the snapshot root holds this name twice' "$ERR")" = 1 ] &&
	[ "$(grep -c '/x: not restored: the snapshot root holds this name twice' "$ERR")" = 1 ] &&
	! grep -q 'in2\|under\|differ\|not a regular file' "$ERR" || s=1
t_ok $s "each copy left out is named once; --verify does not compare it with the first" ||
	t_diag "$ERR"
s=0
[ -z "$(find "$T_TMP/rootdup" -name '*cairn-partial*')" ] || s=1
t_ok $s "no temporary file is left"
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" --json restore "$SNAP2" \
	--target "$T_TMP/rootdup-json"
s=0
[ "$RC" = 3 ] &&
	[ "$(grep -a '"message_type"' "$OUT" "$ERR" | grep -c 'root holds this name twice')" = 4 ] || s=1
t_ok $s "--json: exit 3 and each copy left out named in one message (exit $RC)" ||
	{ t_diag "$ERR"; t_diag "$OUT"; }
# Names shaped like restore's temporary names (a leftover of a killed restore that was
# backed up, or forged): "a" was written under ".a.cairn-partial" while the snapshot's own
# ".a.cairn-partial" was renamed over it, so "a" got the other file's bytes, the other
# vanished, and the restore said 0; a symlink named like "!x"'s temporary name removed it
# in flight.
SNAP5=$(forge <<EOF2
dir d
file !x X
file .!x.cairn-partial XP
file .a.cairn-partial AAA
file a BBB
end
dir l
file !x X
link .!x.cairn-partial target
end
EOF2
)
for i in 1 2 3; do
	run cairn restore "$SNAP5" --target "$T_TMP/tmpnames$i"
	s=0
	[ "$RC" = 0 ] && [ "$(cat "$T_TMP/tmpnames$i/d/a")" = BBB ] &&
		[ "$(cat "$T_TMP/tmpnames$i/d/.a.cairn-partial")" = AAA ] &&
		[ "$(cat "$T_TMP/tmpnames$i/d/!x")" = X ] &&
		[ "$(cat "$T_TMP/tmpnames$i/d/.!x.cairn-partial")" = XP ] &&
		[ "$(cat "$T_TMP/tmpnames$i/l/!x")" = X ] &&
		[ "$(readlink "$T_TMP/tmpnames$i/l/.!x.cairn-partial")" = target ] &&
		[ "$(find "$T_TMP/tmpnames$i" | wc -l)" = 9 ] || s=1
	t_ok $s "files named like temporary names each get their own bytes (round $i, exit $RC)" ||
		{ t_diag "$ERR"; find "$T_TMP/tmpnames$i" | sed 's/^/#   /'; }
done

# Folders nested 3 000 deep (a forged tree, or a pod's): the walk runs on a big stack of
# its own, but --verify recursed on the caller's and overflowed it (exit 139 under a 1 MiB
# stack). forge itself recurses with a 4 KiB line per level: it gets an unlimited stack.
SNAP4=$({
	for _ in $(seq 3000); do echo 'dir a'; done
	echo 'file f deep'
	for _ in $(seq 3000); do echo 'end'; done
	echo 'file ok fine'
} | (ulimit -s unlimited && forge))
t_ok $? "forge writes folders nested 3000 deep" || t_bail "forge failed"
run bash -c 'ulimit -s 1024 && exec timeout 300 env CAIRN_PASSWORD="$1" "$2" -r "$3" restore "$4" --target "$5" --verify' \
	_ "$T_PASS" "$CAIRN_BIN" "$REPO" "$SNAP4" "$T_TMP/deep"
s=0
# (find, not cat: the path is longer than PATH_MAX)
[ "$RC" = 0 ] && [ "$(find "$T_TMP/deep" -name f -type f -size 4c | wc -l)" = 1 ] &&
	[ "$(find "$T_TMP/deep" -type d | wc -l)" = 3001 ] &&
	[ "$(cat "$T_TMP/deep/ok")" = fine ] && grep -q verified "$OUT" || s=1
t_ok $s "--verify of folders 3000 deep on a 1 MiB stack does not crash (exit $RC)" || t_diag "$ERR"

# A forged folder that lists one segment of 300 names 400 times (two tree blobs): each
# name then comes 400 times. Restore named every copy (119 700 warnings here; 2*10^8
# lines, hours, for 50 000 names 4000 times) and polled no cancel meanwhile. Now the
# first 16 refused names are named, then the folder once, and the rest of it is left.
{
	echo "repeat rep 400"
	for i in $(seq -w 1 300); do echo "file e$i x"; done
	echo end
	echo "file after fine"
} >"$T_TMP/rep.spec"
SNAP7=$(forge <"$T_TMP/rep.spec")
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" restore "$SNAP7" \
	--target "$T_TMP/rep"
s=0
[ "$RC" = 3 ] && [ "$(find "$T_TMP/rep/rep" -type f | wc -l)" = 300 ] &&
	[ "$(cat "$T_TMP/rep/after")" = fine ] || s=1
t_ok $s "a folder repeating its segment 400 times: its 300 names restored once (exit $RC)"
s=0
[ "$(wc -l <"$ERR")" -le 20 ] &&
	[ "$(grep -c 'twice or out of order' "$ERR")" = 17 ] &&
	grep -q '/rep: the rest of this folder is not restored: 16 of its names' "$ERR" || s=1
t_ok $s "16 copies named, then the folder once ($(wc -l <"$ERR") lines of stderr)" ||
	t_diag "$ERR" 5
t_done
