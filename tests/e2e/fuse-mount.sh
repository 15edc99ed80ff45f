#!/bin/bash
# `cairn mount` end to end with a real FUSE mount: every file's bytes and metadata under
# snapshots/<time>/ equal the source tree, random-offset reads of big and sparse files,
# hardlinks share an inode, ids/ tags/ hosts/ volumes/ resolve, writes fail with EROFS,
# new snapshots appear without remounting, a stale mountpoint gets a clear error, and
# SIGTERM/SIGINT unmount cleanly.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "FUSE mounts need root here (/dev/fuse is root-only)"
command -v fusermount3 >/dev/null || t_bail "fusermount3 missing (tests/fuse/deps.sh)"
command -v getfattr >/dev/null || t_bail "getfattr missing (tests/fuse/deps.sh)"
[ -c /dev/fuse ] || t_bail "/dev/fuse missing"
cd "$T_TMP" || exit 1
OWN=$(t_owner_opt)
REPO=$T_TMP/repo
MNT=$T_TMP/mnt
mkdir -p "$MNT"

"$MKTREE" src --seed 7 --files 40 --big-mib 24 2>/dev/null || t_bail "mktree failed"
"$MKTREE" ref --seed 7 --files 40 --big-mib 24 2>/dev/null || t_bail "mktree failed"
t_init_repo "$REPO"
run cairn --json backup "$T_TMP/src"
t_rc 0 "first backup"
snap1=$(json "$OUT" "j['snapshot_id']" 2>/dev/null)
# The second snapshot differs (one more file) and is tagged the way the agent tags.
sleep 1.1
echo "second" >src/added-later
echo "second" >ref/added-later
touch -r src/files ref/added-later src/added-later
touch -r "$T_TMP/ref" "$T_TMP/src" 2>/dev/null
run cairn --json backup --tag ns=shop --tag pvc=db-0 --tag volume=data "$T_TMP/src"
t_rc 0 "second backup, agent-tagged"
snap2=$(json "$OUT" "j['snapshot_id']" 2>/dev/null)

