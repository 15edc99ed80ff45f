#!/bin/bash
# Backup of a volume its pod rewrites while the agent (root) reads it: files growing,
# shrinking, replaced by FIFOs or symlinks mid-read, a folder swapped for a symlink to
# /etc; and what a volume may hold at rest: FIFOs, device nodes, sockets, a 1 TiB sparse
# file, names with newlines or invalid UTF-8, a path deeper than PATH_MAX. The backup
# never follows a link out of the volume, never blocks on a FIFO, never writes to the
# volume, and names what it skipped with the reason.
. "$(dirname "$0")/lib.sh"
t_need

t_init_repo "$T_TMP/repo"
VOL=$T_TMP/vol
STILL=$VOL/still # never touched by the mutators: compared before and after
mkdir -p "$STILL/sub" "$VOL/busy/swapd"
echo inner >"$VOL/busy/swapd/inner"
echo a >"$STILL/sub/a"
mkfifo "$STILL/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$STILL/sock"
if t_root; then mknod "$STILL/null" c 1 3; fi
truncate -s 1T "$STILL/sparse"
printf 'x' >"$STILL/$(printf 'new\nline')"
printf 'y' >"$STILL/$(printf 'bad\377\376utf8')"
ln -s /etc "$STILL/etclink"
ln -s ../../.. "$STILL/uplink"
# A path longer than cairn's 8 KiB path buffer (and PATH_MAX): 40 levels of 250 bytes.
deep_ok=0
(
	cd "$STILL" || exit 1
	for i in $(seq 1 40); do
		n=$(printf 'd%0249d' "$i")
		mkdir "$n" && cd "$n" || exit 1
	done
	echo deep >file
) && deep_ok=1
state() { find "$STILL" -printf '%P %y %s %m %T@ %C@\n' | sort; }
before=$(state)

# ---- at rest ----
run timeout 600 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" backup "$STILL"
t_rc 3 "a backup of the volume at rest finishes, with what it skipped (exit 3)"
s=0
[ "$(grep -c 'warning:' "$ERR")" = 1 ] && grep -q 'warning: .*: path too long$' "$ERR" || s=1
if [ "$deep_ok" = 1 ]; then
	t_ok $s "the path deeper than 8 KiB is named with its reason, the only warning" || t_diag "$ERR"
else
	t_skip "the path deeper than 8 KiB" "cannot create it here"
fi
s=0
[ "$before" = "$(state)" ] || s=1
t_ok $s "the backup wrote nothing to the volume (sizes, modes, mtimes, ctimes)"
run cairn restore latest --keep-privileges --target "$T_TMP/r1"
t_rc 0 "it restores"
R=$T_TMP/r1$(t_snap_path "$T_TMP/r1" "$STILL")
s=0
[ -p "$R/fifo" ] && [ -S "$R/sock" ] && [ "$(stat -c %s "$R/sparse")" = 1099511627776 ] &&
	[ "$(stat -c %b "$R/sparse")" -lt 1024 ] || s=1
t_ok $s "FIFO and socket restored as such, the sparse file as 1 TiB of hole"
if t_root; then
	[ "$(stat -c '%F %t %T' "$R/null")" = "character special file 1 3" ]
	t_ok $? "the device node is restored as a node, never read"
else
	t_skip "device node" "needs root"
fi
s=0
[ "$(cat "$R/$(printf 'new\nline')")" = x ] && [ "$(cat "$R/$(printf 'bad\377\376utf8')")" = y ] || s=1
t_ok $s "names with a newline and invalid UTF-8 come back byte for byte"
s=0
[ "$(readlink "$R/etclink")" = /etc ] && [ "$(readlink "$R/uplink")" = ../../.. ] &&
	! cairn ls latest | grep -qE '/(etclink|uplink)/' || s=1
t_ok $s "symlinks out of the volume are stored as links, never followed"

# ---- under change ----
# Mutators: grow a file, shrink another, swap a file for a FIFO and back, swap a folder
# for a symlink to /etc and back, replace a file by a symlink to /etc/passwd.
cat >"$T_TMP/mutate.py" <<'EOF'
import os, sys, time
os.chdir(sys.argv[1])
end = time.time() + float(sys.argv[2])
open("shrink", "wb").write(os.urandom(8 << 20))
i = 0
while time.time() < end and not os.path.exists(sys.argv[3]):
    i += 1
    with open("grow", "ab") as f:
        f.write(os.urandom(65536))
    os.truncate("shrink", (8 << 20) - (i % 64) * 65536)
    try:
        os.unlink("ff")
    except FileNotFoundError:
        pass
    if i % 2:
        os.mkfifo("ff")
    else:
        open("ff", "wb").write(b"plain file\n")
    os.rename("swapd", "swapd.real")
    os.symlink("/etc", "swapd")
    time.sleep(0.001)
    os.unlink("swapd")
    os.rename("swapd.real", "swapd")
    try:
        os.unlink("pw")
    except FileNotFoundError:
        pass
    if i % 2:
        os.symlink("/etc/passwd", "pw")
    else:
        open("pw", "wb").write(b"not the password file\n")
EOF
STOP=$T_TMP/stop
python3 "$T_TMP/mutate.py" "$VOL/busy" 900 "$STOP" &
MUT=$!
t_on_exit kill "$MUT"
blocked=0
fails=0
for _ in 1 2 3; do
	run timeout 300 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" backup "$VOL/busy"
	[ "$RC" = 124 ] && blocked=$((blocked + 1))
	[ "$RC" = 0 ] || [ "$RC" = 3 ] || { fails=$((fails + 1)); t_diag "$ERR"; }
done
touch "$STOP"
wait "$MUT"
t_ok $blocked "three backups under change finish: none blocks on a FIFO ($blocked hung)"
t_ok $fails "each completes, at worst partially (exit 0 or 3; $fails did not)"
s=0
cairn ls latest >"$T_TMP/ls" && grep -q '/swapd' "$T_TMP/ls" || s=1
[ "$s" = 0 ] && ! grep -qE '/swapd(\.real)?/(passwd|hostname|hosts|fstab)$' "$T_TMP/ls" || s=1
t_ok $s "no snapshot holds /etc's files under the swapped folder" || t_diag "$T_TMP/ls"
run cairn restore latest --target "$T_TMP/r2"
t_rc 0 "the last snapshot under change restores"
s=0
B=$T_TMP/r2$(t_snap_path "$T_TMP/r2" "$VOL/busy")
P=$B/pw
if [ -L "$P" ]; then
	[ "$(readlink "$P")" = /etc/passwd ] || s=1
elif [ -f "$P" ]; then
	cmp -s "$P" /etc/passwd && s=1
fi
[ -d "$B" ] || s=1
[ ! -e "$B/swapd" ] || [ -L "$B/swapd" ] ||
	[ "$(ls "$B/swapd")" = inner ] || s=1
t_ok $s "a file swapped for a link to /etc/passwd is stored as the link or the file, never /etc/passwd's bytes" ||
	ls -la "$B" "$B/swapd" | sed 's/^/#   /'
run cairn check --read-data
t_rc 0 "the repository checks clean"
t_done
