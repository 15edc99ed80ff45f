#!/bin/bash
# The temp files of a writer killed before its rename (kill -9 during key add, a lock
# refresh, an index or snapshot write: ".tmp-*" beside the objects) do not stay forever:
# prune removes those older than the lock stale age, and keeps younger ones (a writer may
# still be renaming), folders and symlinks of that name, and everything with --dry-run.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1

mkdir data
seq 1 20000 >data/numbers.txt
t_init_repo "$T_TMP/repo"
run cairn backup "$T_TMP/data"
t_rc 0 "a backup" || t_bail "backup failed"

# Real leftovers first: kill -9 during key passwd until one is left (each try is one
# short run; a try that leaves nothing is simply repeated, so no timing is assumed).
leftover=""
echo new-pass >newpw
for _ in $(seq 1 30); do
	cairn_bg key add --new-password-file "$T_TMP/newpw"
	pid=$!
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	leftover=$(find repo -name '.tmp-*' | head -1)
	[ -n "$leftover" ] && break
done
[ -n "$leftover" ] && t_note "a kill -9 left $leftover"

old=()
for d in keys index snapshots locks data/00; do
	mkdir -p "repo/$d"
	touch -d '2 days ago' "repo/$d/.tmp-00000000000000aa" "repo/$d/.tmp-new-aa"
	old+=("repo/$d/.tmp-00000000000000aa" "repo/$d/.tmp-new-aa")
	touch "repo/$d/.tmp-00000000000000bb"
done
mkdir repo/index/.tmp-00000000000000cc
ln -s /etc/hostname repo/index/.tmp-00000000000000dd
touch -h -d '2 days ago' repo/index/.tmp-00000000000000cc repo/index/.tmp-00000000000000dd
[ -n "$leftover" ] && touch -d '2 days ago' "$leftover" && old+=("$leftover")

run cairn prune --dry-run
n=0
for f in "${old[@]}"; do [ -e "$f" ] && n=$((n + 1)); done
[ "$RC" -eq 0 ] && [ "$n" -eq "${#old[@]}" ]
t_ok $? "prune --dry-run removes no temp file ($n of ${#old[@]} kept)" || t_diag "$ERR"

run cairn prune
left=0
for f in "${old[@]}"; do [ -e "$f" ] && left=$((left + 1)); done
[ "$RC" -eq 0 ] && [ "$left" -eq 0 ]
t_ok $? "prune removes temp files older than the stale age ($left of ${#old[@]} left)" ||
	t_diag "$ERR"
young=$(find repo -name '.tmp-00000000000000bb' | wc -l)
[ "$young" -eq 5 ] && [ -d repo/index/.tmp-00000000000000cc ] &&
	[ -L repo/index/.tmp-00000000000000dd ] && [ -e /etc/hostname ]
t_ok $? "young temp files, folders and symlinks are kept ($young of 5 young)"
run cairn check --read-data
t_rc 0 "the repository checks clean after the sweep"
t_done
