#!/bin/bash
# Keys: add/list/remove/passwd round trip, last key protected. Check: a flipped byte in a
# pack is found by check --read-data and the message names the affected file.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"

REPO=$T_TMP/repo
run cairn init --pack-size 1M
[ "$RC" -eq 0 ] || t_bail "init failed: $(cat "$ERR")"
mkdir -p "$T_TMP/src/d"
head -c 3000000 /dev/urandom >"$T_TMP/src/d/victim.bin"
echo small >"$T_TMP/src/other.txt"
run cairn backup "$T_TMP/src"
[ "$RC" -eq 0 ] || t_bail "backup failed"

printf 'second secret\n' >"$T_TMP/pw2"
printf 'third secret\n' >"$T_TMP/pw3"
run cairn key add --new-password-file "$T_TMP/pw2" --json
t_rc 0 "key add"
k2=$(jget "$OUT" .id)
run cairn key list --json
[ "$(jq length "$OUT")" = 2 ] && [ "$(jq '[.[] | select(.current)] | length' "$OUT")" = 1 ]
t_ok $? "key list: two keys, one marked current"
run env CAIRN_PASSWORD='second secret' "$CAIRN_BIN" -r "$REPO" snapshots --json
[ "$RC" -eq 0 ] && [ "$(jq length "$OUT")" = 1 ]
t_ok $? "the added password opens the repository"
cur=$(cairn key list --json | jq -r '.[] | select(.current) | .id')
run cairn key remove "${cur:0:8}"
t_rc 11 "the key in use cannot be removed"
run cairn key remove "${k2:0:8}"
t_rc 0 "remove the added key"
run env CAIRN_PASSWORD='second secret' "$CAIRN_BIN" -r "$REPO" snapshots
t_rc 12 "the removed password no longer opens it"
run env CAIRN_PASSWORD='nope' "$CAIRN_BIN" -r "$REPO" key remove "${cur:0:8}"
t_rc 12 "a wrong password cannot remove keys"
run cairn key passwd --new-password-file "$T_TMP/pw3"
t_rc 0 "key passwd"
run cairn snapshots
t_rc 12 "the old password is gone after passwd"
run env CAIRN_PASSWORD='third secret' "$CAIRN_BIN" -r "$REPO" key list --json
[ "$RC" -eq 0 ] && [ "$(jq length "$OUT")" = 1 ]
t_ok $? "the new password opens it; one key left"
last=$(jq -r '.[0].id' "$OUT")
run env CAIRN_PASSWORD='third secret' CAIRN_NEW_PASSWORD_FILE= "$CAIRN_BIN" -r "$REPO" key remove "${last:0:8}"
t_rc 11 "the last key cannot be removed"
grep -q "last key" "$ERR"
t_ok $? "and the message says why"
! grep -rq "third secret" "$T_TMP"/err.* "$T_TMP"/out.*
t_ok $? "no password in any output"
T_PASS='third secret'

run cairn check --read-data
t_rc 0 "clean repository checks"
# Flip one byte in the middle of the largest pack (the data of victim.bin).
pack=$(find "$REPO/data" -type f -printf '%s %p\n' | sort -n | tail -n1 | cut -d' ' -f2)
size=$(stat -c %s "$pack")
off=$((size / 3))
byte=$(dd if="$pack" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(((byte + 1) % 256)))" | dd of="$pack" bs=1 seek="$off" conv=notrunc 2>/dev/null
run cairn check
t_rc 0 "structure check does not read data"
run cairn check --read-data
t_rc 14 "check --read-data exits 14 on a flipped byte"
grep -q "$(basename "$pack")" "$ERR" && grep -q "d/victim.bin" "$ERR"
t_ok $? "the message names the pack and the affected file" || t_diag "$ERR"
grep -q "other.txt" "$ERR"
[ $? -ne 0 ]
t_ok $? "an unaffected file is not named"
run cairn check --read-data-subset 100%
t_rc 14 "--read-data-subset 100% finds it too"
run cairn check --read-data-subset 0%
t_rc 2 "0% is refused"
t_done
