#!/bin/bash
# Restore from a repository whose data packs are truncated or corrupted: no file whose
# content could not be written is left behind looking restored (pre-sized, zero-filled,
# with the source's mode and mtime), the file that stopped the restore is named by its
# error, as are those it stopped in the middle of (each other file that failed for its
# own reason by a warning), and the restore stops with the integrity exit code instead of
# fetching everything.
. "$(dirname "$0")/lib.sh"
t_need

t_init_repo "$T_TMP/repo"
mkdir -p "$T_TMP/src"
for i in $(seq -w 1 60); do
	head -c 40000 /dev/urandom >"$T_TMP/src/f$i"
done
touch -d '2001-01-01' "$T_TMP"/src/f*
t_cmd "backup of 60 files" cairn backup "$T_TMP/src"

# Data packs are the large ones; the tree packs stay readable.
for p in $(find "$REPO/data" -type f -size +200k); do
	truncate -s 100000 "$p"
done

for mode in text json; do
	tgt=$T_TMP/out-$mode
	if [ $mode = json ]; then
		run cairn --json restore latest --target "$tgt"
	else
		run cairn restore latest --target "$tgt"
	fi
	t_rc 14 "$mode: the restore fails with the integrity exit code"
	s=0
	for f in $(cd "$tgt" 2>/dev/null && find . -type f); do
		cmp -s "$tgt/$f" "$T_TMP/src/${f#./*/}" || { s=1; echo "#   looks restored but is not: $f"; }
	done
	t_ok $s "$mode: every file left in the target is whole"
	s=0
	[ -z "$(find "$tgt" -name '*cairn-partial*')" ] || s=1
	t_ok $s "$mode: no temporary file is left"
	if [ $mode = json ]; then
		n=$(grep -ah '"message_type":"error"' "$OUT" "$ERR" | jq -r '.item // .error' | grep -c '^/src/f')
	else
		n=$(grep -cE '^cairn: (warning: )?/src/f[0-9]*: ' "$ERR")
	fi
	s=0
	[ "$n" -ge 1 ] || s=1
	t_ok $s "$mode: the files not restored are named ($n)" || { t_diag "$ERR"; t_diag "$OUT"; }
done
t_done