# Each mount logs to its own file (mount.N.err), kept for diagnostics.
N_MOUNT=0
mount_bg() {
	N_MOUNT=$((N_MOUNT + 1))
	MLOG=$T_TMP/mount.$N_MOUNT.err
	(CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" -r "$REPO" mount "$@") >"$MLOG" 2>&1 &
	BG=$!
}
mounted() { grep -q " $MNT fuse" /proc/mounts; }
wait_mounted() {
	local _
	for _ in $(seq 100); do
		mounted && return 0
		kill -0 "$BG" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
wait_gone() { # wait_gone PID: the process exits within 10 s; sets BGRC
	local _
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && return 1
	wait "$1"
	BGRC=$?
	return 0
}

T_MOUNTS+=("$MNT")
mount_bg --refresh-sec 1 "$MNT"
wait_mounted
t_ok $? "mount comes up" || { t_diag "$MLOG"; t_bail "no mount"; }

names() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort; }
[ "$(names "$MNT" | tr '\n' ' ')" = "hosts ids snapshots tags volumes " ]
t_ok $? "the root holds hosts ids snapshots tags volumes" || names "$MNT" | t_diag /dev/stdin

mapfile -t times < <(names "$MNT/snapshots" | grep -vx latest)
[ "${#times[@]}" -eq 2 ] && [[ "${times[0]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
t_ok $? "snapshots/ has one ISO-time folder per snapshot (${times[*]})"
[ -L "$MNT/snapshots/latest" ] && [ "$(readlink "$MNT/snapshots/latest")" = "${times[1]}" ]
t_ok $? "snapshots/latest is a symlink to the newest"

# Where the source tree sits inside a snapshot: /src or the absolute path (restic-style).
S1=$MNT/snapshots/${times[0]}
S2=$MNT/snapshots/${times[1]}
if [ -d "$S1/src" ]; then SUB=/src; else SUB=$T_TMP/src; fi
[ -d "$S1$SUB" ]
t_ok $? "the backed-up folder is inside the snapshot ($SUB)"

# Snapshot 1 is the tree before added-later: compare against a copy of ref without it.
mkdir -p ref1 && cp -a ref/. ref1/ && rm ref1/added-later && touch -r ref ref1
# shellcheck disable=SC2086
t_same "snapshot 1 through the mount equals the source: bytes, modes, owners, times, xattrs, links, holes" $OWN --no-atime --ignore-root-times ref1 "$S1$SUB"
# shellcheck disable=SC2086
t_same "snapshot 2 through the mount equals the changed source" $OWN --no-atime --ignore-root-times ref "$S2$SUB"
# Atimes too, against the tree as the backup saw it (its reads moved folder atimes).
# shellcheck disable=SC2086
t_same "snapshot 2 atimes equal the source's" $OWN --ignore-root-times src "$S2$SUB"

bad=0
while IFS= read -r -d '' f; do
	cmp -s "ref/$f" "$S2$SUB/$f" || { bad=$((bad + 1)); echo "# differs: $f"; }
done < <(cd ref && find . -type f -print0)
t_ok $bad "cmp of every regular file agrees"

bad=0
while IFS= read -r -d '' f; do
	# A folder's size is the source filesystem's business; backups record 0.
	fmt='%f %u %g %s %Y %h'
	[ -d "ref/$f" ] && fmt='%f %u %g %Y %h'
	[ "$(stat -c "$fmt" "ref/$f")" = "$(stat -c "$fmt" "$S2$SUB/$f")" ] ||
		{ bad=$((bad + 1)); echo "# stat differs: $f"; }
done < <(cd ref && find . -mindepth 1 \( -type f -o -type d -o -type l -o -type p -o -type c -o -type b \) -print0)
t_ok $bad "stat mode/uid/gid/size/mtime/nlink agree for every entry (no size for folders)"

n_x=0
bad=0
while IFS= read -r -d '' f; do
	a=$(getfattr -h -d -m - -e hex "ref/$f" 2>/dev/null | grep -v '^#' | grep -v '^system\.' | sort)
	b=$(getfattr -h -d -m - -e hex "$S2$SUB/$f" 2>/dev/null | grep -v '^#' | grep -v '^system\.' | sort)
	[ -n "$a" ] && n_x=$((n_x + 1))
	[ "$a" = "$b" ] || { bad=$((bad + 1)); echo "# xattrs differ: $f"; }
done < <(cd ref && find . -mindepth 1 \( -type f -o -type d \) -print0)
[ "$n_x" -gt 0 ]
t_ok $? "the source has xattrs to compare ($n_x entries)"
t_ok $bad "getfattr/listxattr agree for every file and folder"

hl_bad=0
hl_n=0
while read -r ino; do
	mapfile -t grp < <(cd ref && find . -type f -inum "$ino")
	[ "${#grp[@]}" -gt 1 ] || continue
	hl_n=$((hl_n + 1))
	i0=$(stat -c %i "$S2$SUB/${grp[0]}")
	for g in "${grp[@]}"; do
		[ "$(stat -c %i "$S2$SUB/$g")" = "$i0" ] || hl_bad=$((hl_bad + 1))
	done
done < <(cd ref && find . -type f -links +1 -printf '%i\n' | sort -u)
[ "$hl_n" -gt 0 ] && [ "$hl_bad" -eq 0 ]
t_ok $? "hardlinked files share one inode number in the mount ($hl_n groups)"

# Random-offset reads (fresh opens, no sequential warm-up) of the big file and sparse files.
python3 - "$T_TMP/ref" "$S2$SUB" >"$T_TMP/rand.out" 2>&1 <<'PY'
import os, random, sys
ref, mnt = sys.argv[1], sys.argv[2]
files = ["files/big-random", "files/big-repeat"]
for root, _, names in os.walk(os.path.join(ref, "sparse")):
    files += [os.path.relpath(os.path.join(root, n), ref) for n in names]
rnd = random.Random(1)
bad = 0
for f in files:
    size = os.path.getsize(os.path.join(ref, f))
    for _ in range(60):
        off = rnd.randrange(0, size + 10)
        ln = rnd.choice([1, 17, 4096, 65536, 300000, 2 << 20])
        with open(os.path.join(ref, f), "rb") as a, open(os.path.join(mnt, f), "rb") as b:
            a.seek(off); b.seek(off)
            if a.read(ln) != b.read(ln):
                bad += 1
                print("differs", f, off, ln)
print("files", len(files), "bad", bad)
sys.exit(1 if bad or len(files) < 3 else 0)
PY
t_ok $? "random-offset reads of big and sparse files equal the source ($(tail -1 "$T_TMP/rand.out"))" || t_diag "$T_TMP/rand.out"

id1=$(names "$MNT/ids" | grep "^${snap1:0:8}")
[ -n "$id1" ] && [ "$(names "$MNT/ids/$id1$SUB/files" | wc -l)" -eq "$(names ref1/files | wc -l)" ] &&
	[ ! -e "$MNT/ids/$id1$SUB/added-later" ]
t_ok $? "ids/<short-id>/ shows snapshot 1 ($id1)"
[ -f "$MNT/ids/${snap2:0:8}$SUB/added-later" ]
t_ok $? "ids/${snap2:0:8}/ shows snapshot 2"
cmp -s ref/files/big-random "$MNT/tags/pvc=db-0/${times[1]}$SUB/files/big-random"
t_ok $? "tags/<tag>/<time>/ resolves"
[ -d "$MNT/hosts/$(hostname)/${times[0]}$SUB" ] && [ -d "$MNT/hosts/$(hostname)/${times[1]}$SUB" ]
t_ok $? "hosts/<host>/<time>/ holds both snapshots"
[ "$(names "$MNT/volumes")" = shop ] && [ "$(names "$MNT/volumes/shop")" = db-0 ] &&
	[ "$(names "$MNT/volumes/shop/db-0")" = "${times[1]}" ]
t_ok $? "volumes/shop/db-0/<time> lists only the agent-tagged snapshot"
cmp -s ref/added-later "$MNT/volumes/shop/db-0/${times[1]}$SUB/added-later" &&
	cmp -s ref/files/text "$MNT/volumes/shop/db-0/${times[1]}$SUB/files/text"
t_ok $? "files read through volumes/<ns>/<pvc>/<time>/"

erofs() { # erofs CMD...: the command fails and says "Read-only file system"
	! "$@" 2>"$T_TMP/w.err" && grep -q 'Read-only file system' "$T_TMP/w.err"
}
erofs touch "$S2$SUB/new-file"
t_ok $? "creating a file fails with EROFS"
erofs sh -c "echo x >>'$S2$SUB/files/one'"
t_ok $? "appending to a file fails with EROFS"
erofs mkdir "$S2$SUB/newdir"
t_ok $? "mkdir fails with EROFS"
erofs rm -f "$S2$SUB/files/one"
t_ok $? "unlink fails with EROFS"
erofs setfattr -n user.x -v 1 "$S2$SUB/files/one"
t_ok $? "setxattr fails with EROFS"
erofs chmod 0777 "$S2$SUB/files/one"
t_ok $? "chmod fails with EROFS"
python3 -c '
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY)
except OSError as e:
    sys.exit(0 if e.errno == errno.EROFS else 1)
sys.exit(1)' "$S2$SUB/files/one"
t_ok $? "open for writing fails with EROFS"
cmp -s ref/files/one "$S2$SUB/files/one"
t_ok $? "and the file is unchanged"

# A new snapshot shows up without remounting (refresh is rate-limited to 1 s here).
sleep 1.1
echo "third, with new data blobs" >src/added-third
run cairn --json backup --tag daily "$T_TMP/src"
t_rc 0 "third backup while mounted"
third_seen() {
	mapfile -t times3 < <(names "$MNT/snapshots" | grep -vx latest)
	[ "${#times3[@]}" -eq 3 ] && [ "$(readlink "$MNT/snapshots/latest")" = "${times3[2]}" ] &&
		[ -d "$MNT/tags/daily/${times3[2]}$SUB" ]
}
# The refresh is rate-limited to 1 s; on a busy machine it comes later: poll.
t_wait 60 third_seen
third_seen
t_ok $? "the third snapshot appears without remounting (${#times3[@]} snapshots)"
[ "$(cat "$MNT/snapshots/latest$SUB/added-third" 2>&1)" = "third, with new data blobs" ] &&
	cmp -s ref/files/big-random "$MNT/snapshots/latest$SUB/files/big-random"
t_ok $? "and its new data reads back (the mount picked up the new index)" || t_diag "$MLOG"

kill -TERM "$BG"
wait_gone "$BG" && [ "$BGRC" -eq 0 ] && ! mounted
t_ok $? "SIGTERM unmounts cleanly (exit ${BGRC:-?}) and leaves no mount in /proc/mounts" ||
	t_diag "$MLOG"

mount_bg "$MNT"
wait_mounted
t_ok $? "mounts again on the same mountpoint"
kill -INT "$BG"
wait_gone "$BG" && [ "$BGRC" -eq 0 ] && ! mounted
t_ok $? "SIGINT unmounts cleanly too"

# kill -9 leaves a dead FUSE mount behind: the next mount must say how to clear it.
mount_bg "$MNT"
wait_mounted
kill -9 "$BG"
wait "$BG" 2>/dev/null
run cairn mount "$MNT"
[ "$RC" -ne 0 ] && grep -q "fusermount3 -u $MNT" "$ERR" && [ "$(wc -l <"$ERR")" -le 2 ]
t_ok $? "a stale mountpoint gets one clear error naming fusermount3 -u (exit $RC)" || t_diag "$ERR"
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
! mounted
t_ok $? "the stale mount is cleared as the message says"
! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation|double free|corrupted' "$T_TMP"/mount.*.err
t_ok $? "no mount reported a memory error or crashed"
t_done
