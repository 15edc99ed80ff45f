#!/bin/bash
# bench/maint-scale.sh DIR [BIN...]: peak RSS (MiB, GNU time %M) and CPU seconds of
# `check`, `prune` (on a copy) and an unchanged re-backup at a million tiny blobs (issue
# 15's "maintenance at scale"), for each cairn binary given (default: CAIRN_BIN), ROUNDS
# times (default 3), the binaries alternating so the machine's load falls on all alike.
# The repository is built once in DIR by `bench/maint.sh` (SMALL=1000000: 1 000 000 files
# of 12-16 bytes in 1 000 folders, backed up, a tenth changed, backed up again, the first
# snapshot forgotten) with the first binary; REUSE=1 keeps one an earlier run left there.
# The re-backup runs twice: on the repository as backups left it (their index files) and
# on the copy prune rewrote. Not a test; about 2 GB of tmpfs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:?usage: maint-scale.sh DIR [BIN...]}
shift
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=("${CAIRN_BIN:-$HERE/../cairn}")
ROUNDS=${ROUNDS:-3}
export CAIRN_PASSWORD=bench CAIRN_KDF_FAST=1
if [ -z "${REUSE:-}" ] || [ ! -d "$W/cairn" ]; then
	SMALL=1000000 CAIRN_BIN="${BINS[0]}" "$HERE/maint.sh" "$W" >/dev/null
fi
# One line: round, binary, step, then "user+sys peakMiB" of the command.
step() {
	local i=$1 b=$2 name=$3 f cpu mib
	shift 3
	f=$(mktemp)
	/usr/bin/time -f '%U %S %M' -o "$f" "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
	read -r cpu mib < <(awk '{ printf "%.2f %.1f\n", $1 + $2, $3 / 1024 }' "$f")
	rm -f "$f"
	printf '%-4s %-40s %-18s %8s %9s\n' "$i" "$b" "$name" "$cpu" "$mib"
}
printf '%-4s %-40s %-18s %8s %9s\n' round binary step cpu_s peak_MiB
for ((i = 1; i <= ROUNDS; i++)); do
	for b in "${BINS[@]}"; do
		rm -rf "$W/t-prune" "$W/t-rb"
		cp -a "$W/cairn" "$W/t-prune"
		cp -a "$W/cairn" "$W/t-rb"
		step "$i" "$b" check "$b" -r "$W/cairn" check
		step "$i" "$b" prune "$b" -r "$W/t-prune" prune
		step "$i" "$b" rebackup-pruned "$b" -r "$W/t-prune" backup "$W/small"
		step "$i" "$b" rebackup-as-is "$b" -r "$W/t-rb" backup "$W/small"
		"$b" -r "$W/t-prune" check >/dev/null 2>&1 || { echo "check after prune failed" >&2; exit 1; }
	done
done
rm -rf "$W/t-prune" "$W/t-rb"
