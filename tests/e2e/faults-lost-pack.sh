#!/bin/bash
# A pack the index lists is cut short or deleted behind cairn's back (by hand, a failing
# disk, another node writing the store). The next backup must not reuse its blobs, not
# even for files it would skip as unchanged: it says so in one line, reads those files
# again and stores their data anew, so its snapshot is whole; after `repair index` every
# snapshot restores from the copies.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1

mkdir src
head -c 3000000 /dev/urandom >src/a
head -c 3000000 /dev/urandom >src/b
echo small >src/c
t_init_repo "$T_TMP/repo"
run cairn backup "$T_TMP/src"
t_rc 0 "a first backup" || t_bail "backup failed"

# The data pack: the biggest object in data/.
pack=$(find repo/data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
truncate -s 1000000 "$pack"
run cairn backup "$T_TMP/src"
t_rc 0 "the backup after the cut completes (exit 0: its snapshot is whole)"
[ "$(grep -c 'is missing or shorter than the index says' "$ERR")" = 1 ] &&
	grep -q "pack $(basename "$pack" | cut -c1-16)" "$ERR"
t_ok $? "one line names the cut pack" || t_diag "$ERR"
grep -q '^files: *0 new, 3 changed, 0 unmodified' "$OUT"
t_ok $? "files skipped by their metadata before are read again" || t_diag "$OUT"
second=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$OUT")

run cairn repair index
grep -q "$(basename "$pack" | cut -c1-16)" "$ERR"
t_ok $? "repair index names the cut pack" || t_diag "$ERR"
for snap in latest "$second"; do
	rm -rf r
	run cairn restore "$snap" --target "$T_TMP/r"
	R=$(t_landed "$T_TMP/r" "$T_TMP/src")
	[ "$RC" = 0 ] && cmp -s "$R/a" src/a && cmp -s "$R/b" src/b && cmp -s "$R/c" src/c
	t_ok $? "after repair index, snapshot $snap restores byte for byte" || t_diag "$ERR"
done

# A deleted pack is found the same way (the listing lacks it; a HEAD confirms).
rm -f "$(find repo/data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)"
run cairn backup "$T_TMP/src"
t_rc 0 "the backup after a pack was deleted completes"
grep -q 'is missing or shorter than the index says' "$ERR"
t_ok $? "and names the missing pack" || t_diag "$ERR"
run cairn repair index
rm -rf r
run cairn restore latest --target "$T_TMP/r"
R=$(t_landed "$T_TMP/r" "$T_TMP/src")
[ "$RC" = 0 ] && cmp -s "$R/a" src/a && cmp -s "$R/b" src/b
t_ok $? "and its snapshot restores after repair index" || t_diag "$ERR"

# An intact repository says nothing of the kind.
run cairn backup "$T_TMP/src"
t_rc 0 "a backup of an intact repository"
! grep -q 'missing or shorter' "$ERR"
t_ok $? "warns of no lost pack" || t_diag "$ERR"
t_done
