#!/bin/bash
# backup-ab.sh DATA WORKDIR ROUNDS BIN... - cairn binaries against each other on a first
# backup and a backup after a day of changes (mutate.sh), alternating binaries each round,
# on a copy of DATA (a mkdata.sh tree) made once per round. Prints per run wall, user+sys
# CPU seconds and peak RSS, then per binary the best wall and the median CPU seconds: on a
# shared machine one run tells little. A benchmark, not a test.
# Environment: SHARED (folder holding bench/mutate.sh; default ../shared beside the tree).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$HERE/../../shared}
DATA=${1:?usage: backup-ab.sh DATA WORKDIR ROUNDS BIN...}
W=${2:?}
ROUNDS=${3:?}
shift 3
export CAIRN_PASSWORD=bench-password
unset CAIRN_KDF_FAST CAIRN_REPOSITORY
mkdir -p "$W"
: >"$W/runs"
for r in $(seq 1 "$ROUNDS"); do
	i=0
	for bin in "$@"; do
		i=$((i + 1))
		rm -rf "$W/d" "$W/repo"
		cp -a "$DATA" "$W/d"
		"$bin" -r "$W/repo" --quiet init >/dev/null
		for phase in first mutated; do
			[ "$phase" = mutated ] && "$SHARED/bench/mutate.sh" "$W/d" >/dev/null
			sync
			/usr/bin/time -f '%e %U %S %M' -o "$W/t" "$bin" -r "$W/repo" --quiet backup "$W/d" >/dev/null
			read -r wall u s rss <"$W/t"
			echo "$i $phase $wall $(echo "$u + $s" | bc) $rss" | tee -a "$W/runs"
		done
	done
done
echo "bin phase best_wall median_cpu (of $ROUNDS)"
for phase in first mutated; do
	for i in $(seq 1 $#); do
		sel() { awk -v i="$i" -v p="$phase" -v f="$1" '$1 == i && $2 == p { print $f }' "$W/runs" | sort -n; }
		echo "$i $phase $(sel 3 | head -n 1) $(sel 4 | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
	done
done
rm -rf "$W/d" "$W/repo"
