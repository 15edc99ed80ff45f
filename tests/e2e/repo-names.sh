#!/bin/bash
# Object names bind content: a snapshot or index file copied over another name is refused
# when read (restore fails naming it) and check reports it, instead of restoring the
# other snapshot's data as if it were the one asked for.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
t_init_repo "$T_TMP/repo"
mkdir -p "$T_TMP/a" "$T_TMP/b"
echo "alpha data" >"$T_TMP/a/file"
echo "bravo data, other" >"$T_TMP/b/file"
run cairn backup "$T_TMP/a"
t_rc 0 "backup A"
run cairn backup "$T_TMP/b"
t_rc 0 "backup B"
a=$(cairn snapshots --json | jq -r '.[0].id')
b=$(cairn snapshots --json | jq -r '.[1].id')
[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]
t_ok $? "two snapshots"
run cairn check
t_rc 0 "check accepts the repository as written"

cp "$REPO/snapshots/$b" "$REPO/snapshots/$a"
run cairn restore "$a" --target "$T_TMP/out"
[ "$RC" -ne 0 ] && [ ! -e "$T_TMP/out/b/file" ]
t_ok $? "restore of A (holding B's object) fails and writes none of B's data" || t_diag "$ERR"
grep -q "does not match its name" "$ERR"
t_ok $? "the error says the snapshot does not match its name" || t_diag "$ERR"
run cairn check
t_rc 14 "check reports the swapped snapshot (exit 14)"
grep -q "snapshot $a.*does not match its name" "$ERR"
t_ok $? "naming it" || t_diag "$ERR"
run cairn restore "$b" --target "$T_TMP/outb"
t_rc 0 "B itself still restores"

# Index file copied under a new name.
rm "$REPO/snapshots/$a"
ix=$(ls "$REPO/index" | head -n 1)
fake=$(printf '%064d' 7)
cp "$REPO/index/$ix" "$REPO/index/$fake"
run cairn check
t_rc 14 "check reports an index file under a name that is not its hash"
grep -q "index/$fake does not match its name" "$ERR"
t_ok $? "naming it" || t_diag "$ERR"
rm "$REPO/index/$fake"
run cairn check
t_rc 0 "and accepts the repository once it is gone"
t_done
