#!/bin/bash
# cairn restore-wait: exits only after every volume under --root has its done-file
# (VOLUME/.velero/RESTORE_UID), removes the marker folders without following symlinks,
# names what it still waits for, honours --timeout and SIGTERM.
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
root=$T_TMP/restores
uid=0b7a3f7e-1111-4222-8333-944455556666
mkdir -p "$root/data" "$root/logs" "$root/cache"
echo payload >"$root/data/file"

# deadline_wait PID SECONDS: 0 when PID ended within SECONDS
ended_within() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

"$CAIRN_BIN" restore-wait --root "$root" --log-interval 1 "$uid" >"$T_TMP/out" 2>"$T_TMP/err" &
pid=$!
mkdir -p "$root/data/.velero" "$root/logs/.velero"
touch "$root/data/.velero/$uid" "$root/logs/.velero/$uid"
# two of three done: it must still be waiting, and say for which
# (an earlier line may still say 3 of 3, written before the done-files: wait for the
# line that counts them, every second, up to 60 s on a busy machine)
for _ in $(seq 600); do grep -q "waiting for 1 of 3 volumes: cache" "$T_TMP/err" && break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null
t_ok $? "still waiting while one volume has no done-file"
grep -q "waiting for 1 of 3 volumes: cache" "$T_TMP/err"
t_ok $? "names the volume it waits for" || t_diag "$T_TMP/err"
# a done-file for another restore does not count
mkdir -p "$root/cache/.velero"
touch "$root/cache/.velero/some-other-restore"
sleep 1
kill -0 "$pid" 2>/dev/null
t_ok $? "another restore's done-file does not count"
# a symlink planted in the marker folder is removed, its target left alone
echo keep >"$T_TMP/victim"
ln -s "$T_TMP/victim" "$root/cache/.velero/link"
touch "$root/cache/.velero/$uid"
ended_within "$pid" 30
t_ok $? "exits once every volume is done"
wait "$pid"
t_ok $? "exit status 0"
[ ! -e "$root/data/.velero" ] && [ ! -e "$root/logs/.velero" ] && [ ! -e "$root/cache/.velero" ]
t_ok $? "marker folders removed"
[ "$(cat "$T_TMP/victim")" = keep ] && [ "$(cat "$root/data/file")" = payload ]
t_ok $? "a symlink's target and the volume's data are untouched"

run "$CAIRN_BIN" restore-wait --root "$root" --timeout 1 "$uid"
t_rc 17 "--timeout gives up with exit 17"
grep -q "not restored after" "$ERR"
t_ok $? "the timeout says how many volumes are missing"

"$CAIRN_BIN" restore-wait --root "$root" "$uid" >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -TERM "$pid"
ended_within "$pid" 5
t_ok $? "SIGTERM ends it within seconds"
wait "$pid"
[ $? -eq 130 ]
t_ok $? "and exits 130"

run "$CAIRN_BIN" restore-wait --root "$root" "../x"
t_rc 2 "a restore uid with a slash is refused" || true
mkdir -p "$T_TMP/empty"
run "$CAIRN_BIN" restore-wait --root "$T_TMP/empty" "$uid"
t_rc 0 "no volumes: nothing to wait for"
t_done
