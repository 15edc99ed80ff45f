#!/bin/bash
# `check` compares a folder's names across the boundaries of its tree segments also where
# it skips a segment it checked already (in this or an earlier snapshot). Before, a skipped
# segment left the order unknown, so a forged snapshot that repeats, in a second segment,
# a name of a segment check had seen (or sorts a name before its last) passed check while
# restore refused it. An honest folder of several segments, backed up again and copied
# (segments shared), stays clean.
. "$(dirname "$0")/lib.sh"
t_need
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"
t_init_repo "$T_TMP/repo"
forge() { CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO" || t_bail "forge failed"; }

# About 150 encoded bytes an entry: 15000 make three segments of ~1 MiB (repo.h,
# TREE_SEGMENT_TARGET). big2 is a copy (other inode numbers: its own segments).
mkdir -p "$T_TMP/src/big"
P=$(printf 'p%.0s' $(seq 90))
for i in $(seq -w 15000); do : >"$T_TMP/src/big/$P$i"; done
cp -a "$T_TMP/src/big" "$T_TMP/src/big2"
t_cmd "backup of a folder of several segments" cairn backup "$T_TMP/src"
run cairn check
t=$(sed -n 's/.*checked 1 snapshots, \([0-9]*\) trees.*/\1/p' "$OUT")
# The root, src, and big's and big2's segments: 4 if each were one.
[ "$RC" = 0 ] && [ "${t:-0}" -ge 6 ]
t_ok $? "big and big2 are stored in several segments each (trees: ${t:-none})" ||
	t_diag "$ERR"
: >"$T_TMP/src/big/zzz" # its last segment changes, the others are shared
t_cmd "second backup, one file added at its end" cairn backup "$T_TMP/src"
t_cmd "third backup, unchanged (every segment shared)" cairn backup "$T_TMP/src"
t_cmd "check of the honest folders of several segments is clean" cairn check --read-data
[ "$RC" = 0 ] || t_diag "$ERR"

# A: a folder whose segment comes twice, the segment also in an earlier snapshot: check
# skips both copies (or checks the first and skips the second), whichever it reads first.
A1=$(printf 'dir ra\nfile x one\nfile y one\nend\n' | forge)
A2=$(printf 'repeat ra 2\nfile x one\nfile y one\nend\n' | forge)
# B: one snapshot; q shares its first segment with p (read just before) and its second
# segment repeats b.
B=$(forge <<'SPEC'
dir p
file b two
file c two
end
dir q
file b two
file c two
cut
file b three
end
SPEC
)
# C: the second segment's name sorts before the last name of the first, which an earlier
# snapshot holds too.
C1=$(printf 'dir s\nfile m four\nfile n four\nend\n' | forge)
C2=$(printf 'dir s\nfile m four\nfile n four\ncut\nfile a five\nend\n' | forge)
run cairn check
t_rc 14 "check of the repository holding the forged snapshots fails (exit 14)"
grep -q "snapshot ${A2:0:8}: /ra/x: this name comes twice or out of order (forged or corrupt)" \
	"$ERR"
t_ok $? "a segment repeated in one folder, the segment seen before, is named" ||
	t_diag "$ERR"
grep -q "snapshot ${B:0:8}: /q/b: this name comes twice or out of order (forged or corrupt)" \
	"$ERR"
t_ok $? "a name repeated from a skipped segment in the next segment is named" ||
	t_diag "$ERR"
grep -q "snapshot ${C2:0:8}: /s/a: this name comes twice or out of order (forged or corrupt)" \
	"$ERR"
t_ok $? "a name sorting before a skipped segment's last name is named" || t_diag "$ERR"
s=0
grep -Eq "snapshot (${A1:0:8}|${C1:0:8})|/p/|/big" "$ERR" && s=1
[ "$(grep -c "this name comes twice" "$ERR")" = 3 ] || s=1
t_ok $s "the sound snapshots and folders are not named, each forged name once" ||
	t_diag "$ERR"
run cairn restore "$B" --target "$T_TMP/out"
s=0
[ "$RC" = 3 ] && grep -q "/q/b: not restored: the snapshot holds this name twice" "$ERR" || s=1
t_ok $s "restore refuses the same name (exit 3)" || t_diag "$ERR"
t_done
