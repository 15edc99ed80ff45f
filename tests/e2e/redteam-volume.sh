#!/bin/bash
# What a hostile pod can put in its volume beyond hostile-volume.sh: files of 2^63-1
# sparse bytes (tmpfs allows them) whose sizes summed wrapped the byte totals into
# negative JSON numbers and a snapshot claiming 0 bytes; and folders nested deeper than
# the process's soft descriptor limit (the walker holds one per level), which cut the
# rest of the tree out of the snapshot although the hard limit allowed far more.
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "tmpfs mounts need root here"

t_init_repo "$T_TMP/repo"
# cairn under a time limit (lib.sh's cairn is a function, which timeout cannot run).
tcairn() { timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "$@"; }
MAX=9223372036854775807

# ---- sizes past 2^63 ----
V=$T_TMP/tmpfs
mkdir -p "$V"
mount -t tmpfs -o size=16m tmpfs "$V" || t_bail "cannot mount a tmpfs"
T_MOUNTS+=("$V")
mkdir "$V/vol"
for i in 1 2 3; do truncate -s "$MAX" "$V/vol/huge$i"; done
echo small >"$V/vol/small"
run tcairn backup --json "$V/vol"
t_rc 0 "three files of 2^63-1 sparse bytes back up"
# grep, not jq: jq reads numbers as doubles and would round 2^63-1.
grep -o '"total_bytes_processed":[-0-9]*' "$OUT" | tail -n 1 | cut -d: -f2 >"$T_TMP/tb"
[ "$(cat "$T_TMP/tb")" = "$MAX" ]
t_ok $? "the summary's byte total stops at 2^63-1 instead of wrapping ($(cat "$T_TMP/tb"))" ||
	t_diag "$OUT" 3
neg=$(grep -c -- ':-[0-9]' "$OUT")
t_ok "$neg" "no JSON line (progress or summary) holds a negative number ($neg did)" ||
	grep -- ':-[0-9]' "$OUT" | head -2 | sed 's/^/#   /'
run cairn snapshots --json
tb=$(grep -o '"total_bytes":[-0-9]*' "$OUT" | head -n 1 | cut -d: -f2)
[ "$tb" = "$MAX" ]
t_ok $? "the snapshot stores the clamped total, not a wrapped one ($tb)"
run cairn stats --json latest
s=0
jq -e '[.[] | numbers | select(. < 0)] | length == 0' "$OUT" >/dev/null || s=1
t_ok $s "stats --json prints no negative size" || t_diag "$OUT"
mkdir "$V/r"
run tcairn restore latest --target "$V/r"
t_rc 0 "and they restore"
[ "$(stat -c %s "$(t_landed "$V/r" "$V/vol")/huge3")" = "$MAX" ]
t_ok $? "as files of 2^63-1 bytes"

# ---- deeper than the soft descriptor limit ----
D=$T_TMP/deep
mkdir -p "$D"
python3 - "$D" <<'EOF' || t_bail "cannot build the deep tree"
import os, sys
os.chdir(sys.argv[1])
open('top', 'w').write('top\n')
for i in range(700):
    os.mkdir('d')
    os.chdir('d')
open('leaf', 'w').write('leaf\n')
EOF
hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -lt 2048 ]; then
	t_skip "a folder 700 levels deep under a soft limit of 256 fds" "hard fd limit $hard"
else
	run bash -c "ulimit -S -n 256 && CAIRN_PASSWORD='$T_PASS' exec timeout 300 '$CAIRN_BIN' -r '$REPO' backup --json '$D'"
	t_rc 0 "a folder 700 levels deep backs up whole under a soft limit of 256 fds"
	grep -q 'Too many open files' "$ERR" "$OUT"
	t_ok $((!$?)) "no entry is skipped for want of descriptors" || t_diag "$ERR"
	id=$(jget "$OUT" '.snapshot_id')
	run cairn ls "$id"
	s=1
	grep -q '/leaf$' "$OUT" && s=0
	t_ok $s "the leaf 700 levels down is in the snapshot" || t_diag "$ERR"
fi
t_done
