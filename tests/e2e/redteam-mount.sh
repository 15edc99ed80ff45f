#!/bin/bash
# `cairn mount` over a snapshot forged by someone holding the key: files whose extents
# do not add up to the size they claim. Restore refuses them (hostile-repo.sh); the mount
# served the first as a file silently cut short (reads returned end of file at 4 KiB of a
# "1 MiB" file) and must instead fail the open with EIO and name it, while every honest
# file beside them reads back.
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "FUSE mounts need root here (/dev/fuse is root-only)"
command -v fusermount3 >/dev/null || t_bail "fusermount3 missing (tests/fuse/deps.sh)"
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"

t_init_repo "$T_TMP/repo"
{
	echo 'file ok hello'
	echo 'hole short 4096 1048576'
	echo 'hole long 1048576 4096'
	echo 'hole sparse 1048576 1048576'
	echo 'dir sub'
	echo 'hole short2 1 2'
	echo 'file ok2 world'
	echo 'end'
} | CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO" >"$T_TMP/id" || t_bail "forge failed"

MNT=$T_TMP/mnt
mkdir -p "$MNT"
MLOG=$T_TMP/mount.err
(CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" -r "$REPO" mount "$MNT") >"$MLOG" 2>&1 &
BG=$!
T_MOUNTS+=("$MNT")
t_on_exit kill "$BG"
for _ in $(seq 100); do
	grep -q " $MNT fuse" /proc/mounts && break
	sleep 0.1
done
grep -q " $MNT fuse" /proc/mounts
t_ok $? "mount comes up" || { t_diag "$MLOG"; t_bail "no mount"; }
S=$(find "$MNT/snapshots" -mindepth 1 -maxdepth 1 -type d | head -n 1)

# read_all FILE: its bytes through the mount, or the error (timeout: a hung read fails).
read_all() { { timeout 30 cat "$1" >/dev/null; } 2>&1; }
for f in short long sub/short2; do
	err=$(read_all "$S/$f")
	rc=$?
	s=1
	[ $rc -ne 0 ] && [ $rc -ne 124 ] && case $err in *"Input/output error"*) s=0 ;; esac
	t_ok $s "$f: extents that do not add up to its size fail with EIO (exit $rc: $err)"
done
s=0
grep -q "short.*do not add up" "$MLOG" && grep -q "long.*do not add up" "$MLOG" || s=1
t_ok $s "the mount log names each such file" || t_diag "$MLOG"
[ "$(timeout 30 cat "$S/ok")" = hello ] && [ "$(timeout 30 cat "$S/sub/ok2")" = world ]
t_ok $? "honest files beside them read back"
[ "$(timeout 30 cmp -n 1048576 "$S/sparse" /dev/zero 2>&1; echo $?)" = 0 ]
t_ok $? "a consistent 1 MiB hole still reads as zeros"
kill "$BG" 2>/dev/null
for _ in $(seq 100); do
	kill -0 "$BG" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$BG" 2>/dev/null
t_ok $((!$?)) "the mount stops on SIGTERM"
s=0
grep -qi 'AddressSanitizer\|runtime error\|Segmentation' "$MLOG" && s=1
t_ok $s "no memory error or crash in the mount" || t_diag "$MLOG"
t_done
