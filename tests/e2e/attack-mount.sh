#!/bin/bash
# `cairn mount` (real FUSE, root) over a snapshot forged by a node holding the key, beyond
# redteam-mount.sh: '..' at every level stays inside the mount, a symlink target of 4000
# bytes reads back whole, reads at and far past the end return end of file, a FIFO of the
# snapshot opened without blocking does not hang, names with a newline, invalid UTF-8 or
# 255 bytes are reachable, every write through the mount fails, and nothing of it writes
# to the repository.
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "FUSE mounts need root here (/dev/fuse is root-only)"
command -v fusermount3 >/dev/null || t_bail "fusermount3 missing (tests/fuse/deps.sh)"
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"

t_init_repo "$T_TMP/repo"
LONGT=$(printf 't%.0s' $(seq 4000))
N255=$(printf 'n%.0s' $(seq 255))
{
	echo 'file ok hello'
	echo "link far /$LONGT"
	echo 'fifo pipe 666'
	echo 'file nl%0Aname newline'
	echo 'file bad%FF%FEutf8 invalid'
	echo "file $N255 longest"
	echo 'dir sub'
	echo 'dir sub'
	echo 'file deep down'
	echo 'end'
	echo 'end'
} | CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO" >"$T_TMP/id" || t_bail "forge failed"
BEFORE=$(t_repo_state "$REPO")

# shellcheck source=tests/e2e/mount-lib.sh
. "$(dirname "$0")/mount-lib.sh"
mount_at "$T_TMP/mnt" "$T_TMP/mount.err"
[ -n "$S" ] || t_bail "no snapshot folder in the mount"

# '..' resolves within the mount at every level, up to the mount's root and no further.
s=0
[ "$(cd "$S/sub/sub/../.." && pwd -P)" = "$(cd "$S" && pwd -P)" ] || s=1
[ "$(stat -c %i "$S/sub/sub/../../..")" = "$(stat -c %i "$MNT/snapshots")" ] || s=1
[ "$(stat -c %d "$MNT/..")" != "$(stat -c %d "$MNT")" ] || s=1
[ "$(timeout 30 cat "$S/sub/sub/../../sub/sub/deep")" = down ] || s=1
t_ok $s "'..' walks up inside the mount, level by level"

got=$(timeout 30 readlink "$S/far")
[ "$got" = "/$LONGT" ]
t_ok $? "a symlink target of 4001 bytes reads back whole (${#got} bytes)"

# pread at the end, one past it and at 2^62: end of file, no error.
out=$(timeout 30 python3 - "$S/ok" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(len(os.pread(fd, 100, 5)), len(os.pread(fd, 100, 6)), len(os.pread(fd, 100, 1 << 62)),
      os.pread(fd, 100, 3).decode())
EOF
)
[ "$out" = "0 0 0 lo" ]
t_ok $? "reads at, past and far past the end of a file return end of file ($out)"

out=$(timeout 30 python3 - "$S/pipe" <<'EOF'
import os, stat, sys
st = os.lstat(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
print(stat.S_ISFIFO(st.st_mode), len(os.read(fd, 10)))
EOF
)
[ "$out" = "True 0" ]
t_ok $? "the snapshot's FIFO is a FIFO; opened without blocking it reads nothing at once ($out)"

s=0
[ "$(timeout 30 cat "$S/$(printf 'nl\nname')")" = newline ] &&
	[ "$(timeout 30 cat "$S/$(printf 'bad\377\376utf8')")" = invalid ] &&
	[ "$(timeout 30 cat "$S/$N255")" = longest ] || s=1
t_ok $s "names with a newline, invalid UTF-8 and 255 bytes are listed and read"

# Every kind of write fails, and the repository is as it was.
wrote=0
for op in "touch $S/new" "mkdir $S/newdir" "rm -f $S/ok" "mv $S/ok $S/ok2" \
	"ln -s x $S/l" "ln $S/ok $S/h" "chmod 777 $S/ok" "setfattr -n user.x -v 1 $S/ok" \
	"truncate -s 0 $S/ok" "mkfifo $S/f2"; do
	# shellcheck disable=SC2086
	timeout 30 $op 2>/dev/null && { wrote=$((wrote + 1)); echo "#   '$op' succeeded"; }
done
sh -c "echo x >>'$S/ok'" 2>/dev/null && { wrote=$((wrote + 1)); echo "#   append succeeded"; }
t_ok $wrote "every write through the mount fails ($wrote succeeded)"
[ "$(timeout 30 cat "$S/ok")" = hello ]
t_ok $? "the file reads as before"
unmount
# (its lock, shared, comes and goes: compared without locks/ and its time)
[ "$(t_repo_state "$REPO" | grep -v '^locks')" = "$(grep -v '^locks' <<<"$BEFORE")" ]
t_ok $? "the mount wrote nothing to the repository but its lock" ||
	diff <(echo "$BEFORE") <(t_repo_state "$REPO") | head -n 5 | sed 's/^/#   /'
t_done
