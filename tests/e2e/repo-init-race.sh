#!/bin/bash
# Ten `cairn init` at once on one folder (two agents creating a namespace's repository):
# exactly one wins, the others report that a repository exists, one key file remains,
# and the repository is readable and writable afterwards.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
mkdir -p "$T_TMP/src"
echo data >"$T_TMP/src/f"
bad=0
for round in 1 2 3; do
	REPO=$T_TMP/repo$round
	pids=()
	for i in 0 1 2 3 4 5 6 7 8 9; do
		(CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" -r "$REPO" init) >"$T_TMP/init.$i" 2>&1 &
		pids+=($!)
	done
	won=0
	for i in 0 1 2 3 4 5 6 7 8 9; do
		wait "${pids[$i]}" && won=$((won + 1))
	done
	keys=$(find "$REPO/keys" -type f ! -name '.*' | wc -l)
	echo "# round $round: $won init(s) succeeded, $keys key file(s)"
	[ "$won" -eq 1 ] && [ "$keys" -eq 1 ] || bad=1
	run cairn backup "$T_TMP/src"
	[ "$RC" -eq 0 ] || { bad=1; t_diag "$ERR"; }
	run cairn check
	[ "$RC" -eq 0 ] || { bad=1; t_diag "$ERR"; }
done
t_ok $bad "ten concurrent inits: one wins, one key file, the repository works (3 rounds)"
grep -h "exists\|same time" "$T_TMP"/init.* | head -n 1 | grep -q .
t_ok $? "the losers say a repository exists"
t_done
