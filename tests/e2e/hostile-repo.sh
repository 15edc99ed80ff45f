#!/bin/bash
# A repository written by an attacker (every node holds the key, and the store may be
# writable by more): lock objects with forged times or sealed with another key, a pack
# whose header length is absurd, packs cut short under the index's blob sizes, a symlink
# stored without a target, two files claiming one inode with different content, a symlink
# to a folder outside the target with entries "inside" it, a snapshot sealed twice.
# Restore never writes outside its target, every bad file is named, the exit code is not
# 0 and a file that failed is not left looking restored; nothing blocks forever.
. "$(dirname "$0")/lib.sh"
t_need
FORGE=${FORGE:-$TOP_BUILDDIR/tests/tools/forge}
HOBJ=${HOBJ:-$TOP_BUILDDIR/tests/fuzz/hostile-obj}
[ -x "$FORGE" ] || t_bail "forge missing at $FORGE"
[ -x "$HOBJ" ] || t_bail "hostile-obj missing at $HOBJ"

t_init_repo "$T_TMP/repo"
forge() { CAIRN_PASSWORD=$T_PASS "$FORGE" "$REPO"; }
hobj() { CAIRN_PASSWORD=$T_PASS "$HOBJ" "$REPO" "$@"; }
SRC=$T_TMP/src
mkdir -p "$SRC"
for i in 1 2 3 4; do head -c 3000000 /dev/urandom >"$SRC/big$i"; done
echo small >"$SRC/small"
run cairn backup "$SRC"
[ "$RC" = 0 ] || { t_diag "$ERR"; t_bail "first backup failed"; }
# The id of a snapshot of SRC: later listings also hold the forged snapshot, which may sort
# first when both carry the same second.
SRC_ID=$(cairn snapshots --json | jq -r '.[0].id')

# ---- locks ----
# lock TIME: an exclusive lock of a pid on another host, dated TIME; prints its name.
lock() {
	printf '{"exclusive":true,"time":%s,"pid":4242,"hostname":"attacker"}' "$1" |
		hobj seal lock
}
now=$(date +%s)
L=$(lock -9223372036854775808) || t_bail "hostile-obj cannot seal a lock"
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" backup "$SRC"
t_rc 0 "an exclusive lock dated -2^63 is stale, not 'refreshed -9223372036854775808s ago'"
rm -f "$REPO/locks/$L"

L=$(lock $((now + 10 * 366 * 86400)))
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" backup "$SRC"
t_rc 0 "an exclusive lock dated ten years ahead does not block a backup until then"
rm -f "$REPO/locks/$L"

L=$(lock $((now + 120)))
run timeout 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" backup "$SRC"
s=0
[ "$RC" != 0 ] && [ "$RC" != 124 ] && grep -q 'dated [0-9]*s in the future' "$ERR" &&
	! grep -q 'refreshed -' "$ERR" || s=1
t_ok $s "a lock dated two minutes ahead (clock skew) still blocks, and says so (exit $RC)" ||
	t_diag "$ERR"
rm -f "$REPO/locks/$L"

# A lock no key opens: nothing can judge its age, so it blocks nobody, and only
# --remove-all can take it away.
G=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
head -c 200 /dev/urandom >"$REPO/locks/$G"
run cairn backup "$SRC"
t_rc 0 "an undecryptable lock does not block a backup"
run cairn unlock
s=0
[ "$RC" = 0 ] && [ -e "$REPO/locks/$G" ] || s=1
t_ok $s "unlock keeps an undecryptable lock (its age is unknown)"
run cairn unlock --remove-all
s=0
[ "$RC" = 0 ] && [ ! -e "$REPO/locks/$G" ] && grep -q 'removed 1 lock' "$OUT" || s=1
t_ok $s "unlock --remove-all removes an undecryptable lock" || t_diag "$OUT"

