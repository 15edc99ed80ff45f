#!/bin/bash
# cairn restore checks free space before it writes anything: into an 8 MiB tmpfs a 20 MiB
# tree is refused with exit 16 and one line naming both figures, and nothing is created;
# --no-space-check writes until ENOSPC (exit 16, no file that looks restored and is not
# whole); a tree that fits, a sparse file of 1 GiB holding 1 MiB of data, and a second
# restore over the first (the files it replaces free their blocks) are not refused;
# --json carries bytes_needed and bytes_free.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
export CAIRN_PASSWORD=$T_PASS
MNT=$T_TMP/mnt
mkdir -p "$MNT"
if ! t_root || ! mount -t tmpfs -o size=8m tmpfs "$MNT" 2>/dev/null; then
	t_skip "restore into a small filesystem" "needs root to mount a tmpfs"
	
# 9. A forged tree (anyone with the password can write one): four files of one 4 EiB hole
# each, written as zeros by --no-sparse, need 16 EiB; the sum must not wrap to 0.
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"
E=4611686018427387904
FORGED=$(printf 'hole %s %s %s\n' a $E $E b $E $E c $E $E d $E $E |
	CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO")
run cairn restore "$FORGED" --target "$MNT/t" --no-sparse
t_rc 16 "forged: 4 x 4 EiB of holes with --no-sparse is refused, exit 16"
grep -Eq "restore needs (more than )?(4|16)\.0 EiB but" "$ERR" && empty
t_ok $? "forged: the need does not wrap (the walk stops past the filesystem), nothing written" ||
	t_diag "$ERR"
t_done
	exit
fi
t_on_exit umount -l "$MNT"
empty() { [ -z "$(find "$MNT" -mindepth 1 -print -quit)" ]; }
clear_mnt() { find "$MNT" -mindepth 1 -delete; }

t_init_repo "$T_TMP/repo"
BIG=$T_TMP/big
mkdir -p "$BIG/d"
for i in $(seq 1 20); do head -c 1048576 /dev/urandom >"$BIG/d/f$i"; done
run cairn --json backup "$BIG"
[ "$RC" -eq 0 ] || t_bail "backup of the big tree failed"
SBIG=$(jget "$OUT" .snapshot_id)

# 1. Refused before anything is written.
run cairn restore "$SBIG:/big" --target "$MNT/t"
t_rc 16 "20 MiB into an 8 MiB tmpfs: exit 16"
[ "$(grep -c . "$ERR")" = 1 ] &&
	grep -Eq "^cairn: restore needs 2[0-9.]+ MiB but $MNT has 8\.0 MiB free; --no-space-check to try anyway$" "$ERR"
t_ok $? "one line with both figures and the way out" || t_diag "$ERR"
empty
t_ok $? "nothing written: not even the target folder" || find "$MNT" | head | sed 's/^/#   /'

# A target several folders below what exists: the nearest existing parent is measured.
run cairn restore "$SBIG:/big" --target "$MNT/a/b/c"
t_rc 16 "a target three folders deep that does not exist: exit 16"
grep -q "but $MNT has 8\.0 MiB free" "$ERR" && empty
t_ok $? "its nearest existing parent is measured, nothing created" || t_diag "$ERR"

# 2. --json: the error object carries the figures.
run cairn --json restore "$SBIG:/big" --target "$MNT/t"
t_rc 16 "--json: exit 16"
jq -e 'select(.message_type == "error") | .exit_code == 16 and .bytes_needed >= 20971520
	and .bytes_free == 8388608' "$ERR" >/dev/null
t_ok $? "--json: the error has bytes_needed and bytes_free" || t_diag "$ERR"
empty
t_ok $? "--json: nothing written"

# 3. --no-space-check: runs into ENOSPC as before, no file left that is not whole.
run cairn restore "$SBIG:/big" --target "$MNT/t" --no-space-check
t_rc 16 "--no-space-check: the restore runs until ENOSPC, exit 16"
grep -q "No space left" "$ERR"
t_ok $? "--no-space-check: the error says the disk is full" || t_diag "$ERR"
bad=0
n=0
for f in "$MNT"/t/d/*; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	case $(basename "$f") in f[0-9]*) cmp -s "$f" "$BIG/d/$(basename "$f")" || bad=1 ;; *) bad=1 ;; esac
done
[ "$bad" = 0 ] && [ "$n" -gt 0 ] && [ "$n" -lt 20 ]
t_ok $? "--no-space-check: $n files restored, each whole, no partial left" ||
	ls -la "$MNT/t/d" | sed 's/^/#   /'
clear_mnt

# 4. A tree that fits.
SMALL=$T_TMP/small
mkdir -p "$SMALL/s"
for i in 1 2 3 4 5; do head -c 1000000 /dev/urandom >"$SMALL/s/f$i"; done
echo tiny >"$SMALL/tiny"
run cairn --json backup "$SMALL"
SSMALL=$(jget "$OUT" .snapshot_id)
run cairn --json restore "$SSMALL:/small" --target "$MNT/t" --threads 1
t_rc 0 "a 5 MB tree restores into the 8 MiB tmpfs"
t_same "the restored tree is the source" --no-atime --ignore-root-times "$SMALL" "$MNT/t"
run jget "$T_TMP/out.$((T_RUNS - 1))" \
	'.bytes_needed > 5000000 and .bytes_needed < 8388608 and .bytes_free == 8388608'
[ "$(cat "$OUT")" = true ]
t_ok $? "--json: the summary has bytes_needed and bytes_free" ||
	t_diag "$T_TMP/out.$((T_RUNS - 1))"

# 5. Again over the first: 5 MB needed, 3 MB free, but the files replaced free 4 MB.
run cairn --json restore "$SSMALL:/small" --target "$MNT/t" --threads 1
t_rc 0 "a second restore over the first is not refused (replaced files count as freed)"
t_same "the second restore is the source" --no-atime --ignore-root-times "$SMALL" "$MNT/t"
clear_mnt

# 6. Sparse: 1 GiB apparent, 1 MiB of data. The summary's apparent size does not fit, the
# walk of the trees counts only data.
SP=$T_TMP/sparse
mkdir -p "$SP"
truncate -s 1G "$SP/holes"
head -c 1048576 /dev/urandom | dd of="$SP/holes" bs=1M seek=512 conv=notrunc 2>/dev/null
run cairn --json backup "$SP"
SSP=$(jget "$OUT" .snapshot_id)
run cairn --json restore "$SSP:/sparse" --target "$MNT/t"
t_rc 0 "a sparse file of 1 GiB with 1 MiB of data restores into the 8 MiB tmpfs"
j=$OUT
[ "$(stat -c %s "$MNT/t/holes" 2>/dev/null)" = 1073741824 ] && cmp -s "$SP/holes" "$MNT/t/holes"
t_ok $? "the sparse file is whole"
run jget "$j" '.bytes_needed >= 1048576 and .bytes_needed < 2097152 and .bytes_free == 8388608'
[ "$(cat "$OUT")" = true ]
t_ok $? "--json: bytes_needed counts the data, not the holes" || t_diag "$j"
clear_mnt

# 7. Hard links: a 3 MiB file under four names needs 3 MiB, not 12.
HL=$T_TMP/hl
mkdir -p "$HL"
head -c 3145728 /dev/urandom >"$HL/a"
for n in b c d; do ln "$HL/a" "$HL/$n"; done
run cairn --json backup "$HL"
SHL=$(jget "$OUT" .snapshot_id)
run cairn --json restore "$SHL:/hl" --target "$MNT/t"
t_rc 0 "four links of a 3 MiB file restore into the 8 MiB tmpfs"
j=$OUT
[ "$(stat -c %h "$MNT/t/a" 2>/dev/null)" = 4 ] && cmp -s "$HL/a" "$MNT/t/d"
t_ok $? "the four names are one restored inode"
run jget "$j" '.bytes_needed >= 3145728 and .bytes_needed < 4194304'
[ "$(cat "$OUT")" = true ]
t_ok $? "--json: bytes_needed counts the inode once" || t_diag "$j"
clear_mnt

# 8. --no-sparse writes the holes: that is refused.
run cairn restore "$SSP:/sparse" --target "$MNT/t" --no-sparse
t_rc 16 "--no-sparse: the same file does not fit, exit 16"
grep -q "restore needs 1.0 GiB but" "$ERR"
t_ok $? "--no-sparse: the need counts the holes" || t_diag "$ERR"

# 9. A forged tree (anyone with the password can write one): four files of one 4 EiB hole
# each, written as zeros by --no-sparse, need 16 EiB; the sum must not wrap to 0.
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"
E=4611686018427387904
FORGED=$(printf 'hole %s %s %s\n' a $E $E b $E $E c $E $E d $E $E |
	CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO")
run cairn restore "$FORGED" --target "$MNT/t" --no-sparse
t_rc 16 "forged: 4 x 4 EiB of holes with --no-sparse is refused, exit 16"
grep -Eq "restore needs (more than )?(4|16)\.0 EiB but" "$ERR" && empty
t_ok $? "forged: the need does not wrap (the walk stops past the filesystem), nothing written" ||
	t_diag "$ERR"
t_done
