#!/bin/bash
# A folder (or any entry that is no file) where an index file should be: readers refuse to
# go on without it (exit 14, naming it), but `repair index` exists to rebuild the index
# from the packs, so it must get past it: it names the entry, moves it to aside/index/
# (never deleting it, never replacing what was set aside before) and leaves a repository
# every command uses again. A dry run moves nothing.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1

mkdir src
head -c 2000000 /dev/urandom >src/a
echo small >src/b
t_init_repo "$T_TMP/repo"
run cairn backup "$T_TMP/src"
t_rc 0 "a backup" || t_bail "backup failed"

odd=$(printf 'ab%.0s' $(seq 32))
mkdir "repo/index/$odd"
echo "someone's notes" >"repo/index/$odd/notes"
run cairn restore latest --target "$T_TMP/r0"
[ "$RC" = 14 ] && grep -q "index/$odd is not a regular file" "$ERR"
t_ok $? "a reader refuses the repository and names the folder (exit 14)" || t_diag "$ERR"

run cairn repair index --dry-run
[ "$RC" = 0 ] && grep -q "index/$odd is not an index file; would be moved" "$ERR" &&
	[ -f "repo/index/$odd/notes" ] && [ ! -e repo/aside ]
t_ok $? "repair index --dry-run names it and moves nothing" || t_diag "$ERR"

run cairn repair index
[ "$RC" = 0 ] && grep -q "index/$odd is not an index file; moved to aside/index/$odd" "$ERR"
t_ok $? "repair index names it and where it went" || t_diag "$ERR"
[ ! -e "repo/index/$odd" ] && [ "$(cat "repo/aside/index/$odd/notes")" = "someone's notes" ]
t_ok $? "the folder is set aside whole, out of index/"

run cairn restore latest --target "$T_TMP/r1"
R=$(t_landed "$T_TMP/r1" "$T_TMP/src")
[ "$RC" = 0 ] && cmp -s "$R/a" src/a && cmp -s "$R/b" src/b
t_ok $? "after the repair the snapshot restores byte for byte" || t_diag "$ERR"
run cairn check
t_rc 0 "and check finds nothing wrong"
run cairn backup "$T_TMP/src"
t_rc 0 "and a backup works"

# The same name again, and a FIFO: nothing set aside before is replaced.
mkdir "repo/index/$odd"
mkfifo repo/index/00ff
run cairn --json repair index
[ "$RC" = 0 ] && [ -f "repo/aside/index/$odd/notes" ] && [ -d "repo/aside/index/$odd.1" ] &&
	[ -p repo/aside/index/00ff ]
t_ok $? "a second folder of the same name goes to <name>.1, the FIFO aside too" ||
	{ t_diag "$ERR"; find repo/aside | t_diag /dev/stdin; }
[ "$(grep -c '"message_type": *"set_aside"' "$OUT")" = 2 ] &&
	grep -q "\"moved_to\": *\"aside/index/$odd.1\"" "$OUT"
t_ok $? "--json gives one set_aside message per entry" || t_diag "$OUT"
run cairn restore latest --target "$T_TMP/r2"
t_rc 0 "and the repository is usable again"
t_done
