#!/bin/bash
# A pod attacks the agent (root) that backs up its volume, beyond hostile-volume.sh:
# folders at three depths swapped for symlinks to /etc and /root in a tight loop and files
# swapped for links to /etc/shadow while the backup walks a volume big enough to lose the
# race often; a file appended to at full speed forever; files and folders of mode 000; a
# folder of 100 000 entries; a farm of hard links. The snapshot never holds a byte of a host
# file, the backup ends, root reads what the pod locked away, and the walk leaves the
# files' and folders' atime, ctime and xattrs as they were (strictatime mount).
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "tmpfs mounts need root here"
t_init_repo "$T_TMP/repo"
# cairn under a time limit (lib.sh's cairn is a function, which timeout cannot run).
tcairn() { timeout "${TO:-300}" env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "$@"; }
V=$T_TMP/vol
mkdir -p "$V"
mount -t tmpfs -o size=768m,strictatime tmpfs "$V" || t_bail "cannot mount a tmpfs"
T_MOUNTS+=("$V")

# ---- folders and files swapped for links to host secrets ----
# Each of the three swapped folders holds 300 files, so the walker is inside or entering
# them most of the time.
B=$V/busy
for d in a a/b a/b/c; do
	mkdir -p "$B/$d"
	for i in $(seq 300); do printf 'pod data %s %s\n' "$d" "$i" >"$B/$d/f$i"; done
done
echo pod >"$B/pw"
cat >"$T_TMP/swap.py" <<'EOF'
import os, sys
os.chdir(sys.argv[1])
stop = sys.argv[2]
targets = ["/etc", "/root", "/etc/ssh"]
i = 0
while not os.path.exists(stop):
    i += 1
    for d in ["a/b/c", "a/b", "a"]:
        try:
            os.rename(d, d + ".real")
            os.symlink(targets[i % 3], d)
            os.unlink(d)
            os.rename(d + ".real", d)
        except OSError:
            pass
    try:
        os.unlink("pw")
        if i % 2:
            os.symlink("/etc/shadow", "pw")
        else:
            open("pw", "w").write("pod\n")
    except OSError:
        pass
EOF
STOP=$T_TMP/stop
python3 "$T_TMP/swap.py" "$B" "$STOP" &
MUT=$!
t_on_exit kill "$MUT"
hung=0
bad=0
for _ in 1 2 3 4; do
	run tcairn backup --json "$B"
	[ "$RC" = 124 ] && hung=$((hung + 1))
	[ "$RC" = 0 ] || [ "$RC" = 3 ] || { bad=$((bad + 1)); t_diag "$ERR"; }
done
touch "$STOP"
wait "$MUT"
t_ok $hung "four backups under the swap loop end ($hung hung)"
t_ok $bad "each ends 0 or 3 ($bad did not)"
# Everything any of the snapshots holds: no path below a swapped folder that is not the
# pod's, and no file whose bytes are a host file's.
leak=0
for id in $(cairn snapshots --json | jq -r '.[].id'); do
	cairn ls "$id" >"$T_TMP/ls" || leak=1
	grep -vE '/busy(/pw|/a(\.real)?(/b(\.real)?(/c(\.real)?)?)?(/f[0-9]+)?)?$' "$T_TMP/ls" |
		grep -v '^/$' >"$T_TMP/odd"
	[ -s "$T_TMP/odd" ] && { leak=1; t_diag "$T_TMP/odd" 5; }
done
t_ok $leak "no snapshot lists a path of /etc, /root or /etc/ssh below a swapped folder"
rm -rf "$T_TMP/r"
leak=0
for id in $(cairn snapshots --json | jq -r '.[].id'); do
	run tcairn restore "$id" --target "$T_TMP/r/$id"
	# 3 only for what the backup recorded as replaced while it read it (named, never
	# looking whole).
	[ "$RC" = 0 ] || { [ "$RC" = 3 ] && ! grep 'warning:' "$ERR" |
		grep -qvE ': (restored incomplete|not restored): the backup could not read'; } ||
		{ leak=1; t_diag "$ERR"; }
done
for host in /etc/shadow /etc/gshadow /etc/passwd /etc/hostname; do
	[ -s "$host" ] || continue
	h=$(sha256sum <"$host" | cut -c1-64)
	n=$(find "$T_TMP/r" -type f -size "$(stat -c %s "$host")c" -exec sha256sum {} + |
		grep -c "^$h ")
	[ "$n" = 0 ] || { leak=1; echo "#   $n restored files hold the bytes of $host"; }
done
if [ -r /etc/shadow ] && [ -s /etc/shadow ]; then
	first=$(head -n 1 /etc/shadow)
	grep -rqF -- "$first" "$T_TMP/r" && { leak=1; echo "#   a restored file holds /etc/shadow's first line"; }
