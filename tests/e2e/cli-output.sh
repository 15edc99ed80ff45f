#!/bin/bash
# What the command line shows: backup and restore progress in a pseudo-terminal climbing
# to 100% (none without a terminal, status objects with --json, none with --quiet); the
# snapshots table; and hostile file names (a newline, an escape sequence, bytes that are
# not UTF-8) escaped in every text output and kept exact (base64) in JSON.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
t_need
command -v script >/dev/null || t_bail "script (util-linux) missing"
cd "$T_TMP" || t_bail "no scratch dir"
t_init_repo "$T_TMP/repo"

mkdir -p src/sub
for i in $(seq 1 40); do head -c 300000 /dev/urandom >"src/f$i"; done
head -c 1000 /dev/urandom >src/sub/small

# pty CMD...: run cairn in a pseudo-terminal; its screen output (stdout and stderr) in $OUT.
pty() {
	local q
	q=$(printf '%q ' "$@")
	run env CAIRN_PASSWORD="$T_PASS" CAIRN_PROGRESS_FPS=1000 \
		script -qfec "$CAIRN_BIN -r $REPO $q" /dev/null
}

# percents FILE: every percentage drawn, in order, one per line.
percents() {
	tr '\r' '\n' <"$1" | grep -ao '^\[[0-9:]*\] *[0-9.]*%' | sed 's/.*\] *//; s/%//'
}

climbs_to_100() { # FILE: percentages never fall, the last is 100.0, more than one drawn
	percents "$1" | awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1; n++ }
		END { exit !(n >= 2 && prev == 100.0 && !bad) }'
}

pty backup src
t_rc 0 "backup in a pseudo-terminal"
climbs_to_100 "$OUT"
t_ok $? "backup progress climbs to 100% ($(percents "$OUT" | wc -l) redraws)" ||
	percents "$OUT" | tail -3 | sed 's/^/#   /'
tr '\r' '\n' <"$OUT" | grep -a '100.0%' | tail -1 | grep -aq '41 / 41 files.*/s'
t_ok $? "the line shows done/total files, bytes and a rate" || t_diag "$OUT" 3
tr '\r' '\n' <"$OUT" | grep -aq 'ETA [0-9]*:[0-9][0-9]'
t_ok $? "the line shows the time left while running"
grep -aq 'snapshot [0-9a-f]* saved' "$OUT"
t_ok $? "the summary follows the progress line"

run cairn backup src
! grep -q '%' "$OUT" && ! grep -q $'\r' "$OUT"
t_ok $? "no progress line when stdout is not a terminal"
# Without a progress line the backup still times itself: the snapshot recorded a duration
# of 0 when nobody asked for progress. (The printed summary rounds to 0.01 s, and an
# unchanged backup of 41 files may well take less, so the snapshot's own figure is what
# is checked, found by the id the backup printed.)
id=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$OUT")
[ -n "$id" ] && cairn snapshots --json |
	jq -e --arg id "$id" '.[] | select(.id | startswith($id)) | .summary.duration > 0' >/dev/null
t_ok $? "a backup without progress records its duration (snapshot $id)" || t_diag "$OUT"
pty --quiet backup src
! percents "$OUT" | grep -q .
t_ok $? "no progress line with --quiet"
run env CAIRN_PROGRESS_FPS=1000 CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" backup --json --force src
grep '"message_type":"status"' "$OUT" |
	jq -se 'any(.[]; .total_files > 0 and (.percent_done | type) == "number")' >/dev/null &&
	jget "$OUT" .message_type | grep -qx summary
t_ok $? "--json: status objects with totals and percent_done, then the summary"

pty restore latest --target "$T_TMP/r1"
t_rc 0 "restore in a pseudo-terminal"
climbs_to_100 "$OUT"
t_ok $? "restore progress climbs to 100%" || t_diag "$OUT" 3

