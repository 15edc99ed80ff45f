#!/bin/bash
# check's pass over the index files (read one pack at a time): unused blobs after forget,
# duplicate copies of a pack, a pack header that does not read, a missing pack,
# with exact counts from --json; and prune after that keeps every snapshot whole.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
t_need
REPO=$T_TMP/repo
run cairn init --pack-size 1M
[ "$RC" -eq 0 ] || t_bail "init failed"
S=$T_TMP/src
mkdir -p "$S/a" "$S/b"
for i in $(seq 1 40); do echo "file $i" >"$S/a/$i"; done
head -c 1500000 /dev/urandom >"$S/b/big"
cairn backup "$S" >/dev/null 2>&1 || t_bail "backup 1"
summary() { jq -c 'select(.message_type == "summary")' "$OUT"; }
run cairn check --json
t_rc 0 "a fresh repository checks"
[ "$(summary | jq .blobs_unreferenced)" = 0 ] && [ "$(summary | jq .blobs_duplicate)" = 0 ] &&
	[ "$(summary | jq .headers_read)" -ge 2 ]
t_ok $? "no unused, no duplicate blobs; every header read ($(summary))" || t_diag "$OUT"

# Unused: 10 files change, the first snapshot goes. Its 10 data blobs and the trees of a/
# and of the root are used by no snapshot now.
for i in $(seq 1 10); do echo "changed $i" >"$S/a/$i"; done
cairn backup "$S" >/dev/null 2>&1 || t_bail "backup 2"
first=$(cairn snapshots --json | jq -r '.[0].id')
cairn forget "$first" >/dev/null 2>&1 || t_bail "forget"
run cairn check --json
t_rc 0 "unused blobs are warnings, not problems"
n=$(summary | jq .blobs_unreferenced)
# The folders from / down to a/ changed too: their trees count, whatever the depth.
[ "$n" -ge 12 ] && [ "$n" -le $((12 + $(echo "$S" | tr -cd / | wc -c))) ]
t_ok $? "the 10 data blobs and the changed folders' trees are unused ($n)" || t_diag "$OUT"

# Duplicates: a copy of a pack under another name, indexed by repair index, holds a
# second copy of each of its blobs.
p=$(find "$REPO/data" -type f -size +100k | head -1)
[ -n "$p" ] || t_bail "no pack with the big file"
n=$(basename "$p")
copy=ff${n:2}
[ "$copy" != "$n" ] || copy=ee${n:2}
mkdir -p "$REPO/data/${copy:0:2}"
cp "$p" "$REPO/data/${copy:0:2}/$copy"
run cairn repair index
t_rc 0 "repair index over two copies of a pack"
run cairn check --json
t_rc 0 "duplicates are warnings, not problems"
dups=$(summary | jq .blobs_duplicate)
[ "$dups" -ge 1 ]
t_ok $? "the blobs of the copied pack are duplicates ($dups)" || t_diag "$OUT"
grep -q 'stored more than once' "$OUT"
t_ok $? "and named" || t_diag "$OUT"
run cairn prune --max-unused 0
t_rc 0 "prune drops the second copies and the unused blobs"
run cairn check --read-data --json
t_rc 0 "check --read-data after prune"
[ "$(summary | jq .blobs_duplicate)" = 0 ] && [ "$(summary | jq .blobs_unreferenced)" = 0 ]
t_ok $? "no duplicate, no unused blob left ($(summary))" || t_diag "$OUT"
rm -rf "$T_TMP/out"
cairn restore latest --target "$T_TMP/out" >/dev/null 2>&1
diff -r "$(t_landed "$T_TMP/out" "$S")" "$S" >/dev/null
t_ok $? "the last snapshot restores identical"

# A pack whose header does not read, and a pack that is gone: problems, exit 14.
packs=$(find "$REPO/data" -type f | sort)
one=$(echo "$packs" | head -1)
two=$(echo "$packs" | sed -n 2p)
[ -n "$two" ] || t_bail "need two packs"
truncate -s -3 "$one"
rm -f "$two"
run cairn check --json
t_rc 14 "a damaged and a missing pack fail the check"
grep -q "$(basename "$one")" "$OUT"
t_ok $? "the damaged pack is named" || t_diag "$OUT"
grep -q "$(basename "$two") is in the index but missing" "$OUT"
t_ok $? "the missing pack is named" || t_diag "$OUT"
[ "$(summary | jq .problems)" -ge 2 ]
t_ok $? "two problems at least ($(summary | jq .problems))" || t_diag "$OUT"
t_done
