#!/bin/bash
# Restore of forged snapshots (anyone with the password can write one): a tree holding a
# name that is "..", ".", empty, or holds '/' or NUL is refused when decoded and named;
# nothing is written outside the target and no file outside it is linked; repeated or
# out-of-order names are refused by restore itself; --verify does not hang on a FIFO
# where a file was. (tests/unit/test-restore-* cover restore's own name checks.)
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
t_rc 14 "restore of a snapshot with forged names is refused (exit 14)"
grep -q "is malformed: an entry name is empty, '.', '..' or holds '/' or NUL" "$ERR"
t_ok $? "the message names the malformed tree" || t_diag "$ERR"
after=$(cd "$T_TMP" && find box outside -path box/target -prune -o -printf '%P %y %s %T@\n' | sort)
s=0
[ "$before" = "$after" ] || s=1
t_ok $s "nothing is written outside the target" || diff <(echo "$before") <(echo "$after") | sed 's/^/#   /'
s=0
grep -qx secret "$BOX/victim" && [ "$(stat -c %h "$BOX/victim")" = 1 ] &&
	[ "$(stat -c %i "$BOX/victim")" = "$victim_ino" ] || s=1
t_ok $s "the file outside the target is neither changed nor linked"
s=0
[ -z "$(find "$BOX/target" -name '*cairn-partial*')" ] || s=1
t_ok $s "no temporary file is left"
run cairn --json restore "$SNAP" --target "$T_TMP/json"
s=0
[ "$RC" = 14 ] && grep -a '"message_type"' "$OUT" "$ERR" | grep -q "malformed" || s=1
t_ok $s "--json: exit 14 and the malformed tree named (exit $RC)" || t_diag "$OUT" 20

# Names that are each valid but repeated or out of order inside a folder (the decoder
# accepts them; restore refuses them, so a late rename cannot race an earlier entry).
SNAP3=$(forge <<EOF2
file ok fine
dir sub
file inner fine
file inner twice
file a out-of-order
end
EOF2
)
run cairn restore "$SNAP3" --target "$T_TMP/order"
t_rc 3 "a snapshot with a repeated name restores partially (exit 3)"
s=0
[ "$(cat "$T_TMP/order/ok")" = fine ] && [ "$(cat "$T_TMP/order/sub/inner")" = fine ] || s=1
t_ok $s "the valid entries are restored"
s=0
[ "$(grep -c 'twice or out of order' "$ERR")" = 2 ] && [ ! -e "$T_TMP/order/sub/a" ] || s=1
t_ok $s "a repeated or out-of-order name in a folder is refused and named" || t_diag "$ERR"

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
