#!/bin/bash
# diff lists added/removed/modified paths; stats counts; repair index rebuilds a lost index.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
REPO=$T_TMP/repo
run cairn init --pack-size 1M
[ "$RC" -eq 0 ] || t_bail "init failed"
S=$T_TMP/src
mkdir -p "$S/d"
echo a >"$S/keep"; echo b >"$S/change"; echo c >"$S/d/gone"
head -c 2000000 /dev/urandom >"$S/big"
cairn backup "$S" >/dev/null 2>&1 || t_bail "backup 1"
echo B >"$S/change"; rm "$S/d/gone"; echo n >"$S/new"
cairn backup "$S" >/dev/null 2>&1 || t_bail "backup 2"
ids=$(cairn snapshots --json | jq -r '.[].id')
# shellcheck disable=SC2086
run cairn diff $ids
t_rc 0 "diff runs"
grep -q '^+ .*/new$' "$OUT" && grep -q '^- .*/d/gone$' "$OUT" && grep -q '^M .*/change$' "$OUT"
t_ok $? "diff: +new, -d/gone, M change" || t_diag "$OUT"
! grep -q 'keep\|big' "$OUT"
t_ok $? "unchanged files are not listed"
run cairn stats --json
[ "$(jget "$OUT" .total_file_count)" = 8 ]
t_ok $? "restore-size counts files of both snapshots (4 + 4)"
run cairn stats --mode raw-data --json
[ "$(jget "$OUT" .total_size)" -ge 2000000 ] && [ "$(jget "$OUT" .total_size)" -lt 2100000 ]
t_ok $? "raw-data counts the shared big file once"
rm -f "$REPO"/index/*
run cairn check
[ "$RC" -ne 0 ]
t_ok $? "check fails with the index gone"
run cairn repair index
t_rc 0 "repair index"
run cairn check --read-data
t_rc 0 "check passes after repair index"
rm -rf "$T_TMP/out"
cairn restore latest --target "$T_TMP/out" >/dev/null 2>&1
diff -r "$(t_landed "$T_TMP/out" "$S")" "$S" >/dev/null
t_ok $? "latest restores after repair index"
t_done