# ---- forged trees ----
mkdir -p "$T_TMP/outside"
before=$(cd "$T_TMP" && find outside -printf '%P %y %s %T@\n' | sort)
SNAP=$(forge <<EOF2
link empty %
link abs /etc/passwd
link esc $T_TMP/outside
dir esc
file pwned x
end
hard h1 7 one
hard h2 7 two
hard h3 7 one
hole lie 4611686018427387904 4096
file ok fine
dir esc2
file pwned2 x
end
EOF2
) || t_bail "forge failed"
# A symlink already in the target where the snapshot has a folder (a restore over an
# earlier one, or anyone who can write the target).
mkdir -p "$T_TMP/t1"
ln -s "$T_TMP/outside" "$T_TMP/t1/esc2"
run cairn restore "$SNAP" --target "$T_TMP/t1"
t_rc 3 "a forged tree restores partially (exit 3)"
s=0
grep -q '/empty: not restored: the snapshot holds a symlink without a valid target' "$ERR" &&
	[ ! -e "$T_TMP/t1/empty" ] && [ ! -L "$T_TMP/t1/empty" ] || s=1
t_ok $s "a symlink without a target is named, not restored as an empty link" || t_diag "$ERR"
s=0
[ "$(readlink "$T_TMP/t1/abs")" = /etc/passwd ] && [ "$(readlink "$T_TMP/t1/esc")" = "$T_TMP/outside" ] || s=1
t_ok $s "absolute symlink targets are restored as they are"
after=$(cd "$T_TMP" && find outside -printf '%P %y %s %T@\n' | sort)
s=0
[ "$before" = "$after" ] && grep -q '/esc: not restored: the snapshot root holds this name twice' "$ERR" &&
	grep -q '/esc2/pwned2' "$ERR" || s=1
t_ok $s "no entry is written through a symlink: a folder named as a symlink before it is left out, one under a symlink in the target is named" ||
	t_diag "$ERR"
s=0
[ "$(cat "$T_TMP/t1/h1")" = one ] && [ "$(cat "$T_TMP/t1/h2")" = two ] &&
	[ "$(cat "$T_TMP/t1/h3")" = one ] &&
	[ "$(stat -c %i "$T_TMP/t1/h1")" = "$(stat -c %i "$T_TMP/t1/h3")" ] &&
	[ "$(stat -c %i "$T_TMP/t1/h1")" != "$(stat -c %i "$T_TMP/t1/h2")" ] || s=1
t_ok $s "two files claiming one inode with other content: each gets its own bytes, the same ones stay linked"
s=0
grep -q '/h2: restored as a separate file, not a hardlink' "$ERR" || s=1
t_ok $s "the separated hardlink is named" || t_diag "$ERR"
s=0
[ ! -e "$T_TMP/t1/lie" ] && grep -q '/lie: not restored: its extents do not add up to its size' "$ERR" || s=1
t_ok $s "a file whose extents claim 4 EiB for 4 KiB is named, not restored" || t_diag "$ERR"
run timeout 300 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" restore "$SNAP" \
	--target "$T_TMP/t1z" --no-sparse
s=0
[ "$RC" = 3 ] && [ ! -e "$T_TMP/t1z/lie" ] && [ "$(du -sk "$T_TMP/t1z" | cut -f1)" -lt 1024 ] || s=1
t_ok $s "--no-sparse does not write its 4 EiB hole as zeros (exit $RC)" || t_diag "$ERR"
s=0
[ "$(cat "$T_TMP/t1/ok")" = fine ] || s=1
t_ok $s "the valid file is restored"

# ---- --verify never opens a device node ----
# A file that is not restored leaves what was at its name (here a character device, as an
# earlier restore of a forged snapshot may have made): --verify opened it to read it, and
# opening a device has effects of its own (a watchdog arms, a tape rewinds).
if ! t_root || ! command -v strace >/dev/null; then
	t_skip "--verify does not open a device node where a file was not restored" "needs root and strace"
else
	SNAPV=$(printf 'hole x 5 9\nfile ok fine\n' | forge) || t_bail "forge failed"
	mkdir -p "$T_TMP/tv"
	mknod "$T_TMP/tv/x" c 1 3
	run env CAIRN_PASSWORD="$T_PASS" strace -f -e trace=openat,open -o "$T_TMP/strace.log" \
		"$CAIRN_BIN" -r "$REPO" restore "$SNAPV" --target "$T_TMP/tv" --verify --keep-going
	s=0
	[ "$RC" != 0 ] && grep -q 'verify: /x: not a regular file' "$ERR" &&
		! grep -q '"x"' "$T_TMP/strace.log" && [ "$(cat "$T_TMP/tv/ok")" = fine ] || s=1
	t_ok $s "--verify does not open a device node where a file was not restored (exit $RC)" ||
		{ t_diag "$ERR"; grep '"x"' "$T_TMP/strace.log" | sed 's/^/#   /'; }
