#!/bin/bash
# The golden repository (written once by make-fixture.sh, checked in) must read the same
# forever: cat, snapshots, ls and a restore are compared byte for byte with the outputs
# recorded in tests/golden/expect/. A difference means the format or its reading changed:
# make that a decision (new fixture, docs/format.md), not an accident.
# --update re-records the expected outputs from the current build.
. "$(dirname "$0")/../e2e/lib.sh"
G=$TOP_SRCDIR/tests/golden
update=${1:-}
REPO=$T_TMP/repo
cp -a "$G/repo" "$REPO"
T_PASS='golden fixture password'
export CAIRN_KDF_FAST=1

# manifest DIR: one line per entry, sorted: path type mode uid gid size mtime links
# sha256 xattrs (sparse files are recognised by their allocated blocks being fewer than
# their size asks for).
manifest() {
	(cd "$1" && find . -mindepth 1 -print0 | sort -z | while IFS= read -r -d '' p; do
		local st sum="-" sparse="" x
		# a folder's size is the filesystem's business, not the snapshot's
		if [ -d "$p" ]; then
			st=$(stat -c '%F %a %u %g - %Y.%y %h' "$p")
		else
			st=$(stat -c '%F %a %u %g %s %Y.%y %h' "$p")
		fi
		if [ -f "$p" ] && [ ! -L "$p" ]; then
			sum=$(sha256sum <"$p" | cut -c1-64)
			[ $(($(stat -c '%b' "$p") * $(stat -c '%B' "$p"))) -lt "$(stat -c %s "$p")" ] && sparse=" sparse"
		fi
		x=$(getfattr -h -d -m - --absolute-names "$p" 2>/dev/null | grep -v '^#' | tr '\n' ' ')
		[ -L "$p" ] && sum="-> $(readlink "$p")"
		echo "$p $st $sum${sparse} $x"
	done)
}

same() { # same NAME FILE: compare with expect/NAME (or record it with --update)
	if [ "$update" = --update ]; then
		cp "$2" "$G/expect/$1"
		t_ok 0 "recorded $1"
		return
	fi
	cmp -s "$G/expect/$1" "$2"
	t_ok $? "$1 reads as recorded" || diff "$G/expect/$1" "$2" | head -n 20 | sed 's/^/#   /'
}

t_need
run cairn cat config
t_rc 0 "cat config" && same config.json "$OUT"
run cairn snapshots --json
t_rc 0 "snapshots --json" && same snapshots.json "$OUT"
snap=$(jq -r '.[0].id' "$OUT")
run cairn cat snapshot "$snap"
t_rc 0 "cat snapshot" && same snapshot.json "$OUT"
run cairn ls --json "$snap"
t_rc 0 "ls --json" && same ls.json "$OUT"
for ix in $(ls "$REPO/index" | sort); do
	run cairn cat index "$ix"
	t_rc 0 "cat index" && same "index-$ix.json" "$OUT"
done
run cairn restore "$snap" --target "$T_TMP/out"
t_rc 0 "restore"
manifest "$T_TMP/out" >"$T_TMP/manifest"
same restore.manifest "$T_TMP/manifest"
run cairn check --read-data
t_rc 0 "check --read-data finds the golden repository sound"
t_done
