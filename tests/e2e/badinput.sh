#!/bin/bash
# Bad input gives one clear line on stderr and a documented exit code (cli/cli.h,
# docs/cli.md), never a crash, and writes nothing: wrong password, not a repository,
# unknown snapshot, missing path, corrupt and truncated objects, read-only location,
# full disk, unreadable source files; the password never shows.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1
chmod 755 "$T_TMP" # the unreadable-file case runs cairn as nobody

mkdir data data/sub
head -c $((6 << 20)) /dev/urandom >data/random.bin
seq 1 200000 >data/sub/numbers.txt
echo hello >data/hello.txt
t_init_repo "$T_TMP/repo"
run cairn --json backup "$T_TMP/data"
t_rc 0 "a first backup to work on" || t_bail "backup failed"
snap=$(jget "$OUT" '.snapshot_id')

# wrong password: exit 12, one line, nothing written, for reading and writing commands
before=$(t_repo_state repo)
for cmd in snapshots "backup $T_TMP/data" "restore latest --target $T_TMP/nope" check; do
	# shellcheck disable=SC2086
	run env CAIRN_PASSWORD=wrong-password "$CAIRN_BIN" -r repo $cmd
	[ "$RC" -eq 12 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && ! [ -s "$OUT" ]
	t_ok $? "wrong password, ${cmd%% *}: exit 12 and one line on stderr" ||
		{ echo "#   exit $RC"; t_diag "$ERR"; t_diag "$OUT" 3; }
done
[ "$(t_repo_state repo)" = "$before" ] && ! [ -e nope ]
t_ok $? "a wrong password writes nothing (repository and target unchanged)" ||
	diff <(echo "$before") <(t_repo_state repo) | head -5 | sed 's/^/#   /'

# not a repository
mkdir empty
run env CAIRN_PASSWORD=x "$CAIRN_BIN" -r empty snapshots
[ "$RC" -eq 10 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && [ -z "$(ls -A empty)" ]
t_ok $? "an empty folder is not a repository: exit 10, one line, nothing created" || { echo "#   exit $RC"; t_diag "$ERR"; }
run env CAIRN_PASSWORD=x "$CAIRN_BIN" -r "$T_TMP/missing" backup "$T_TMP/data"
[ "$RC" -eq 10 ] && ! [ -e missing ]
t_ok $? "a missing location is not a repository: exit 10, nothing created" || { echo "#   exit $RC"; t_diag "$ERR"; }
run env CAIRN_PASSWORD=x "$CAIRN_BIN" -r "$T_TMP/data" snapshots
t_rc 10 "a folder of ordinary files is not a repository: exit 10"
run env -u CAIRN_PASSWORD "$CAIRN_BIN" snapshots
[ "$RC" -ne 0 ] && t_no_crash && [ -s "$ERR" ]
t_ok $? "no repository given: an error, not a crash (exit $RC)"

# unknown snapshot, missing path
before=$(t_repo_state repo)
run cairn restore deadbeef --target "$T_TMP/r0"
[ "$RC" -eq 13 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && ! [ -e r0 ]
t_ok $? "unknown snapshot on restore: exit 13, one line, no target created" || { echo "#   exit $RC"; t_diag "$ERR"; }
run cairn ls 0123456789abcdef
t_rc 13 "unknown snapshot on ls: exit 13"
run cairn restore "$snap:/no/such/dir" --target "$T_TMP/r0"
t_rc 13 "unknown path inside a snapshot: exit 13"
run cairn backup "$T_TMP/does-not-exist"
[ "$RC" -eq 13 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q does-not-exist "$ERR"
t_ok $? "missing backup path: exit 13, one line naming it" || { echo "#   exit $RC"; t_diag "$ERR"; }
[ "$(t_repo_state repo)" = "$before" ]
t_ok $? "these errors wrote nothing to the repository" ||
	diff <(echo "$before") <(t_repo_state repo) | head -5 | sed 's/^/#   /'
run cairn frobnicate
t_rc 2 "an unknown command is a usage error (2)"

# corrupt and truncated packs (in copies, so each case starts clean)
biggest_pack() { find "$1/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2; }
cp -a repo rc1
pack=$(biggest_pack rc1)
pid=$(basename "$pack")
size=$(stat -c %s "$pack")
python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2]))
f.write(bytes([b[0] ^ 0x40])); f.close()' "$pack" $((size / 2))
REPO=rc1 run cairn check --read-data
[ "$RC" -eq 14 ] && t_no_crash && grep -qiE '[0-9a-f]{8}' "$ERR" "$OUT"
t_ok $? "a flipped byte in a pack: check --read-data exits 14 and names an id" || { echo "#   exit $RC"; t_diag "$ERR"; t_diag "$OUT" 5; }
REPO=rc1 run cairn restore latest --target "$T_TMP/rc1-out"
[ "$RC" -eq 14 ] && t_no_crash && grep -qiE '[0-9a-f]{8}' "$ERR"
t_ok $? "a flipped byte in a pack: restore exits 14 naming the object, no crash" || { echo "#   exit $RC"; t_diag "$ERR"; }
grep -q "${pid:0:8}" "$ERR" "$OUT" 2>/dev/null || echo "# note: the pack id ${pid:0:8} is not in the message"

cp -a repo rc2
pack=$(biggest_pack rc2)
truncate -s $(($(stat -c %s "$pack") / 2)) "$pack"
REPO=rc2 run cairn check
[ "$RC" -eq 14 ] && t_no_crash
t_ok $? "a truncated pack: check (without --read-data) exits 14" || { echo "#   exit $RC"; t_diag "$ERR"; t_diag "$OUT" 5; }
REPO=rc2 run cairn check --read-data
[ "$RC" -eq 14 ] && t_no_crash
t_ok $? "a truncated pack: check --read-data exits 14" || { echo "#   exit $RC"; t_diag "$ERR"; }
REPO=rc2 run cairn restore latest --target "$T_TMP/rc2-out"
[ "$RC" -eq 14 ] && t_no_crash && grep -qiE '[0-9a-f]{8}' "$ERR"
t_ok $? "a truncated pack: restore exits 14 naming the object, no crash" || { echo "#   exit $RC"; t_diag "$ERR"; }

cp -a repo rc3
sfile=$(find rc3/snapshots -type f | head -n 1)
truncate -s 10 "$sfile"
REPO=rc3 run cairn snapshots
t_no_crash && grep -q "$(basename "$sfile" | cut -c1-8)" "$ERR" "$OUT"
t_ok $? "a truncated snapshot file: snapshots names it, no crash (exit $RC)" || { t_diag "$ERR"; t_diag "$OUT" 3; }
REPO=rc3 run cairn restore "$snap" --target "$T_TMP/rc3-out"
[ "$RC" -eq 14 ] && t_no_crash && [ "$(wc -l <"$ERR")" -le 2 ]
t_ok $? "a truncated snapshot file: restore exits 14 with a clear line" || { echo "#   exit $RC"; t_diag "$ERR"; }
REPO=rc3 run cairn check
t_rc 14 "a truncated snapshot file: check exits 14"

cp -a repo rc4
idx=$(find rc4/index -type f | head -n 1)
: >"$idx"
REPO=rc4 run cairn check
[ "$RC" -ne 0 ] && t_no_crash
t_ok $? "an emptied index file: check fails cleanly (exit $RC)" || t_diag "$ERR"

if t_root; then
	# read-only location: a tmpfs remounted read-only
	mkdir ro
	mount -t tmpfs -o size=64m tmpfs ro && T_MOUNTS+=("$T_TMP/ro")
	REPO=ro/repo run cairn init
	REPO=ro/repo run cairn backup "$T_TMP/data/hello.txt"
	mount -o remount,ro ro
	REPO=ro/repo run cairn backup "$T_TMP/data"
	[ "$RC" -eq 15 ] && [ "$(wc -l <"$ERR")" -eq 1 ]
	t_ok $? "read-only repository location: backup exits 15 with one line" || { echo "#   exit $RC"; t_diag "$ERR"; }
	REPO=ro/repo run cairn snapshots
	t_rc 0 "read-only repository location: snapshots still lists"
	REPO=ro/repo run cairn restore latest --target "$T_TMP/ro-out"
	t_rc 0 "read-only repository location: restore still works"

	# full disk: a 2 MiB tmpfs
	mkdir full
	mount -t tmpfs -o size=2m tmpfs full && T_MOUNTS+=("$T_TMP/full")
	REPO=full/repo run cairn init
	t_rc 0 "init on a small tmpfs"
	REPO=full/repo run cairn backup "$T_TMP/data/sub"
	t_rc 0 "a small backup fits"
	REPO=full/repo run cairn backup "$T_TMP/data"
	[ "$RC" -eq 16 ] && [ "$(wc -l <"$ERR")" -eq 1 ]
	t_ok $? "disk full during backup: exit 16 with one line" || { echo "#   exit $RC"; t_diag "$ERR"; }
	REPO=full/repo run cairn check --read-data
	t_rc 0 "after disk full the repository still checks clean (on the full disk)"
	REPO=full/repo run cairn snapshots --json
	leftover=$(find full/repo -name '*tmp*' | wc -l)
	[ "$leftover" -eq 0 ]
	t_ok $? "no temporary files left behind ($leftover)" || find full/repo -name '*tmp*' | head -3 | sed 's/^/#   /'
	mount -o remount,size=64m full
	REPO=full/repo run cairn backup "$T_TMP/data"
	t_rc 0 "with space again the next backup succeeds"
	REPO=full/repo run cairn check --read-data
	t_rc 0 "and the repository checks clean"

	# full restore target: a 2 MiB tmpfs under six 1 MiB files and a small one. One line
	# names the file that hit the full disk and the files stopped in the middle;
	# no file is left under its name unless whole. --keep-going names each failed file
	# once, and the summary's bytes are those of the files restored.
	mkdir -p many rfull
	for i in 1 2 3 4 5 6; do head -c $((1 << 20)) /dev/urandom >"many/f$i"; done
	echo tiny >many/small
	REPO=repo run cairn backup "$T_TMP/many"
	t_rc 0 "backup of seven files for the full restore target"
	mount -t tmpfs -o size=2m tmpfs rfull && T_MOUNTS+=("$T_TMP/rfull")
	intact() { # intact DIR: every file under DIR is whole, byte for byte
		local f
		for f in "$1"/*; do [ -e "$f" ] || continue; cmp -s "$f" "many/$(basename "$f")" || return 1; done
	}
	REPO=repo run cairn restore latest --target "$T_TMP/rfull/a" --threads 2 --no-space-check
	got=$(t_landed "$T_TMP/rfull/a" "$T_TMP/many")
	[ "$RC" -eq 16 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "No space left on device" "$ERR" &&
		grep -q "/many/f[1-6]: " "$ERR" && intact "$got"
	t_ok $? "full restore target: exit 16, one line naming the file, nothing partial under its name" ||
		{ echo "#   exit $RC"; t_diag "$ERR"; }
	rm -rf rfull/a
	REPO=repo run cairn --json restore latest --keep-going --target "$T_TMP/rfull/b" --threads 2 --no-space-check
	got=$(t_landed "$T_TMP/rfull/b" "$T_TMP/many")
	named=$(grep -o '"item": *"[^"]*"' "$OUT" "$ERR" | sed 's/.*"item": *//' | sort)
	whole=$(find "$got" -type f | wc -l)
	bytes=$(find "$got" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	[ "$RC" -eq 3 ] && intact "$got" && [ -n "$named" ] && [ -z "$(echo "$named" | uniq -d)" ] &&
		[ $(($(echo "$named" | wc -l) + whole)) -eq 7 ] &&
		[ "$(jget "$OUT" .bytes_restored)" = "$bytes" ]
	t_ok $? "full restore target, --keep-going: exit 3, each lost file named once, bytes_restored $bytes of the whole files" ||
		{ echo "#   exit $RC, named: $named"; t_diag "$ERR"; t_diag "$OUT"; }

	# unreadable file: cairn runs as nobody over a tree where one file is root's 0600
	mkdir -p nb/src/dir
	echo readable >nb/src/ok.txt
	echo "also readable" >nb/src/dir/ok2.txt
	echo secret >nb/src/dir/locked.txt
	chown -R 65534:65534 nb
	chown 0:0 nb/src/dir/locked.txt
	chmod 600 nb/src/dir/locked.txt
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env CAIRN_PASSWORD="$T_PASS" CAIRN_KDF_FAST=1 "$CAIRN_BIN" -r "$T_TMP/nb/repo" "$@"; }
	run asnobody init
	t_rc 0 "init as nobody"
	run asnobody --json backup "$T_TMP/nb/src"
	[ "$RC" -eq 3 ] && grep -q 'locked.txt' "$OUT" "$ERR" && [ "$(jget "$OUT" '.error_count')" = 1 ]
	t_ok $? "an unreadable file: backup exits 3 and names it (error_count 1)" || { echo "#   exit $RC"; t_diag "$ERR"; t_diag "$OUT" 5; }
	run asnobody restore latest --target "$T_TMP/nb/out"
	got=$(t_landed "$T_TMP/nb/out" "$T_TMP/nb/src")
	[ "$RC" -eq 0 ] && cmp -s nb/src/ok.txt "$got/ok.txt" && cmp -s nb/src/dir/ok2.txt "$got/dir/ok2.txt"
	t_ok $? "the other files of that backup restore" || { echo "#   exit $RC"; t_diag "$ERR"; }
else
	t_skip "read-only location, full disk, unreadable file" "mount and setpriv need root"
fi

# the password never shows: not in any output, argv or the repository
secret='Sh0uld-N3ver-Appear-7x9'
mkdir pw
head -c $((64 << 20)) /dev/urandom >pw/big
(
	REPO=$T_TMP/pwrepo T_PASS=$secret
	cairn init >pw.out 2>&1
	cairn_bg backup "$T_TMP/pw"
	seen=0
	for _ in $(seq 1 50); do
		[ -r "/proc/$BG/cmdline" ] || break
		tr '\0' ' ' <"/proc/$BG/cmdline" 2>/dev/null | grep -q "$secret" && seen=1
		sleep 0.02
	done
	wait "$BG"
	{
		cat "$T_TMP/bg.out" "$T_TMP/bg.err"
		CAIRN_PASSWORD="$secret-wrong" "$CAIRN_BIN" -r "$REPO" snapshots
		cairn -v -v check --read-data
		cairn --json snapshots
	} >>pw.out 2>&1
	exit $seen
)
seen=$?
[ "$seen" -eq 0 ]
t_ok $? "the password is not in the process command line"
! grep -q "$secret" pw.out
t_ok $? "the password is in no output (init, backup, wrong password, verbose check, json)"
! grep -rqa "$secret" pwrepo
t_ok $? "the password is stored nowhere in the repository"
echo "$secret" >pwfile
run env -u CAIRN_PASSWORD "$CAIRN_BIN" -r pwrepo --password-file pwfile snapshots
t_rc 0 "--password-file opens the repository"
run env -u CAIRN_PASSWORD CAIRN_PASSWORD_FILE="$T_TMP/pwfile" "$CAIRN_BIN" -r pwrepo snapshots
t_rc 0 "CAIRN_PASSWORD_FILE opens the repository"
t_done