fi

# check names what restore refused in the forged snapshots (before, it said 0 problems),
# and after they are forgotten the repository checks clean again for what follows.
run cairn check
s=0
[ "$RC" = 14 ] && grep -q "snapshot ${SNAP:0:8}: /empty: a symlink without a valid target" "$ERR" &&
	grep -q "snapshot ${SNAP:0:8}: /lie: its extents do not add up to its size" "$ERR" || s=1
t_ok $s "check names the forged snapshot's link without a target and its lying file (exit $RC)" ||
	t_diag "$ERR"
run cairn forget "$SNAP" ${SNAPV:+"$SNAPV"}
t_rc 0 "the forged snapshots are forgotten"

# ---- a snapshot sealed twice (two names, one content) ----
ID=$SRC_ID
DUP=$(hobj open snapshot "$ID" | hobj seal snapshot)
s=0
[ -n "$DUP" ] && [ "$DUP" != "$ID" ] || s=1
t_ok $s "the snapshot sealed a second time has another name"
run cairn restore "$DUP" --target "$T_TMP/dup"
t_rc 0 "the copy restores"
t_same "the copy restores the same files" "$SRC" "$T_TMP/dup/$(basename "$SRC")"
run cairn check
t_rc 0 "check accepts a snapshot stored twice"

# ---- packs ----
PACK=$(find "$REPO/data" -type f -size +1M | head -n 1)
cp "$PACK" "$T_TMP/pack.orig"
size=$(stat -c %s "$PACK")
printf '\377\377\377\177' | dd of="$PACK" bs=1 seek=$((size - 4)) conv=notrunc 2>/dev/null
run timeout 300 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" check
s=0
[ "$RC" != 0 ] && [ "$RC" != 124 ] && grep -q 'header length 2147483647 is invalid' "$ERR" || s=1
t_ok $s "check reports a pack header length of 2 GiB instead of reading it (exit $RC)" || t_diag "$ERR"

cp -a "$REPO" "$T_TMP/repo-copy"
run env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$T_TMP/repo-copy" repair index
s=0
[ "$RC" = 14 ] && grep -q ', 1 unreadable;' "$OUT" || s=1
t_ok $s "repair index leaving that pack out does not exit 0 (exit $RC)" || t_diag "$OUT"
rm -rf "$T_TMP/repo-copy"

cp "$T_TMP/pack.orig" "$PACK"
truncate -s $((size / 2)) "$PACK"
run timeout 300 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" restore "$ID" --target "$T_TMP/cut"
s=0
[ "$RC" != 0 ] && [ "$RC" != 124 ] || s=1
t_ok $s "restore from a pack cut in half fails (exit $RC)"
bad=0
missing=0
named=0
for f in big1 big2 big3 big4 small; do
	p=$T_TMP/cut/$(basename "$SRC")/$f
	if [ -e "$p" ]; then
		cmp -s "$p" "$SRC/$f" || bad=$((bad + 1))
	else
		missing=$((missing + 1))
		# By a warning, or in the one line of a restore that stopped.
		grep -qE "/$f(:|, |\$| and )" "$ERR" && named=$((named + 1))
	fi
done
t_ok $bad "no file whose blobs lie past the pack's end looks restored ($bad with wrong bytes)"
s=0
[ "$missing" -ge 1 ] && [ "$named" = "$missing" ] || s=1
t_ok $s "every file not restored is named ($named of $missing)" || t_diag "$ERR"
s=0
[ -z "$(find "$T_TMP/cut" -name '*cairn-partial*')" ] || s=1
t_ok $s "no temporary file is left"
cp "$T_TMP/pack.orig" "$PACK"
run cairn check --read-data
t_rc 0 "with the pack put back the repository checks clean"
t_done
