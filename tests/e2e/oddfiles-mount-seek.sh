#!/bin/bash
# SEEK_DATA/SEEK_HOLE on a file of a `cairn mount`: the mount reports the snapshot's holes,
# so `cp --sparse`, tar and rsync copy a 20 GiB sparse file with three data blocks
# without reading 20 GiB of zeros through FUSE (before, every offset was data).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "FUSE mounts need root here (/dev/fuse is root-only)"
command -v fusermount3 >/dev/null || t_bail "fusermount3 missing (tests/fuse/deps.sh)"
[ -c /dev/fuse ] || t_bail "/dev/fuse missing"
cd "$T_TMP" || exit 1
t_init_repo "$T_TMP/repo"
MNT=$T_TMP/mnt
mkdir -p src "$MNT"
truncate -s 20G src/big
for mib in 1 5000 19000; do
	printf data | dd of=src/big bs=1M seek=$mib conv=notrunc 2>/dev/null
done
echo small >src/small
run cairn backup "$T_TMP/src"
t_rc 0 "backup of a 20 GiB sparse file"

(CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" -r "$REPO" mount "$MNT") >"$T_TMP/mount.err" 2>&1 &
BG=$!
t_on_exit kill "$BG"
t_on_exit fusermount3 -u "$MNT"
for _ in $(seq 300); do
	grep -q " $MNT fuse" /proc/mounts && break
	kill -0 "$BG" 2>/dev/null || break
	sleep 0.1
done
grep -q " $MNT fuse" /proc/mounts || { t_diag "$T_TMP/mount.err"; t_bail "mount failed"; }
F=$MNT/snapshots/latest$(t_snap_path "$MNT/snapshots/latest" "$T_TMP/src")

# Each line: OFFSET -> next data, next hole (or the errno name).
seekmap() {
	python3 -c 'import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for off in map(int, sys.argv[2:]):
    out = []
    for w in (os.SEEK_DATA, os.SEEK_HOLE):
        try:
            out.append(str(os.lseek(fd, off, w)))
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    print(off, *out)' "$@"
}
M=$((1 << 20))
want=$(seekmap src/big 0 $((2 * M)) $((19000 * M)) $((20480 * M)))
got=$(seekmap "$F/big" 0 $((2 * M)) $((19000 * M)) $((20480 * M)))
[ "$got" = "$want" ]
t_ok $? "SEEK_DATA/SEEK_HOLE on the mount match the source's holes" ||
	printf '#   want %s\n#   got  %s\n' "$want" "$got"
[ "$(seekmap "$F/small" 0 6)" = "$(seekmap src/small 0 6)" ]
t_ok $? "a file without holes: data from 0, one hole at its end, ENXIO at its end"
# cp asks SEEK_DATA for the next extent: with the holes known it reads three blocks.
run cp --sparse=always "$F/big" "$T_TMP/copy"
t_rc 0 "cp --sparse copies the file out of the mount"
cmp -s src/big "$T_TMP/copy" && [ "$(stat -c %b "$T_TMP/copy")" -lt 1024 ]
t_ok $? "the copy is byte-identical and sparse"
fusermount3 -u "$MNT"
wait "$BG"
t_ok $? "the mount exits cleanly"
t_done