# The snapshots table: aligned columns and a human size.
run cairn snapshots
awk 'NR == 1 { p = index($0, "Paths") } NR > 1 && /^[0-9a-f]{8} / { if (index($0, "/") != p) bad = 1 }
	END { exit bad || !p }' "$OUT" && grep -q 'MiB' "$OUT" &&
	tail -1 "$OUT" | grep -q '^[0-9]* snapshots, '
t_ok $? "snapshots: aligned table with human sizes and a total" || t_diag "$OUT"
run cairn snapshots --json
jq -e 'length >= 4 and (.[0].id | length) == 64' "$OUT" >/dev/null
t_ok $? "snapshots --json: one array for scripts"

# Hostile names.
mkdir -p evil
NL=$'new\nline' ESC=$'red\x1b[31mtext' BAD=$'bad\xff\xfename'
for n in "$NL" "$ESC" "$BAD"; do echo data >"evil/$n"; done
run cairn backup evil
t_rc 0 "backup of hostile names"
run cairn ls --json latest
s=0
while IFS= read -r l; do jq -e . >/dev/null <<<"$l" || s=1; done <"$OUT"
for n in "$NL" "$ESC" "$BAD"; do
	b64=$(printf '%s' "/evil/$n" | base64 -w0)
	jq -se --arg b "$b64" 'any(.[]; .path_b64 == $b)' "$OUT" >/dev/null || s=1
done
t_ok $s "ls --json: valid JSON, exact bytes of each hostile path in path_b64"
run cairn ls latest
! grep -q $'\x1b' "$OUT" && [ "$(wc -l <"$OUT")" -eq 4 ] &&
	grep -qF 'red\x1b[31mtext' "$OUT" && grep -qF 'new\x0aline' "$OUT" &&
	grep -qF 'bad\xff\xfename' "$OUT"
t_ok $? "ls: control and invalid bytes as \\xNN, one line per file" || t_diag "$OUT"
echo changed >"evil/$ESC"
run cairn backup evil
run cairn diff "$(cairn snapshots --json | jq -r '.[-2].id')" latest
! grep -q $'\x1b' "$OUT" && grep -qF 'M    /evil/red\x1b[31mtext' "$OUT"
t_ok $? "diff: the changed hostile name escaped" || t_diag "$OUT"

# Warnings: a hostile file that cannot be read. Root reads everything, so the backup runs
# as nobody when this runs as root.
mkdir -p warn
echo secret >"warn/$ESC"
echo secret >"warn/$BAD"
chmod 000 "warn/$ESC" "warn/$BAD"
as_user=()
if t_root; then
	# nobody must reach the scratch folder, which may sit in the suite runner's own
	# private folder: open every ancestor for traversal only.
	d=$T_TMP
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	chmod 755 "$T_TMP"
	chown -R 65534:65534 warn repo
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
run env CAIRN_PASSWORD="$T_PASS" "${as_user[@]}" "$CAIRN_BIN" -r "$REPO" backup warn
s=0
[ "$RC" -eq 3 ] && ! grep -q $'\x1b' "$ERR" && grep -qF 'red\x1b[31mtext' "$ERR" &&
	grep -qF 'bad\xff\xfename' "$ERR" || s=1
t_ok $s "backup warnings: hostile names escaped on stderr (exit 3)" ||
	{ echo "#   exit $RC"; t_diag "$ERR"; }
run env CAIRN_PASSWORD="$T_PASS" "${as_user[@]}" "$CAIRN_BIN" -r "$REPO" backup --json warn
s=0
for n in "$ESC" "$BAD"; do
	b64=$(printf '%s' "$PWD/warn/$n" | base64 -w0)
	grep '"message_type":"error"' "$OUT" |
		jq -se --arg b "$b64" 'any(.[]; .item_b64 == $b and (.item | test("warn/")))' \
			>/dev/null || s=1
done
t_ok $s "backup --json warnings: every hostile name present, exact bytes in item_b64" ||
	t_diag "$OUT"
t_root && chown -R 0:0 warn repo

t_done
