#!/bin/bash
# Damage that must not pass for a wrong password or for a clean repository: a key file or
# the config cut short, emptied or flipped (exit 14 naming it, not 12 "wrong password"),
# and a directory where a snapshot, index or pack file should be (check fails naming it,
# prune deletes nothing). A key or lock that is not a file is skipped: other keys open.
# A full disk during a pack write names the repository.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1

mkdir data
seq 1 50000 >data/numbers.txt
echo hello >data/hello.txt
t_init_repo "$T_TMP/good"
run cairn backup "$T_TMP/data"
t_rc 0 "a backup to damage" || t_bail "backup failed"
# shellcheck disable=SC2034 # REPO is read by lib.sh's cairn()
fresh() { rm -rf "$T_TMP/repo" && cp -a "$T_TMP/good" "$T_TMP/repo" && REPO=$T_TMP/repo; }
one_line() { [ "$RC" -eq "$1" ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "$2" "$ERR"; }

# damaged key file or config, right password: 14, not "wrong password"
key=$(basename "$(ls good/keys/*)")
for how in empty cut flip; do
	for what in "keys/$key" config; do
		fresh
		case $how in
		empty) : >"repo/$what" ;;
		cut) truncate -s 20 "repo/$what" ;;
		flip) # a flipped byte in a key file may land in its salt: a wrong password then
			[ "$what" = config ] || continue
			printf 'X' | dd of="repo/$what" bs=1 seek=30 conv=notrunc 2>/dev/null ;;
		esac
		[ "$what" = config ] && want="config is damaged" || want="damaged (first ${key:0:8})"
		run cairn snapshots
		one_line 14 "$want"
		t_ok $? "$how ${what%%/*}: one line naming the damage, exit $RC" || t_diag "$ERR"
	done
done

# a wrong password still says so, also beside a damaged key
fresh
run env CAIRN_PASSWORD=other-pass-1 "$CAIRN_BIN" -r repo snapshots
one_line 12 "wrong password"
t_ok $? "wrong password: exit 12" || t_diag "$ERR"
echo second-pass >pw2
run cairn key add --new-password-file "$T_TMP/pw2"
: >"repo/keys/$key"
run env CAIRN_PASSWORD=second-pass "$CAIRN_BIN" -r repo snapshots
t_rc 0 "a damaged key does not stop another key from opening"
run cairn snapshots
one_line 12 "wrong password.*1 key file is damaged"
t_ok $? "the damaged key's password: exit 12 naming the damaged key" || t_diag "$ERR"

# a directory where an object file should be: check fails naming it, prune deletes nothing
for what in snapshots index data; do
	fresh
	f=$(find "repo/$what" -type f | head -1)
	rm "$f" && mkdir "$f"
	run cairn check
	one_line 14 "${f#repo/}.*not a regular file"
	t_ok $? "a folder in place of a file in $what/: check exits 14 naming it" || t_diag "$ERR"
	before=$(find repo -type f | sort)
	run cairn prune
	[ "$RC" -eq 14 ] && [ "$(find repo -type f | sort)" = "$before" ]
	t_ok $? "... and prune deletes nothing (exit $RC)" || t_diag "$ERR"
done
fresh
mkdir "repo/keys/$(printf '%064d' 7)" "repo/locks/$(printf '%064d' 7)"
run cairn backup "$T_TMP/data"
t_rc 0 "a folder among the keys and locks is skipped" || t_diag "$ERR"

# a full disk during a pack write: the one line names the repository like every other
# failure, and the repository checks clean after it
if t_root; then
	mkdir full
	mount -t tmpfs -o size=2m tmpfs full && T_MOUNTS+=("$T_TMP/full")
	head -c $((4 << 20)) /dev/urandom >data/random.bin
	REPO=full/repo run cairn init
	REPO=full/repo run cairn backup "$T_TMP/data"
	one_line 16 "full/repo"
	t_ok $? "disk full while writing a pack: exit 16, one line naming the repository" ||
		t_diag "$ERR"
	REPO=full/repo run cairn check
	t_rc 0 "... and the repository checks clean"
else
	t_skip "disk full while writing a pack" "needs root for a tmpfs"
fi
t_done
