#!/bin/bash
# fuse.sh [WORKDIR] - reading through `cairn mount` against `cairn restore` and `restic
# mount` on the same data: sequential `cat` of a 1 GiB file to /dev/null (cold blob
# cache, dropped page cache), and `find MOUNT/snapshots/X | wc -l` over 20 000 small files
# (warm: second run). A benchmark, not a test: prints seconds, MiB/s and ratios.
#
# Needs root (FUSE), fusermount3 (tests/fuse/deps.sh), restic for the comparison.
# Environment: CAIRN_BIN (default ./cairn), MKTREE (tests/tools/mktree beside it),
# RESTIC (restic), BIG_MIB (1024), SMALL (20000), KEEP=1 keeps WORKDIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
W=${1:-${TMPDIR:-/tmp}/cairn-bench-fuse}
RESTIC=${RESTIC:-restic}
BIG_MIB=${BIG_MIB:-1024}
SMALL=${SMALL:-20000}
CAIRN_BIN=${CAIRN_BIN:-$TOP/cairn}
MKTREE=${MKTREE:-$(dirname "$CAIRN_BIN")/tests/tools/mktree}

die() { echo "fuse.sh: $*" >&2; exit 2; }
[ -x "$CAIRN_BIN" ] || die "no cairn binary at $CAIRN_BIN (build it, or set CAIRN_BIN)"
[ -x "$MKTREE" ] || die "no mktree at $MKTREE (make check builds it)"
command -v fusermount3 >/dev/null || die "no fusermount3 (tests/fuse/deps.sh)"
[ "$(id -u)" = 0 ] || die "FUSE mounts need root here"
[ -x /usr/bin/time ] || die "no /usr/bin/time (tests/tools/deps.sh installs it)"

export RESTIC_PASSWORD=bench-password CAIRN_PASSWORD=bench-password
unset CAIRN_KDF_FAST RESTIC_REPOSITORY CAIRN_REPOSITORY
rm -rf "$W"
mkdir -p "$W"/{big,mnt,rmnt,restore}
cleanup() {
	fusermount3 -u "$W/mnt" 2>/dev/null || true
	fusermount3 -u "$W/rmnt" 2>/dev/null || fusermount -u "$W/rmnt" 2>/dev/null || true
	if [ -n "${MPID:-}" ]; then kill "$MPID" 2>/dev/null || true; fi
	if [ -n "${RPID:-}" ]; then kill "$RPID" 2>/dev/null || true; fi
	[ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
secs() { calc "$2 - $1"; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
wait_mount() { # wait_mount DIR PID
	for _ in $(seq 600); do
		grep -q " $1 fuse" /proc/mounts && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

echo "data: ${BIG_MIB} MiB random file + ${SMALL} small files in $W"
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$W/big/big.bin"
"$MKTREE" "$W/small" --small "$SMALL" >/dev/null
"$CAIRN_BIN" -r "$W/repo" init >/dev/null
"$CAIRN_BIN" -r "$W/repo" --json backup "$W/big" >"$W/big.json"
BIGSNAP=$(sed -n 's/.*"snapshot_id": *"\([0-9a-f]*\)".*/\1/p' "$W/big.json" | tail -1)
[ -n "$BIGSNAP" ] || die "no snapshot id in the backup summary"
"$CAIRN_BIN" -r "$W/repo" backup "$W/small" >/dev/null

"$CAIRN_BIN" -r "$W/repo" mount "$W/mnt" 2>"$W/mount.err" &
MPID=$!
wait_mount "$W/mnt" "$MPID" || die "cairn mount did not come up: $(cat "$W/mount.err")"
S=$W/mnt/ids/${BIGSNAP:0:8}
BIGF=$(find "$S" -maxdepth 6 -name big.bin | head -1)
SMALLD=$(find "$W/mnt/snapshots/latest/" -maxdepth 6 -type d -name small | head -1)
[ -f "$BIGF" ] || die "big.bin not found in the mount"

# CPU seconds (user+system) of a process from /proc: independent of other load.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
drop
c0=$(cpu_of "$MPID")
t0=$(now); cat "$BIGF" >/dev/null; t1=$(now)
m_cat=$(secs "$t0" "$t1")
m_cpu=$(calc "$(cpu_of "$MPID") - $c0")
drop
t0=$(now)
/usr/bin/time -f '%U %S' -o "$W/restore.time" \
	"$CAIRN_BIN" -r "$W/repo" restore "$BIGSNAP" --target "$W/restore" >/dev/null
t1=$(now)
m_rest=$(secs "$t0" "$t1")
r_cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$W/restore.time")
[ "$(find "$W/restore" -name big.bin -size "${BIG_MIB}M" | wc -l)" = 1 ] || die "restore did not restore big.bin"
find "$SMALLD" >/dev/null
t0=$(now); n_find=$(find "$SMALLD" | wc -l); t1=$(now)
m_find=$(secs "$t0" "$t1")
kill -TERM "$MPID"; wait "$MPID" || true; MPID=

rate() { awk "BEGIN { printf \"%.0f\", $BIG_MIB / $1 }"; }
echo
printf '%-44s %8s s  %6s MiB/s\n' "cairn mount: cat ${BIG_MIB} MiB (cold)" "$m_cat" "$(rate "$m_cat")"
printf '%-44s %8s s  %6s MiB/s\n' "cairn restore of the same file" "$m_rest" "$(rate "$m_rest")"
printf '%-44s %8s s / %s s  (mount / restore, incl. restore key derivation)\n' "CPU time" "$m_cpu" "$r_cpu"
printf '%-44s %8s   (mount/restore speed; >= 0.5 wanted)\n' "ratio" \
	"$(calc "$m_rest / $m_cat")"
printf '%-44s %8s s  (%s entries, warm; < 1 s wanted)\n' "cairn mount: find | wc -l" "$m_find" "$n_find"

# restic on the same data, when its mount works here (it needs a fusermount binary).
if command -v "$RESTIC" >/dev/null; then
	"$RESTIC" -r "$W/rrepo" init >/dev/null 2>&1
	"$RESTIC" -r "$W/rrepo" backup "$W/big" "$W/small" >/dev/null 2>&1
	"$RESTIC" -r "$W/rrepo" mount "$W/rmnt" >"$W/rmount.err" 2>&1 &
	RPID=$!
	if wait_mount "$W/rmnt" "$RPID"; then
		RS=$W/rmnt/snapshots/latest
		drop
		t0=$(now); cat "$RS$W/big/big.bin" >/dev/null; t1=$(now)
		r_cat=$(secs "$t0" "$t1")
		find "$RS$W/small" >/dev/null
		t0=$(now); r_n=$(find "$RS$W/small" | wc -l); t1=$(now)
		r_find=$(secs "$t0" "$t1")
		printf '%-44s %8s s  %6s MiB/s\n' "restic mount: cat ${BIG_MIB} MiB (cold)" "$r_cat" "$(rate "$r_cat")"
		printf '%-44s %8s s  (%s entries, warm)\n' "restic mount: find | wc -l" "$r_find" "$r_n"
		printf '%-44s %8s   (below 1: cairn faster)\n' "cairn/restic cat time" \
			"$(calc "$m_cat / $r_cat")"
		printf '%-44s %8s\n' "cairn/restic find time" \
			"$(calc "$m_find / $r_find")"
	else
		echo "restic mount did not come up here: $(head -c 300 "$W/rmount.err")"
	fi
fi
