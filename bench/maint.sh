#!/bin/bash
# bench/maint.sh [SIZE_DIR]: prune after forgetting half of 30 snapshots of a changing
# tree, and check --read-data, cairn vs restic (apt restic) on the same data; prints times
# and ratios. Not a test. Needs /work/shared/bench/{mkdata,mutate}.sh (or BENCH_DIR) and
# the cairn binary at CAIRN_BIN. SNAPS=30 by default; SNAPS=6 for a quick run.
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
secs() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
sync
t_cp=$(secs $C prune)
t_rp=$(secs $R prune)
sync
t_cc=$(secs $C check --read-data)
t_rc=$(secs $R check --read-data)
printf '%-22s %10s %10s %8s\n' step cairn restic ratio
printf '%-22s %10.2f %10.2f %7.2fx\n' "prune ($keep of $SNAPS)" "$t_cp" "$t_rp" "$(echo "$t_rp / $t_cp" | bc -l)"
printf '%-22s %10.2f %10.2f %7.2fx\n' "check --read-data" "$t_cc" "$t_rc" "$(echo "$t_rc / $t_cc" | bc -l)"
printf 'repository size after prune: cairn %s, restic %s\n' "$(du -sh "$W/cairn" | cut -f1)" "$(du -sh "$W/restic" | cut -f1)"
