#!/bin/bash
# restore-prof.sh REPO OUT [CAIRN] - where a full restore's CPU goes: one restore of the
# latest snapshot of a local repository under perf record, its samples summed by kind:
# SHA-256 (the HMAC re-hash of every blob), ChaCha20 and Poly1305 (the AEAD), zstd, the
# kernel's pwrite and pread paths, the per-file system calls, page faults, libc and cairn
# itself. OpenSSL ships without symbols, so its code is told apart by the instructions it
# runs (sha256rnds2, vprold, vpmadd52) in each 4 KiB page of libcrypto that has samples.
# A benchmark, not a test. Needs perf (apt-get install linux-perf) and objdump.
#
# Environment: CAIRN_PASSWORD (required), PERF_DATA (kept when set; default a temporary
# file removed at the end).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: restore-prof.sh REPO OUT [CAIRN]" >&2; exit 2; }
REPO=$1 OUT=$2 CAIRN=${3:-cairn}
[ -n "${CAIRN_PASSWORD:-}" ] || { echo "restore-prof.sh: set CAIRN_PASSWORD" >&2; exit 2; }
command -v perf >/dev/null || { echo "restore-prof.sh: no perf" >&2; exit 2; }
TMP=$(mktemp -d)
DATA=${PERF_DATA:-$TMP/perf.data}
trap 'rm -rf "$TMP" "$OUT"' EXIT

rm -rf "$OUT"
sync
/usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KiB peak RSS, %R minor faults' -o "$TMP/time" \
	perf record -q -o "$DATA" -g --call-graph=fp "$CAIRN" -r "$REPO" --quiet restore latest \
	--target "$OUT" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
echo "restore under perf: $(cat "$TMP/time")"

# Self time by library and symbol (or address, in a library without symbols).
perf report -i "$DATA" --no-children --sort dso,symbol --stdio 2>/dev/null |
	awk '/^ +[0-9.]+%/ && !/--/ { print $1, $2, $4 }' >"$TMP/self"
# Inclusive time of each system call's kernel entry, and of the page-fault handler.
perf report -i "$DATA" --children --sort symbol --stdio 2>/dev/null |
	awk '/^ +[0-9.]+%/ && !/--/ && ($4 ~ /^__(x64|do)_sys_/ || $4 == "asm_exc_page_fault") { print $1, $4 }' >"$TMP/sys"
LIBCRYPTO=$(awk '$2 ~ /^libcrypto/ { print $2; exit }' "$TMP/self")
LIBPATH=""
[ -z "$LIBCRYPTO" ] || LIBPATH=$(ldd "$(command -v "$CAIRN")" | awk -v l="$LIBCRYPTO" '$1 == l { print $3 }')
# Each sampled page of libcrypto named by what its code does.
: >"$TMP/pages"
if [ -n "$LIBPATH" ]; then
	awk -v l="$LIBCRYPTO" '$2 == l && $3 ~ /^0x/ { print $3 }' "$TMP/self" |
		while read -r a; do printf '%x\n' $(((a >> 12) << 12)); done | sort -u |
		while read -r p; do
			d=$(objdump -d --start-address=0x"$p" --stop-address=$((0x$p + 4096)) "$LIBPATH" 2>/dev/null)
			k="crypto other"
			if grep -q sha256rnds2 <<<"$d"; then k=sha256
			elif grep -q vpmadd52 <<<"$d"; then k=poly1305
			elif grep -q -E 'vprold|vprotd' <<<"$d"; then k=chacha20; fi
			echo "$p $k"
		done >"$TMP/pages"
fi
# The libcrypto addresses as their pages (awk here may lack strtonum).
while read -r pct dso sym; do
	if [ "$dso" = "$LIBCRYPTO" ] && [[ $sym == 0x* ]]; then sym=page:$(printf '%x' $(((sym >> 12) << 12))); fi
	echo "$pct $dso $sym"
done <"$TMP/self" >"$TMP/self2"
awk -v lc="$LIBCRYPTO" 'FNR == NR { kind[$1] = substr($0, index($0, " ") + 1); next }
	{ pct = $1 + 0; dso = $2; sym = $3
	  if (dso == lc && sym ~ /^page:/) { p = substr(sym, 6); k = (p in kind) ? kind[p] : "crypto other" }
	  else if (dso ~ /^libzstd/) k = "zstd"
	  else if (dso ~ /^libcrypto/) k = "crypto other"
	  else if (dso ~ /kernel/) k = "kernel (all)"
	  else if (dso ~ /^libc\./) k = "libc (malloc, memcpy, ...)"
	  else k = dso
	  s[k] += pct }
	END { for (k in s) printf "%6.2f%%  %s\n", s[k], k }' "$TMP/pages" "$TMP/self2" | sort -rn
echo "kernel, by system call (inclusive):"
awk '{ printf "  %7s  %s\n", $1, $2 }' "$TMP/sys" | head -14
