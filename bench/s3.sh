#!/bin/sh
# bench/s3.sh [TREE] -- backup and restore of a tree to s3rver, or to Swift's s3api with
# S3_SERVER=swift (through a counting pass-through proxy), versus the local backend:
# MB/s, requests per GiB, peak RSS, and the number of packs (restore GETs are bounded
# by a small multiple of it). Not a test: prints numbers. TREE defaults to the shared
# ~1 GiB benchmark tree, generated on first use by /work/shared/bench/mkdata.sh (or
# $MKDATA).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
S=$here/tests/s3
C=${CAIRN_BIN:-$here/cairn}
TREE=${1:-${TMPDIR:-/tmp}/cairn-bench-tree}
W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-s3-bench.XXXXXX")
P=${CAIRN_S3_PORT_BASE:-18630}
SERVER=${S3_SERVER:-s3rver}
export CAIRN_PASSWORD=bench AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
[ "$SERVER" = swift ] && export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
fpid=""
cleanup() {
	rm -f "/dev/shm/cairn-s3-prefault.$$"
	sh "$S/$SERVER.sh" stop "$W/$SERVER" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

[ -d "$TREE" ] || bash "${MKDATA:-/work/shared/bench/mkdata.sh}" "$TREE"
if [ "$SERVER" = swift ]; then
	command -v swift-proxy-server >/dev/null 2>&1 || sh "$S/deps.sh"
else
	[ -x "$S/node_modules/.bin/s3rver" ] || sh "$S/deps.sh"
fi
bytes=$(du -sb "$TREE" | cut -f1)
mb=$(echo "$bytes" | awk '{printf "%.1f", $1 / 1048576}')

# CPU seconds (user + system) used so far by the server's processes and the counting
# proxy: on two cores the server shares the CPUs with cairn, so a phase whose server CPU
# approaches its wall time x 2 - cairn's CPU is bound by the server, not by cairn.
server_cpu() {
	pids="$fpid $(cat "$W/$SERVER"/pid "$W/$SERVER"/run/*.pid 2>/dev/null || true)"
	t=0
	for p in $pids; do
		[ -r "/proc/$p/stat" ] || continue
		# fields 14 and 15 after the command name (which may hold spaces)
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$t $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}

# This kind of VM hands freed memory back to its host (free page reporting): a restore
# writing into pages the host took back pays ~4 s more system time per GiB, so which of two
# restores ran into fresh memory decided their ratio (bench/README.md, PVR overhead). Each
# timed phase starts after writing and freeing as much memory as the tree holds.
prefault() {
	f=/dev/shm/cairn-s3-prefault.$$
	[ -d /dev/shm ] || return 0
	head -c "$((bytes + bytes / 4))" /dev/zero >"$f" 2>/dev/null || true
	rm -f "$f"
}

timed() { # LABEL CMD...: prints MB/s, seconds, CPU seconds and peak RSS (KiB) of CMD
	label=$1; shift
	prefault
	sync
	c0=$(server_cpu)
	/usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >"$W/out" 2>&1 || { cat "$W/out"; exit 1; }
	c1=$(server_cpu)
	read -r secs usr sys rss <"$W/time"
	echo "$secs" >"$W/secs-$label"
	echo "$label $secs $rss $usr $sys $c0 $c1" | awk -v mb="$mb" '{printf "%-22s %8.1f MB/s  %7.1f s  cairn CPU %5.1f s  server CPU %5.1f s  peak RSS %6.0f MiB\n", $1, mb / $2, $2, $4 + $5, $7 - $6, $3 / 1024}'
}

sh "$S/$SERVER.sh" start "$W/$SERVER" "$P" >/dev/null
/usr/bin/python3 "$S/faultproxy.py" $((P + 5)) "$P" 0 1 count 2>"$W/requests.log" &
fpid=$!
sleep 0.5

L="$W/local"
S3="s3:http://127.0.0.1:$((P + 5))/cairn-bench/repo"
echo "tree: $TREE ($mb MiB), server: $SERVER, load average $(cut -d' ' -f1-3 /proc/loadavg)"
$C -r "$L" init >/dev/null
timed local-backup $C -r "$L" backup "$TREE"
timed local-restore $C -r "$L" restore latest --target "$W/rl"
rm -rf "$W/rl"
$C -r "$S3" init >/dev/null
: >"$W/requests.log"
timed s3-backup $C -r "$S3" backup "$TREE"
up=$(grep -c '^request ' "$W/requests.log" || true)
: >"$W/requests.log"
timed s3-restore $C -r "$S3" restore latest --target "$W/rs"
down=$(grep -c '^request ' "$W/requests.log" || true)
[ -n "${S3_BENCH_LOG:-}" ] && cp "$W/requests.log" "$S3_BENCH_LOG"
gets=$(grep -c '^request GET' "$W/requests.log" || true)
packs=$(find "$L/data" -type f | wc -l)
echo "$bytes $up $down" | awk '{g = $1 / 1073741824; printf "requests per GiB: backup %.0f, restore %.0f\n", $2 / g, $3 / g}'
echo "restore: $down requests ($gets GETs) for $packs packs"
printf 'restore requests by method:'
awk '$1 == "request" {n[$2]++} END {for (m in n) printf " %s %d", m, n[m]; print ""}' "$W/requests.log"
# The targets of issue 15: restore from S3 at least 0.8x the local restore speed, and no
# more than about twice as many restore requests as the repository has packs.
lr=$(cat "$W/secs-local-restore")
sr=$(cat "$W/secs-s3-restore")
echo "$lr $sr" | awk '{r = $1 / $2; printf "target: s3 restore speed / local restore speed %.2f (target >= 0.80) %s\n", r, (r >= 0.8 ? "ok" : "MISSES")}'
echo "$down $packs" | awk '{r = $2 ? $1 / $2 : 0; printf "target: restore requests / packs %.2f (target <= 2.00) %s\n", r, (r <= 2 ? "ok" : "MISSES")}'
# The times mean little on a busy machine (the server shares the CPU with the restore).
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
