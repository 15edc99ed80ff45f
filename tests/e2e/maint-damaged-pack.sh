#!/bin/bash
# A pack whose header is damaged (one byte of its sealed header flipped) but whose blobs
# are whole: check and check --read-data name it once per line; repair index keeps its
# entries from the old index (so the data stays reachable and restores), says so on
# stderr and in --json, and exits 14; without an old index the pack is left out.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
REPO=$T_TMP/repo
run cairn init --pack-size 1M
[ "$RC" -eq 0 ] || t_bail "init failed"
S=$T_TMP/src
mkdir -p "$S"
for i in 1 2 3; do head -c 1500000 /dev/urandom >"$S/big$i"; done
echo small >"$S/small"
cairn backup "$S" >/dev/null 2>&1 || t_bail "backup"
PACK=$(find "$REPO/data" -type f -size +1M | head -n 1)
[ -n "$PACK" ] || t_bail "no pack over 1 MiB"
P=$(basename "$PACK")
cp "$PACK" "$T_TMP/pack.orig"
size=$(stat -c %s "$PACK")
# A byte of the header's tag (the sealed header ends 4 bytes before the pack does).
b=$(od -An -tu1 -j $((size - 10)) -N1 "$PACK" | tr -d ' ')
printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
	dd of="$PACK" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null

# one_name FILE: every line of FILE that names the pack names it once.
one_name() {
	grep -q "pack $P" "$1" && ! grep -q "$P.*$P" "$1"
}
run cairn check
s=0
[ "$RC" = 14 ] && one_name "$ERR" || s=1
t_ok $s "check: the damaged pack is named once per line (exit $RC)" || t_diag "$ERR"
grep -q "^error: pack $P: header fails authentication or is malformed$" "$ERR"
t_ok $? "check: one clear line for the header" || t_diag "$ERR"
run cairn check --read-data
s=0
[ "$RC" = 14 ] && one_name "$ERR" || s=1
t_ok $s "check --read-data: the damaged pack is named once per line (exit $RC)" || t_diag "$ERR"

cp -a "$REPO" "$T_TMP/keep"
REPO=$T_TMP/keep
run cairn repair index --dry-run
t_rc 14 "repair index --dry-run with a damaged header exits 14"
run cairn --json repair index
s=0
[ "$RC" = 14 ] || s=1
t_ok $s "repair index keeping the pack's entries still exits 14 (exit $RC)"
# -s and a count: jq 1.6's -e judges the last input's output only.
jq -s -e "[.[] | select(.message_type == \"damaged_pack\" and .pack == \"$P\" and .kept and
	.blobs_kept > 0)] | length == 1" "$OUT" >/dev/null
t_ok $? "--json names the pack and its kept blobs" || t_diag "$OUT"
jq -s -e '[.[] | select(.message_type == "repair_index" and .unreadable_packs == 1 and
	.kept_packs == 1)] | length == 1' "$OUT" >/dev/null
t_ok $? "--json summary counts it unreadable and kept" || t_diag "$OUT"
rm -rf "$T_TMP/out"
run cairn restore latest --target "$T_TMP/out"
t_rc 0 "every file restores after the repair: the damaged header lost no data"
t_same "the restored files are the backed-up ones" "$S" "$(t_landed "$T_TMP/out" "$S")"
run cairn repair index
s=0
[ "$RC" = 14 ] && grep -q "^warning: pack $P: header fails authentication or is malformed; kept [0-9]* blob(s) from the old index" "$ERR" || s=1
t_ok $s "a second repair keeps them again and says so on stderr (exit $RC)" || t_diag "$ERR"

REPO=$T_TMP/repo
rm -f "$REPO"/index/*
run cairn repair index
s=0
[ "$RC" = 14 ] && grep -q "^warning: pack $P: .*left out (the old index does not list it)" "$ERR" || s=1
t_ok $s "without an old index the pack is left out, said on stderr, exit 14 ($RC)" || t_diag "$ERR"
cp "$T_TMP/pack.orig" "$PACK"
run cairn repair index
t_rc 0 "with the pack mended, repair index exits 0"
run cairn check --read-data
t_rc 0 "and check --read-data passes"

# check --read-data reads a pack in 4 MiB ranges: a pack of about 9 MB (default pack size)
# with one flipped byte in a blob past the first range is still found, named once per line.
REPO=$T_TMP/big
run cairn init
[ "$RC" -eq 0 ] || t_bail "init big failed"
mkdir -p "$T_TMP/bigsrc"
head -c 9000000 /dev/urandom >"$T_TMP/bigsrc/f"
cairn backup "$T_TMP/bigsrc" >/dev/null 2>&1 || t_bail "backup big"
BP=$(find "$REPO/data" -type f -size +6M | head -n 1)
[ -n "$BP" ] || t_bail "no pack over 6 MiB"
run cairn check --read-data
t_rc 0 "a sound pack read in ranges passes check --read-data"
P=$(basename "$BP")
b=$(od -An -tu1 -j 6000000 -N1 "$BP" | tr -d ' ')
printf "\\$(printf '%03o' $(((b + 1) % 256)))" | dd of="$BP" bs=1 seek=6000000 conv=notrunc 2>/dev/null
run cairn check --read-data
s=0
[ "$RC" = 14 ] && one_name "$ERR" && grep -q "^error: pack $P: blob [0-9a-f]*: blob fails authentication" "$ERR" &&
	grep -q "^error: pack $P: pack content does not match its name" "$ERR" || s=1
t_ok $s "a flipped byte past the first 4 MiB: its blob and the pack's name hash fail (exit $RC)" ||
	t_diag "$ERR"
t_done
