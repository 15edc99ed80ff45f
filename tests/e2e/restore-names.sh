#!/bin/bash
# Restore of forged snapshots (anyone with the password can write one): names that are
# "..", ".", empty, or hold '/' or NUL are refused and named, nothing is written outside
# the target, a hardlink never reaches a file outside it, and --verify does not hang on
# a FIFO where a file was.
. "$(dirname "$0")/lib.sh"
t_need
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"

t_init_repo "$T_TMP/repo"
BOX=$T_TMP/box
mkdir -p "$BOX/target" "$T_TMP/outside"
echo secret >"$BOX/victim"
forge() { CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO"; }

SNAP=$(forge <<EOF2
dir ..
file escaped-dotdot pwned
end
file ..%2Fescaped-slash pwned
file . dot
file % empty
file ok%00%2F..%2Fescaped-nul pwned
link out $T_TMP/outside
file out%2Fescaped-symlink pwned
hard ..%2Fvictim 7 pwned
hard good 7 safe
file ok fine
dir sub
file inner fine
file inner twice
file a out-of-order
end
EOF2
)
t_ok $? "forge writes a snapshot with invalid names" || t_bail "forge failed"

before=$(cd "$T_TMP" && find box outside -path box/target -prune -o -printf '%P %y %s %T@\n' | sort)
victim_ino=$(stat -c %i "$BOX/victim")
run cairn restore "$SNAP" --target "$BOX/target"
t_rc 3 "restore of the forged snapshot ends partial"
after=$(cd "$T_TMP" && find box outside -path box/target -prune -o -printf '%P %y %s %T@\n' | sort)
s=0
[ "$before" = "$after" ] || s=1
t_ok $s "nothing is written outside the target" || diff <(echo "$before") <(echo "$after") | sed 's/^/#   /'
s=0
grep -qx secret "$BOX/victim" && [ "$(stat -c %h "$BOX/victim")" = 1 ] || s=1
t_ok $s "the file outside the target is neither changed nor linked"
s=0
[ "$(stat -c %i "$BOX/target/good")" != "$victim_ino" ] && grep -qx safe "$BOX/target/good" || s=1
t_ok $s "a hardlink whose first name was refused is restored as its own file"
s=0
n=$(grep -c 'invalid name' "$ERR")
[ "$n" = 7 ] || s=1
t_ok $s "each of the 7 refused entries is named ($n)" || t_diag "$ERR" 20
s=0
# restore quotes the name (a NUL becomes \x00) and the CLI escapes that text again for the
# terminal (its backslash becomes \x5c): unambiguous, never raw bytes.
while IFS= read -r want; do
	grep -qF -- "$want" "$ERR" || { s=1; echo "#   not named: $want"; }
done <<'EOF2'
/"..": not restored
/"../escaped-slash": not restored
/".": not restored
/"": not restored
/"ok\x5cx00/../escaped-nul": not restored
/"out/escaped-symlink": not restored
/"../victim": not restored
EOF2
t_ok $s "the warnings show each refused name" || t_diag "$ERR" 20
s=0
[ "$(cat "$BOX/target/ok")" = fine ] && [ "$(cat "$BOX/target/sub/inner")" = fine ] || s=1
t_ok $s "the valid entries are restored"
s=0
[ "$(grep -c 'twice or out of order' "$ERR")" = 2 ] && [ ! -e "$BOX/target/sub/a" ] || s=1
t_ok $s "a repeated or out-of-order name in a folder is refused and named"
s=0
[ -z "$(find "$BOX/target" -name '*cairn-partial*')" ] || s=1
t_ok $s "no temporary file is left"

run cairn --json restore "$SNAP" --target "$T_TMP/json"
s=0
n=$(grep -a '"message_type"' "$OUT" | jq -r 'select(.message_type == "error") | .item' | grep -c '"')
[ "$RC" = 3 ] && [ "$n" = 7 ] || s=1
t_ok $s "--json names each refused entry in an error line ($n, exit $RC)" || t_diag "$OUT" 20

# An empty file and then a FIFO under the same name (the snapshot root is not checked
# for order): --verify finds the FIFO where the file was. It must say so, not block in
# open() on a FIFO without a writer.
SNAP2=$(forge <<EOF2
file x
fifo x 644
EOF2
)
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" restore "$SNAP2" \
	--target "$T_TMP/fifo" --verify
s=0
[ "$RC" != 124 ] && grep -q 'x: not a regular file' "$ERR" && [ "$RC" != 0 ] || s=1
t_ok $s "--verify reports a FIFO in place of a file instead of hanging (exit $RC)" || t_diag "$ERR"
t_done
