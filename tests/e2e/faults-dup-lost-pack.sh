#!/bin/bash
# A pack the index lists is deleted or cut short behind cairn's back, and the next backup
# stores its blobs again: two index files now name the same blobs in two packs. WITHOUT
# `repair index`, the old snapshot must restore byte for byte, the mount must read it and
# check must name the lost pack yet find every file of the snapshots whole, whichever of
# the two index files is read first (CAIRN_TEST_INDEX_ORDER=reverse turns the listing's
# order in test builds). Last, a copy that is whole in length but damaged inside: reads
# fall back to the other copy.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
[ "${CAIRN_TEST_HOOKS:-}" = 1 ] || {
	echo "1..0 # SKIP needs a test build (configure --enable-test-hooks)"
	exit 0
}
cd "$T_TMP" || exit 1
CAN_MOUNT=0
t_root && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && CAN_MOUNT=1

mkdir src
head -c 3000000 /dev/urandom >src/a
head -c 3000000 /dev/urandom >src/b
echo small >src/c

# same DIR: DIR holds src's three files byte for byte.
same() { cmp -s "$1/a" src/a && cmp -s "$1/b" src/b && cmp -s "$1/c" src/c; }

MNT=$T_TMP/mnt
mkdir -p "$MNT"
T_MOUNTS+=("$MNT")
mounted() { grep -q " $MNT fuse" /proc/mounts; }
# read_mount: mount the repository, compare the oldest snapshot's files, unmount.
read_mount() {
	local i s=1 oldest
	(CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" -r "$REPO" mount "$MNT") >"$T_TMP/mount.err" 2>&1 &
	BG=$!
	for i in $(seq 100); do
		mounted && break
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	if mounted; then
		oldest=$(find "$MNT/snapshots" -mindepth 1 -maxdepth 1 ! -name latest -printf '%f\n' |
			sort | head -1)
		same "$MNT/snapshots/$oldest$(t_snap_path "$T_TMP/r1" "$T_TMP/src")"
		s=$?
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	wait "$BG" 2>/dev/null
	return $s
}

# read_order NAME first|last: the index files are read so that NAME (the first backup's,
# whose copies are lost) comes first or last. The store lists in its own order (by a hash
# of the names on ext4): the listing order, or its reverse.
read_order() {
	local pos
	pos=$(find repo/index -type f -printf '%f\n' | grep -n "$1" | cut -d: -f1)
	if { [ "$2" = first ] && [ "$pos" != 1 ]; } || { [ "$2" = last ] && [ "$pos" = 1 ]; }; then
		export CAIRN_TEST_INDEX_ORDER=reverse
	fi
}

# scenario DAMAGE ORDER: a fresh repository, a backup, the data pack deleted or cut, a
# second backup; then the first snapshot is read with the index files in ORDER.
scenario() {
	local damage=$1 order=$2 pack first second ix1
	rm -rf repo r1 r2
	t_init_repo "$T_TMP/repo"
	run cairn backup "$T_TMP/src"
	first=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$OUT")
	ix1=$(find repo/index -type f -printf "%f")
	pack=$(find repo/data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
	if [ "$damage" = deleted ]; then rm -f "$pack"; else truncate -s 1000000 "$pack"; fi
	sleep 1.1 # the mount names snapshots by the second
	run cairn backup "$T_TMP/src"
	second=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$OUT")
	[ "$RC" = 0 ] && [ -n "$first" ] && [ -n "$second" ] && [ "$(find repo/index -type f | wc -l)" = 2 ]
	t_ok $? "$damage pack, its index file read $order: two backups, two index files" ||
		{ t_diag "$ERR"; return; }
	read_order "$ix1" "$order"

	run cairn restore "$first" --target "$T_TMP/r1"
	[ "$RC" = 0 ] && same "$(t_landed "$T_TMP/r1" "$T_TMP/src")"
	t_ok $? "$damage/$order: the first snapshot restores byte for byte without repair index" ||
		t_diag "$ERR"
	run cairn restore "$second" --target "$T_TMP/r2"
	[ "$RC" = 0 ] && same "$(t_landed "$T_TMP/r2" "$T_TMP/src")"
	t_ok $? "$damage/$order: so does the second" || t_diag "$ERR"

	run cairn check
	[ "$RC" != 0 ] && grep -q "pack $(basename "$pack")" "$OUT" "$ERR" &&
		! grep -q "snapshot [0-9a-f]*: /" "$OUT" "$ERR"
	t_ok $? "$damage/$order: check names the lost pack and no file of a snapshot" ||
		{ t_diag "$OUT"; t_diag "$ERR"; }

	if [ "$CAN_MOUNT" = 1 ]; then
		read_mount
		t_ok $? "$damage/$order: the mount reads the first snapshot byte for byte" ||
			t_diag "$T_TMP/mount.err"
	else
		t_skip "$damage/$order: mount" "FUSE needs root and /dev/fuse here"
	fi
	unset CAIRN_TEST_INDEX_ORDER
}

for damage in deleted truncated; do
	for order in first last; do
		scenario "$damage" "$order"
	done
done

# A copy whole in length but damaged inside: the pack comes back after the second backup
# stored all its blobs again, then one byte in the middle of a blob is flipped.
# Both copies lie within their packs, so the load keeps whichever it read last: reads of
# the damaged one must fall back to the other.
for order in first last; do
	rm -rf repo r1
	t_init_repo "$T_TMP/repo"
	run cairn backup "$T_TMP/src"
	first=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$OUT")
	ix1=$(find repo/index -type f -printf "%f")
	pack=$(find repo/data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
	mv "$pack" saved
	sleep 1.1
	run cairn backup "$T_TMP/src"
	mv saved "$pack"
	printf '\377' | dd of="$pack" bs=1 seek=500000 conv=notrunc 2>/dev/null
	read_order "$ix1" "$order"
	run cairn restore "$first" --target "$T_TMP/r1"
	[ "$RC" = 0 ] && same "$(t_landed "$T_TMP/r1" "$T_TMP/src")"
	t_ok $? "damaged copy read $order: the restore falls back to the whole copy" ||
		t_diag "$ERR"
	if [ "$CAN_MOUNT" = 1 ]; then
		read_mount
		t_ok $? "damaged copy read $order: so does the mount" || t_diag "$T_TMP/mount.err"
	else
		t_skip "damaged copy read $order: mount" "FUSE needs root and /dev/fuse here"
	fi
	unset CAIRN_TEST_INDEX_ORDER
done

# A copy lost while the restore runs: every blob is in two packs, both whole when the
# index is loaded, and the packs of the copy the load chose are deleted after the first
# file is in place (CAIRN_TEST_RESTORE_HOLD holds the one restore thread after each
# file). The runs read later fail on the deleted packs: each of their blobs must come
# from the other copy. The load keeps the copy of the index file it read last, so the
# order picks which set of packs is deleted.
mkdir -p many
for i in 1 2 3 4 5 6; do head -c 700000 /dev/urandom >"many/f$i"; done
big_packs() { find repo/data -type f -size +100k -printf '%p\n' | sort; }
for order in first last; do
	rm -rf repo r3 saved-data hold
	REPO=$T_TMP/repo
	run cairn init --pack-size 1M
	run cairn backup "$T_TMP/many"
	first=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$OUT")
	ix1=$(find repo/index -type f -printf "%f")
	big_packs >packs1
	mkdir saved-data && cp -a repo/data/. saved-data/
	xargs rm -f <packs1
	sleep 1.1
	run cairn backup "$T_TMP/many"
	cp -a saved-data/. repo/data/
	big_packs >all
	grep -vxF -f packs1 all >packs2
	[ -n "$first" ] && [ "$(wc -l <packs1)" -ge 3 ] && [ "$(wc -l <packs2)" -ge 3 ] &&
		[ "$(find repo/index -type f | wc -l)" = 2 ]
	t_ok $? "lost while restoring, index read $order: every file's blobs in two sets of packs" ||
		{ t_diag "$ERR"; continue; }
	read_order "$ix1" "$order"
	# The copy the load keeps: the second backup's when the first's index is read first.
	if [ "$order" = first ]; then chosen=packs2; else chosen=packs1; fi
	touch hold
	(CAIRN_TEST_RESTORE_HOLD=$T_TMP/hold CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" \
		-r "$REPO" restore "$first" --threads 1 --target "$T_TMP/r3") \
		>"$T_TMP/r3.out" 2>"$T_TMP/r3.err" &
	BG=$!
	one_in() { [ -n "$(find "$T_TMP/r3" -type f -name 'f[0-9]' -print -quit 2>/dev/null)" ]; }
	t_wait 120 one_in
	t_ok $? "lost while restoring, index read $order: the restore holds after its first file"
	xargs rm -f <"$chosen"
	rm -f hold
	wait "$BG"
	RC=$?
	unset CAIRN_TEST_INDEX_ORDER
	got=$(t_landed "$T_TMP/r3" "$T_TMP/many")
	ok=0
	for i in 1 2 3 4 5 6; do cmp -s "$got/f$i" "many/f$i" || ok=1; done
	[ "$RC" = 0 ] && [ "$ok" = 0 ]
	t_ok $? "lost while restoring, index read $order: every file restores byte for byte from the other copy" ||
		t_diag "$T_TMP/r3.err"
done
t_done
