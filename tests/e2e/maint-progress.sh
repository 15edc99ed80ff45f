#!/bin/bash
# Progress of check --read-data and prune: in a pseudo-terminal a line of packs and bytes
# that climbs to 100%; with --json status objects and then the summary; nothing when
# stdout is a pipe or with --quiet.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
t_need
command -v script >/dev/null || t_bail "script (util-linux) missing"
cd "$T_TMP" || t_bail "no scratch dir"
REPO=$T_TMP/repo
run cairn init --pack-size 1M
[ "$RC" -eq 0 ] || { t_diag "$ERR"; t_bail "cairn init failed (exit $RC)"; }

# Two backups of different data in packs of 1 MiB: a dozen packs each, so that after the
# first is forgotten prune has a dozen packs to delete.
mkdir -p one two
for i in $(seq 1 20); do
	head -c 300000 /dev/urandom >"one/f$i"
	head -c 300000 /dev/urandom >"two/f$i"
done
run cairn --json backup one
t_rc 0 "backup one"
first=$(jget "$OUT" .snapshot_id)
t_cmd "backup two" cairn backup two

# pty CMD...: run cairn in a pseudo-terminal; its screen output (stdout and stderr) in $OUT.
pty() {
	local q
	q=$(printf '%q ' "$@")
	run env CAIRN_PASSWORD="$T_PASS" CAIRN_PROGRESS_FPS=1000 \
		script -qfec "$CAIRN_BIN -r $REPO $q" /dev/null
}

percents() { # FILE: every percentage drawn, in order, one per line
	tr '\r' '\n' <"$1" | grep -ao '^\[[0-9:]*\] *[0-9.]*%' | sed 's/.*\] *//; s/%//'
}

climbs_to_100() { # FILE: percentages never fall, the last is 100.0, more than one drawn
	percents "$1" | awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1; n++ }
		END { exit !(n >= 2 && prev == 100.0 && !bad) }'
}

packs=$(find "$REPO/data" -type f | wc -l)
pty check --read-data
t_rc 0 "check --read-data in a pseudo-terminal"
climbs_to_100 "$OUT"
t_ok $? "check progress climbs to 100% ($(percents "$OUT" | wc -l) redraws)" ||
	t_diag "$OUT" 5
tr '\r' '\n' <"$OUT" | grep -a '100.0%' | tail -1 | grep -aq " $packs / $packs packs .*B/s"
t_ok $? "the line shows $packs / $packs packs, bytes and a rate" || t_diag "$OUT" 5
grep -aq "^checked .* 0 problems" <(tr '\r' '\n' <"$OUT")
t_ok $? "the summary follows the line"

run env CAIRN_PROGRESS_FPS=1000 CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" \
	check --read-data --json
grep '"message_type":"status"' "$OUT" |
	jq -se --argjson n "$packs" 'length >= 2 and all(.[]; .total_packs == $n and .phase == "read"
		and (.percent_done | type) == "number") and (last | .packs_done == $n)' >/dev/null &&
	jget "$OUT" .message_type | grep -qx summary
t_ok $? "check --json: status objects with packs and percent_done, then the summary" ||
	t_diag "$OUT" 5

run cairn check --read-data
! grep -q '%' "$OUT" && ! grep -q $'\r' "$OUT" && grep -q '^checked' "$OUT"
t_rc 0 "check --read-data into a pipe"
t_ok $? "no progress line when stdout is not a terminal" || t_diag "$OUT"
pty --quiet check --read-data
! percents "$OUT" | grep -q .
t_ok $? "no progress line with --quiet"
pty check
! percents "$OUT" | grep -q .
t_ok $? "no progress line for a check that reads no data"

t_cmd "forget the first snapshot" cairn forget "$first"
pty prune
t_rc 0 "prune in a pseudo-terminal"
climbs_to_100 "$OUT"
t_ok $? "prune progress climbs to 100% ($(percents "$OUT" | wc -l) redraws)" ||
	t_diag "$OUT" 5
tr '\r' '\n' <"$OUT" | grep -a '100.0%' | tail -1 | grep -aq ' \([0-9]*\) / \1 packs '
t_ok $? "the line shows done / total packs" || t_diag "$OUT" 5
grep -aq 'packs: [1-9][0-9]* deleted' <(tr '\r' '\n' <"$OUT")
t_ok $? "prune deleted packs and printed its summary" || t_diag "$OUT" 5

# backup_forget DIR: back DIR up (new packs) and forget that snapshot: work for prune.
backup_forget() {
	local id
	run cairn --json backup --force "$1"
	id=$(jget "$OUT" .snapshot_id)
	run cairn forget "$id"
	t_rc 0 "backup $1 and forget it"
}

backup_forget one
run env CAIRN_PROGRESS_FPS=1000 CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" prune --json
grep '"message_type":"status"' "$OUT" |
	jq -se 'length >= 2 and all(.[]; .phase == "prune" and .total_packs > 0) and
		(last | .percent_done == 1)' >/dev/null &&
	jget "$OUT" .message_type | grep -qx prune
t_ok $? "prune --json: status objects, then the prune summary" || t_diag "$OUT" 5

backup_forget one
run cairn prune
t_rc 0 "prune into a pipe"
! grep -q '%' "$OUT" && ! grep -q $'\r' "$OUT" && grep -q '[1-9][0-9]* deleted' "$OUT"
t_ok $? "no progress line when stdout is not a terminal" || t_diag "$OUT"
t_done
