#!/bin/bash
# cairn restore --overwrite if-changed: a second restore into the same folder rewrites
# nothing that is already identical (same inode, same ctime: not even its metadata is
# touched), while a changed file (content with size and mtime kept, or mode) and a removed
# one are restored again; --overwrite always (the default) replaces every file.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
export CAIRN_PASSWORD=$T_PASS
SRC=$T_TMP/src
DST=$T_TMP/dst
mkdir -p "$SRC/sub"
head -c 3000000 /dev/urandom >"$SRC/big"
for i in 1 2 3 4 5; do echo "file $i" >"$SRC/sub/f$i"; done
truncate -s 2M "$SRC/sparse" && printf end >>"$SRC/sparse"
ln -s sub/f1 "$SRC/link"
ln "$SRC/sub/f2" "$SRC/hard"
chmod 600 "$SRC/sub/f3"
t_init_repo "$T_TMP/repo"
run cairn backup "$SRC"
[ "$RC" -eq 0 ] || t_bail "backup failed"
SUB=/$(basename "$SRC")

# inode and ctime of every file and symlink under DIR
ids() { (cd "$1" && find . ! -type d -printf '%p %i %C@\n' | sort); }
run cairn restore "latest:$SUB" --target "$DST"
t_ok "$RC" "first restore"
t_same "first restore identical" --no-atime $(t_owner_opt) --ignore-root-times "$SRC" "$DST"
ids "$DST" >"$T_TMP/ids.1"

run cairn restore "latest:$SUB" --target "$DST" --overwrite if-changed
t_ok "$RC" "second restore with --overwrite if-changed"
ids "$DST" >"$T_TMP/ids.2"
cmp -s "$T_TMP/ids.1" "$T_TMP/ids.2"
t_ok $? "nothing rewritten: every file and link keeps its inode and ctime" ||
	diff "$T_TMP/ids.1" "$T_TMP/ids.2" | head | sed 's/^/#   /'
grep -q "(9 already identical" "$OUT"
t_ok $? "the summary counts what was left alone" || t_diag "$OUT"

# same size and mtime, other bytes: only the hash can tell
m=$(stat -c %y "$DST/sub/f4")
echo "FILE 4" >"$DST/sub/f4"
touch -d "$m" "$DST/sub/f4"
chmod 644 "$DST/sub/f3"
rm "$DST/sub/f5"
head -c 100 /dev/urandom | dd of="$DST/big" bs=1 seek=1000000 conv=notrunc 2>/dev/null
touch -d "$(stat -c %y "$SRC/big")" "$DST/big"
ids "$DST" >"$T_TMP/ids.3"
run cairn --json restore "latest:$SUB" --target "$DST" --overwrite if-changed
t_ok "$RC" "third restore after changes"
[ "$(jq -r 'select(.message_type == "summary") | .files_unchanged' "$OUT")" = 5 ]
t_ok $? "--json: files_unchanged counts the rest" || t_diag "$OUT"
t_same "the target is identical to the source again" --no-atime $(t_owner_opt) \
	--ignore-root-times "$SRC" "$DST"
ids "$DST" >"$T_TMP/ids.4"
changed=$(diff "$T_TMP/ids.3" "$T_TMP/ids.4" | grep '^>' | cut -d' ' -f2 | sort | tr '\n' ' ')
[ "$changed" = "./big ./sub/f3 ./sub/f4 ./sub/f5 " ]
t_ok $? "exactly the changed, re-moded and removed files were written ($changed)"

run cairn restore "latest:$SUB" --target "$DST"
t_ok "$RC" "restore with the default --overwrite always"
ids "$DST" >"$T_TMP/ids.5"
n=$(diff "$T_TMP/ids.4" "$T_TMP/ids.5" | grep -c '^>')
[ "$n" -eq 9 ]
t_ok $? "always replaces every file and link ($n of 9)"
run cairn restore "latest:$SUB" --target "$DST" --overwrite sometimes
[ "$RC" -eq 2 ] && grep -q "always or if-changed" "$ERR"
t_ok $? "a bad --overwrite value is refused with the choices named"
t_done