fi
t_ok $leak "the snapshots restore, and no restored file holds a host file's bytes"
# The pod's loop unlinks pw and then makes it again, as a link or as a file it then writes, so
# a walk may find no pw at all, or the file before its bytes: both are the pod's own state.
# What must never be is a file that holds anything but (a prefix of) the pod's bytes, or a
# link that points elsewhere.
s=0
for id in $(cairn snapshots --json | jq -r '.[].id'); do
	P=$T_TMP/r/$id$(t_snap_path "$T_TMP/r/$id" "$B")/pw
	if [ -L "$P" ]; then
		[ "$(readlink "$P")" = /etc/shadow ] || { s=1; echo "#   $id: pw links to $(readlink "$P")"; }
	elif [ -e "$P" ]; then
		[ -f "$P" ] && [ "$(stat -c %s "$P")" -le 4 ] && cmp -s -n "$(stat -c %s "$P")" "$P" <(printf 'pod\n') ||
			{ s=1; echo "#   $id: pw holds $(head -c 40 "$P" | od -An -c | head -n 2)"; }
	elif cairn ls "$id" | grep -q '/busy/pw$'; then
		s=1
		echo "#   $id: the snapshot lists pw but the restore made none"
	fi
done
t_ok $s "the swapped file is stored as the pod's bytes or as the link, never followed"

# ---- a file appended to at full speed, forever ----
G=$V/grow
mkdir -p "$G"
cat >"$T_TMP/grow.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
buf = os.urandom(1 << 20)
while not os.path.exists(sys.argv[2]):
    try:
        os.write(fd, buf)
    except OSError:          # the tmpfs is full: start again
        os.ftruncate(fd, 0)
EOF
rm -f "$STOP"
python3 "$T_TMP/grow.py" "$G/endless" "$STOP" &
GROW=$!
t_on_exit kill "$GROW"
t_wait 30 test -s "$G/endless"
run tcairn backup "$G"
touch "$STOP"
wait "$GROW"
s=0
[ "$RC" = 0 ] || { [ "$RC" = 3 ] && grep -q 'endless: file changed while being read' "$ERR"; } || s=1
t_ok $s "a file appended to forever does not keep the backup reading: it ends, naming the file (exit $RC)" ||
	t_diag "$ERR"
rm -rf "$G"

# ---- at rest: locked files, a big folder, a hard-link farm, times and xattrs ----
R=$V/rest
mkdir -p "$R/locked" "$R/big" "$R/farm"
echo secret-of-the-pod >"$R/locked/f"
chmod 000 "$R/locked/f" "$R/locked"
python3 - "$R/big" <<'EOF'
import os, sys
for i in range(100000):
    open(os.path.join(sys.argv[1], "e%06d" % i), "w").close()
EOF
echo shared >"$R/farm/l0"
for i in $(seq 1 2000); do ln "$R/farm/l0" "$R/farm/l$i"; done
setfattr -n user.pod -v value "$R/farm/l0"
ln -s locked/f "$R/link"
# The entries compared (symlinks left out: readlink always moves their atime), listed now,
# so that reading their folders again does not move the atimes compared.
find "$R" -path "$R/big/*" -prune -o -path "$R/link" -prune -o -print >"$T_TMP/list"
# Every entry's atime in the past: a read without O_NOATIME would move it (strictatime).
find "$R" -exec touch -h -a -d @1600000000 {} +
# state: stat and getxattr, which move no atime.
state() {
	tr '\n' '\0' <"$T_TMP/list" | xargs -0 stat -c '%n %F %s %a %h %X %Y %Z' | sort
	tr '\n' '\0' <"$T_TMP/list" | xargs -0 getfattr -h -d -m - 2>/dev/null | sort
}
before=$(state)
run tcairn backup --json "$R"
t_rc 0 "the volume at rest backs up whole"
id=$(jget "$OUT" '.snapshot_id')
s=0
[ "$before" = "$(state)" ] && [ "$(grep -c ' 1600000000 ' <<<"$before")" -gt 2000 ] || s=1
t_ok $s "no atime, ctime, mode, link count or xattr of a file or folder changed (strictatime)" ||
	diff <(echo "$before") <(state) | head -n 5 | sed 's/^/#   /'
run tcairn restore "$id" --target "$T_TMP/rr"
t_rc 0 "it restores"
L=$(t_landed "$T_TMP/rr" "$R")
s=0
[ "$(cat "$L/locked/f")" = secret-of-the-pod ] && [ "$(stat -c %a "$L/locked/f")" = 0 ] &&
	[ "$(stat -c %a "$L/locked")" = 0 ] || s=1
t_ok $s "a file and folder of mode 000 are read by root and restored with mode 000"
[ "$(find "$L/big" -mindepth 1 | wc -l)" = 100000 ]
t_ok $? "the folder of 100 000 entries restores whole"
s=0
[ "$(stat -c %h "$L/farm/l0")" = 2001 ] && [ "$(stat -c %i "$L/farm/l0")" = "$(stat -c %i "$L/farm/l2000")" ] &&
	[ "$(getfattr --only-values -n user.pod "$L/farm/l0" 2>/dev/null)" = value ] || s=1
t_ok $s "2001 names of one inode come back as one inode, its xattr once"
t_done
