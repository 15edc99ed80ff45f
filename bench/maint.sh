#!/bin/bash
# bench/maint.sh [SIZE_DIR]: prune after forgetting half of 30 snapshots of a changing
# tree, and check --read-data, cairn vs restic (apt restic) on the same data; prints times,
# ratios and peak RSS (GNU time at /usr/bin/time). Not a test. Needs
# /work/shared/bench/{mkdata,mutate}.sh (or BENCH_DIR) and the cairn binary at CAIRN_BIN.
# SNAPS=30 by default; SNAPS=6 for a quick run.
# SMALL=N instead: a repository of N tiny files (12-16 bytes, one blob each, 1 000 per
# folder), backed up, a tenth of them changed, backed up again and the first snapshot
# forgotten; then cairn's check, check --read-data, prune and repair index (each on its
# own copy) with wall seconds and peak RSS. No restic, no mkdata.sh. SMALL=1000000 is
# issue 15's million-blob case (about 2 GB of inodes and several minutes of backup).
# REUSE=1 with SMALL keeps the repository an earlier run left in SIZE_DIR and measures again.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-/work/shared/bench}
CAIRN_BIN=${CAIRN_BIN:-$HERE/../cairn}
SNAPS=${SNAPS:-30}
W=${1:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-maint.XXXXXX")}
# Wall seconds and peak RSS (MiB) of one command, from GNU time.
run() {
	local f
	f=$(mktemp)
	/usr/bin/time -f '%e %M' -o "$f" "$@" >/dev/null 2>&1 || true
	awk '{ printf "%s %.1f\n", $1, $2 / 1024 }' "$f"
	rm -f "$f"
}
if [ -n "${SMALL:-}" ]; then
	export CAIRN_PASSWORD=bench CAIRN_KDF_FAST=1
	C="$CAIRN_BIN -r $W/cairn"
	rm -rf "$W/prune" "$W/repair"
	# Content "<i>:<generation>" padded to 12-16 bytes: every file its own blob.
	gen_small() {
		perl -e 'my ($d, $n, $g, $step) = @ARGV;
			for (my $i = 0; $i < $n; $i += $step) {
				my $dir = sprintf("%s/%04d", $d, int($i / 1000));
				mkdir $dir unless -d $dir;
				open(my $f, ">", sprintf("%s/%06d", $dir, $i)) or die "$!";
				print $f sprintf("%-*s", 12 + $i % 5, "$i:$g");
				close($f);
			}' "$W/small" "$SMALL" "$1" "$2"
	}
	if [ -z "${REUSE:-}" ] || [ ! -d "$W/cairn" ]; then
		rm -rf "$W/small" "$W/cairn"
		mkdir -p "$W/small"
		gen_small 0 1
		$C init >/dev/null
		$C backup "$W/small" >/dev/null
		gen_small 1 10
		$C backup "$W/small" >/dev/null
		$C forget --keep-last 1 >/dev/null
	fi
	cp -a "$W/cairn" "$W/prune"
	cp -a "$W/cairn" "$W/repair"
	sync
	printf '%-22s %10s %12s\n' "step ($SMALL files)" seconds "peak MiB"
	for step in check "check --read-data"; do
		# shellcheck disable=SC2086 # $step is two words on purpose
		read -r t m < <(run $C $step)
		printf '%-22s %10.2f %12s\n' "$step" "$t" "$m"
	done
	read -r t m < <(run "$CAIRN_BIN" -r "$W/prune" prune)
	printf '%-22s %10.2f %12s\n' prune "$t" "$m"
	read -r t m < <(run "$CAIRN_BIN" -r "$W/repair" repair index)
	printf '%-22s %10.2f %12s\n' "repair index" "$t" "$m"
	for d in prune repair; do
		if ! "$CAIRN_BIN" -r "$W/$d" check >/dev/null 2>&1; then
			echo "check after $d failed" >&2
			exit 1
		fi
	done
	exit 0
fi
command -v restic >/dev/null || { echo "restic missing (apt-get install restic)" >&2; exit 1; }
[ -x "$BENCH_DIR/mkdata.sh" ] || { echo "no $BENCH_DIR/mkdata.sh" >&2; exit 1; }
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench CAIRN_KDF_FAST=1
C="$CAIRN_BIN -r $W/cairn"
R="restic -q -r $W/restic"
rm -rf "$W/data" "$W/cairn" "$W/restic"
"$BENCH_DIR/mkdata.sh" "$W/data" >/dev/null
$C init >/dev/null
$R init >/dev/null
for _ in $(seq 1 "$SNAPS"); do
	$C backup "$W/data" >/dev/null
	$R backup "$W/data" >/dev/null
	"$BENCH_DIR/mutate.sh" "$W/data" >/dev/null
done
keep=$((SNAPS / 2))
$C forget --keep-last "$keep" >/dev/null
$R forget --keep-last "$keep" >/dev/null
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
