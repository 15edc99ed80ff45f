#!/bin/bash
# Forget + prune: every remaining snapshot restores and the repository shrinks; a kill -9
# at random points of prune leaves a repository check accepts; prune and a running backup
# exclude each other without losing the backup. Small packs and chunks: many packs.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"

SRC=$T_TMP/src
mkdir -p "$SRC/sub"
REPO=$T_TMP/repo
run cairn init --pack-size 1M --chunk-min 64K --chunk-avg 128K --chunk-max 512K
[ "$RC" -eq 0 ] || t_bail "init failed: $(cat "$ERR")"

# Six snapshots of a changing tree: each adds a file and rewrites one.
for i in 1 2 3 4 5 6; do
	head -c $((1500000 + i * 100000)) /dev/urandom >"$SRC/f$i"
	head -c 700000 /dev/urandom >"$SRC/sub/changing"
	run cairn backup "$SRC"
	[ "$RC" -eq 0 ] || t_bail "backup $i failed: $(cat "$ERR")"
	rm -rf "$T_TMP/copy$i"
	cp -a "$SRC" "$T_TMP/copy$i"
done

size() { du -sb "$REPO/data" | cut -f1; }

# restore_all: every snapshot restores and matches the source copy it was taken from.
restore_all() {
	local id n=0 bad=0 d src
	for id in $(cairn snapshots --json | jq -r '.[].id'); do
		n=$((n + 1))
		d=$T_TMP/r.$id
		rm -rf "$d"
		cairn restore "$id" --target "$d" >/dev/null 2>"$T_TMP/rerr" || { bad=1; cat "$T_TMP/rerr"; continue; }
		src=$(t_landed "$d" "$SRC")
		# Which copy: match by the number of top-level f* files.
		local k
		k=$(find "$src" -maxdepth 1 -name 'f*' | wc -l)
		diff -r "$src" "$T_TMP/copy$k" >/dev/null || { bad=1; echo "# $id differs from copy$k"; }
	done
	[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
}

before=$(size)
find "$REPO" -type f -printf '%P %s\n' | sort >"$T_TMP/state0"
run cairn forget --keep-last 2 --dry-run --json
t_rc 0 "forget --dry-run runs"
find "$REPO" -type f -printf '%P %s\n' | sort >"$T_TMP/state1"
cmp -s "$T_TMP/state0" "$T_TMP/state1"
t_ok $? "forget --dry-run changes nothing"
[ "$(jget "$OUT" .removed)" = 4 ] && [ "$(jget "$OUT" .kept)" = 2 ]
t_ok $? "dry run reports 4 to remove, 2 to keep"

run cairn forget --keep-last 2 --json
t_rc 0 "forget --keep-last 2"
[ "$(cairn snapshots --json | jq length)" = 2 ]
t_ok $? "two snapshots left"
jq -e '.groups[0].keep[0].reasons == ["last"]' <(grep -a . "$OUT" | tail -n1) >/dev/null
t_ok $? "--json names the reason each snapshot was kept"

run cairn prune --max-unused 0 --json
t_rc 0 "prune"
after=$(size)
[ "$after" -lt "$before" ]
t_ok $? "prune reduced the repository ($before -> $after bytes)"
[ "$(jget "$OUT" .packs_deleted)" -gt 0 ]
t_ok $? "prune deleted unused packs"
run cairn check --read-data
t_rc 0 "check --read-data after prune"
restore_all
t_ok $? "every remaining snapshot restores identical to its source"

# Repack: forget the older of the two; its changing file's chunks share packs with
# data still used, so with --max-unused 0 some packs are rewritten.
oldest=$(cairn snapshots --json | jq -r '.[0].id')
run cairn forget "$oldest"
t_rc 0 "forget by id"
run cairn prune --max-unused 0 --json
t_rc 0 "prune with repack"
[ "$(jget "$OUT" .packs_repacked)" -gt 0 ] && [ "$(jget "$OUT" .blobs_repacked)" -gt 0 ]
t_ok $? "some packs were repacked ($(jget "$OUT" .packs_repacked))"
run cairn check --read-data
t_rc 0 "check --read-data after repack"
restore_all
t_ok $? "snapshot restores after repack"

# SIGKILL at random points: each round adds two snapshots, forgets one, then kills prune
# after a random fraction of the time an uninterrupted prune takes.
rm -rf "$T_TMP/probe"
cp -a "$REPO" "$T_TMP/probe"
start=$(date +%s%N)
REPO=$T_TMP/probe run cairn prune --max-unused 0
dur=$((($(date +%s%N) - start) / 1000000))
REPO=$T_TMP/repo
crash_bad=0
for round in 1 2 3 4 5 6; do
	head -c 400000 /dev/urandom >"$SRC/sub/changing"
	head -c 900000 /dev/urandom >"$SRC/f$round"
	rm -rf "$T_TMP/copy6"
	cp -a "$SRC" "$T_TMP/copy6"
	cairn backup "$SRC" >/dev/null 2>&1 || { crash_bad=1; echo "# backup failed"; }
	first=$(cairn snapshots --json | jq -r '.[0].id')
	cairn forget "$first" >/dev/null 2>&1
	delay=$((RANDOM % (dur + 20)))
	cairn_bg prune --max-unused 0
	sleep "$(printf '0.%03d' "$delay")"
	kill -9 "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
	cairn unlock --remove-all >/dev/null 2>&1
	run cairn check --read-data
	if [ "$RC" -ne 0 ]; then
		crash_bad=1
		echo "# round $round (kill after ${delay}ms): check failed"
		t_diag "$ERR"
	fi
	restore_all || { crash_bad=1; echo "# round $round: restore failed"; }
done
t_ok $crash_bad "kill -9 during prune (6 random points within ${dur}ms): check passes, snapshots restore"
run cairn prune
t_rc 0 "a prune after the kills completes"
run cairn check --read-data
t_rc 0 "and check accepts the result"

# Prune against a running backup: the exclusive lock makes one of them fail clearly;
# whatever backup completes restores.
head -c 100000000 /dev/urandom >"$SRC/big"
rm -rf "$T_TMP/copy7"
cp -a "$SRC" "$T_TMP/copy7"
n0=$(cairn snapshots --json | jq length)
cairn_bg backup "$SRC"
# Freeze the backup once it holds its shared lock, so prune meets a live lock however fast
# the machine is (a sleep raced a 30 MB backup that now finishes in 0.2 s).
# (plain ls: a .tmp- file is a lock still being written, which prune rightly ignores)
for _ in $(seq 1 400); do
	[ -n "$(ls "$REPO/locks" 2>/dev/null)" ] && break
	sleep 0.02
done
kill -STOP "$BG" 2>/dev/null
run cairn prune
prune_rc=$RC
kill -CONT "$BG" 2>/dev/null
wait "$BG"
backup_rc=$?
echo "# prune exit $prune_rc, backup exit $backup_rc"
{ [ "$prune_rc" -eq 0 ] || [ "$prune_rc" -eq 11 ]; } && [ "$backup_rc" -eq 0 -o "$backup_rc" -eq 11 ]
t_ok $? "prune and backup exclude each other with exit 0 or 11 (locked)"
[ "$prune_rc" -eq 11 ] && grep -q "locked" "$ERR"
t_ok $? "prune during the backup reports the lock"
n1=$(cairn snapshots --json | jq length)
if [ "$backup_rc" -eq 0 ]; then
	[ "$n1" -eq $((n0 + 1)) ]
	t_ok $? "the concurrent backup's snapshot exists"
	run cairn prune
	t_rc 0 "prune after the backup"
	id=$(cairn snapshots --json | jq -r '.[-1].id')
	rm -rf "$T_TMP/rb"
	cairn restore "$id" --target "$T_TMP/rb" >/dev/null 2>&1
	diff -r "$(t_landed "$T_TMP/rb" "$SRC")" "$T_TMP/copy7" >/dev/null
	t_ok $? "the snapshot of the concurrent backup restores after prune"
else
	t_ok 1 "backup failed during prune"
fi
run cairn check --read-data
t_rc 0 "final check"
t_done
