#!/bin/bash
# restore-ab.sh REPO OUT ROUNDS OLD NEW - A/B two cairn binaries on full restores of the
# latest snapshot of one local repository (made beforehand with cairn init and backup),
# alternating OLD and NEW (the first of each round swaps: on this VM whichever restores
# second into a tmpfs can get cold pages, see compare.sh). Prints each restore's wall,
# user, sys and peak RSS, then per binary the median and best of wall and CPU (user+sys)
# seconds. A benchmark, not a test: on a loaded machine CPU seconds vary less than wall.
#
# Environment: CAIRN_PASSWORD (required), AB_ENV_OLD / AB_ENV_NEW: extra "VAR=value"
# settings for the old or the new run (an experiment with the same binary twice).
set -euo pipefail
[ $# = 5 ] || { echo "usage: restore-ab.sh REPO OUT ROUNDS OLD NEW" >&2; exit 2; }
REPO=$1 OUT=$2 ROUNDS=$3 OLD=$4 NEW=$5
[ -n "${CAIRN_PASSWORD:-}" ] || { echo "restore-ab.sh: set CAIRN_PASSWORD" >&2; exit 2; }
RES=$(mktemp -d)
trap 'rm -rf "$RES" "$OUT"' EXIT

one() { # TAG BIN ENV
	rm -rf "$OUT"
	sync
	# shellcheck disable=SC2086 # $3 is a list of VAR=value words
	env $3 /usr/bin/time -f '%e %U %S %M' -a -o "$RES/$1" "$2" -r "$REPO" --quiet restore latest \
		--target "$OUT" >"$RES/$1.log" 2>&1 || { echo "restore-ab.sh: $1 failed:" >&2; tail -n 5 "$RES/$1.log" >&2; exit 1; }
}
for i in $(seq 1 "$ROUNDS"); do
	if [ $((i % 2)) = 1 ]; then
		one old "$OLD" "${AB_ENV_OLD:-}"; one new "$NEW" "${AB_ENV_NEW:-}"
	else
		one new "$NEW" "${AB_ENV_NEW:-}"; one old "$OLD" "${AB_ENV_OLD:-}"
	fi
	printf 'round %d: old %s | new %s\n' "$i" "$(tail -n 1 "$RES/old")" "$(tail -n 1 "$RES/new")"
done
for t in old new; do
	awk -v t="$t" '{ w[NR] = $1; c[NR] = $2 + $3; m[NR] = $4 }
	function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x } return a[int((n + 1) / 2)] }
	END { n = NR; printf "%s: wall median %.2f best ", t, med(w, n); printf "%.2f, CPU-s median %.2f best ", w[1], med(c, n); printf "%.2f, RSS median %.0f MiB\n", c[1], med(m, n) / 1024 }' "$RES/$t"
done
