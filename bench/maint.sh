#!/bin/bash
# bench/maint.sh [SIZE_DIR]: prune after forgetting half of 30 snapshots of a changing
# tree, and check --read-data, cairn vs restic (apt restic) on the same data; prints times,
# ratios and peak RSS (GNU time at /usr/bin/time). Not a test. Needs
# /work/shared/bench/{mkdata,mutate}.sh (or BENCH_DIR) and the cairn binary at CAIRN_BIN.
# SNAPS=30 by default; SNAPS=6 for a quick run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-/work/shared/bench}
CAIRN_BIN=${CAIRN_BIN:-$HERE/../cairn}
SNAPS=${SNAPS:-30}
W=${1:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-maint.XXXXXX")}
command -v restic >/dev/null || { echo "restic missing (apt-get install restic)" >&2; exit 1; }
[ -x "$BENCH_DIR/mkdata.sh" ] || { echo "no $BENCH_DIR/mkdata.sh" >&2; exit 1; }
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench CAIRN_KDF_FAST=1
C="$CAIRN_BIN -r $W/cairn"
R="restic -q -r $W/restic"
rm -rf "$W/data" "$W/cairn" "$W/restic"
"$BENCH_DIR/mkdata.sh" "$W/data" >/dev/null
$C init >/dev/null
$R init >/dev/null
for i in $(seq 1 "$SNAPS"); do
	$C backup "$W/data" >/dev/null
	$R backup "$W/data" >/dev/null
	"$BENCH_DIR/mutate.sh" "$W/data" >/dev/null
done
keep=$((SNAPS / 2))
$C forget --keep-last "$keep" >/dev/null
$R forget --keep-last "$keep" >/dev/null
# Wall seconds and peak RSS (MiB) of one command, from GNU time.
run() {
	local f
	f=$(mktemp)
	/usr/bin/time -f '%e %M' -o "$f" "$@" >/dev/null
	awk '{ printf "%s %.1f\n", $1, $2 / 1024 }' "$f"
	rm -f "$f"
}
sync
read -r t_cp m_cp < <(run $C prune)
read -r t_rp m_rp < <(run $R prune)
sync
read -r t_cc m_cc < <(run $C check --read-data)
read -r t_rc m_rc < <(run $R check --read-data)
printf '%-22s %10s %10s %8s %12s %12s\n' step cairn restic ratio "cairn MiB" "restic MiB"
printf '%-22s %10.2f %10.2f %7.2fx %12s %12s\n' "prune ($keep of $SNAPS)" "$t_cp" "$t_rp" \
	"$(echo "$t_rp / $t_cp" | bc -l)" "$m_cp" "$m_rp"
printf '%-22s %10.2f %10.2f %7.2fx %12s %12s\n' "check --read-data" "$t_cc" "$t_rc" \
	"$(echo "$t_rc / $t_cc" | bc -l)" "$m_cc" "$m_rc"
printf 'repository size after prune: cairn %s, restic %s\n' "$(du -sh "$W/cairn" | cut -f1)" "$(du -sh "$W/restic" | cut -f1)"
