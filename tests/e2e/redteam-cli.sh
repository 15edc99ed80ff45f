#!/bin/bash
# The command line under hostile arguments and environment: with --json every failure is
# one JSON error line on stderr carrying the exit code (a bare `cairn --json` printed the
# usage text), password sources that never end or are not files fail fast and bounded,
# and nothing is written to the repository by any of them.
. "$(dirname "$0")/lib.sh"
t_need
t_init_repo "$T_TMP/repo"
BEFORE=$(t_repo_state "$REPO")

# one_json_error WANT: the last run exited WANT and its stderr is one JSON error line
# whose exit_code says the same.
one_json_error() {
	[ "$RC" -eq "$1" ] && [ "$(grep -c . "$ERR")" -eq 1 ] &&
		[ "$(jq -r 'select(.message_type == "error") | .exit_code' "$ERR" 2>/dev/null)" = "$1" ]
}

run "$CAIRN_BIN" --json
one_json_error 2
t_ok $? "cairn --json without a command: exit 2 and one JSON error line (exit $RC)" || t_diag "$ERR" 3

bad=0
while IFS='|' read -r want args; do
	# shellcheck disable=SC2086
	run env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" --json $args
	one_json_error "$want" || {
		bad=$((bad + 1))
		echo "#   '$args': exit $RC, want $want"
		t_diag "$ERR" 2
	}
done <<'EOF'
2|backup --bogus
2|backup
2|restore latest
13|restore ffffffff --target /nonexistent-target
13|ls latest /no/such/path
2|frobnicate
2|key
13|backup /nonexistent/path
EOF
t_ok $bad "every usage and lookup failure under --json is one JSON error line ($bad were not)"

# Password files that are not small files.
run timeout 30 env CAIRN_PASSWORD_FILE=/dev/zero "$CAIRN_BIN" -r "$REPO" --json snapshots
s=1
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && one_json_error "$RC" && s=0
t_ok $s "a password file that never ends (/dev/zero) fails at once (exit $RC)" || t_diag "$ERR" 2
run timeout 30 env CAIRN_PASSWORD_FILE="$T_TMP" "$CAIRN_BIN" -r "$REPO" --json snapshots
s=1
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && one_json_error "$RC" && s=0
t_ok $s "a folder as password file fails with one JSON line (exit $RC)" || t_diag "$ERR" 2
printf '%s\n' "$T_PASS" >"$T_TMP/pw"
run env CAIRN_PASSWORD_FILE="$T_TMP/pw" CAIRN_PASSWORD=wrong "$CAIRN_BIN" -r "$REPO" snapshots
t_rc 0 "the password file wins over CAIRN_PASSWORD, its one trailing newline dropped"

[ "$(t_repo_state "$REPO")" = "$BEFORE" ]
t_ok $? "none of this wrote to the repository"
t_done
