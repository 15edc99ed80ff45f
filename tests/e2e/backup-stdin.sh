#!/bin/bash
# `cairn backup --stdin` and `--stdin-from-command`: a stream is stored as one file that
# restores byte for byte, a repeated dump adds almost nothing, a producer that fails or
# is killed midway leaves no snapshot (exit 1), a read error too, Ctrl-C stops the
# command, and a 1 GiB stream is backed up with a small, flat peak RSS.
. "$(dirname "$0")/lib.sh"
t_need

RSS_MAX_KIB=$((100 * 1024))

t_init_repo "$T_TMP/repo"
nsnaps() { cairn --json snapshots | jq length; }

# 50 MiB of mixed data: random, zeros, text, random again.
src=$T_TMP/mixed.bin
{
	head -c 20M /dev/urandom
	head -c 10M /dev/zero
	yes 'a line of a text dump, repeated' | head -c 10M
	head -c 10M /dev/urandom
} >"$src"

run cairn --json backup --stdin --stdin-filename mixed.bin <"$src"
t_rc 0 "50 MiB from stdin"
first=$(jget "$OUT" .snapshot_id)
run cairn --json snapshots
s=1
[ "$(jq -r '.[-1].paths | join(",")' "$OUT")" = /mixed.bin ] && s=0
t_ok $s "the snapshot's path is /mixed.bin" || t_diag "$OUT"
run cairn restore latest --target "$T_TMP/out1"
t_rc 0 "restore"
s=1
cmp "$src" "$T_TMP/out1/mixed.bin" && s=0
t_ok $s "restored file equals the stream"
s=1
[ "$(stat -c %a "$T_TMP/out1/mixed.bin")" = 644 ] && s=0
t_ok $s "mode 0644"

# The same dump again: every chunk is known.
run cairn --json backup --stdin --stdin-filename mixed.bin <"$src"
t_rc 0 "the same 50 MiB again"
added=$(jget "$OUT" .data_added)
s=1
[ "$added" -lt 65536 ] && [ "$(jget "$OUT" .files_unmodified)" = 1 ] && s=0
t_ok $s "a repeated dump adds $added bytes (under 64 KiB), the file is unmodified"
s=1
[ "$(jget "$OUT" .parent)" = "$first" ] && s=0
t_ok $s "its parent is the first dump"

# Shifted by a small header: content-defined cuts resync, most chunks are reused.
{ printf 'header of the new dump\n'; cat "$src"; } >"$T_TMP/shifted.bin"
run cairn --json backup --stdin --stdin-filename mixed.bin <"$T_TMP/shifted.bin"
added=$(jget "$OUT" .data_added)
s=1
[ "$RC" = 0 ] && [ "$added" -lt $((10 * 1024 * 1024)) ] && s=0
t_ok $s "a dump shifted by a header adds $added bytes (under 10 of 50 MiB)"

# A command's output, stored when it exits 0.
run cairn backup --stdin-filename cmd.bin --stdin-from-command -- cat "$src"
t_rc 0 "--stdin-from-command cat"
run cairn restore latest --target "$T_TMP/out2"
s=1
cmp "$src" "$T_TMP/out2/cmd.bin" && s=0
t_ok $s "its output restores byte for byte"

# Producers that fail midway: no snapshot, exit 1, the status in the message.
before=$(nsnaps)
run cairn backup --stdin-filename db.dump --stdin-from-command -- \
	sh -c '( head -c 10M /dev/urandom; exit 1 )'
t_rc 1 "a command that fails after 10 MiB: exit 1"
s=1
grep -q 'exited with status 1 after 10485760 bytes: no snapshot written' "$ERR" && s=0
t_ok $s "the message names the status and the bytes read" || t_diag "$ERR"
run cairn --json backup --stdin-filename db.dump --stdin-from-command -- \
	sh -c 'head -c 3M /dev/zero; kill -9 $$'
t_rc 1 "a command killed by SIGKILL: exit 1"
s=1
[ "$(jq -r .exit_code "$ERR")" = 1 ] && grep -q 'status 137' "$ERR" && s=0
t_ok $s "JSON error with exit_code 1 and status 137" || t_diag "$ERR"
run cairn backup --stdin-filename db.dump --stdin-from-command -- "$T_TMP/no-such-program"
s=1
[ "$RC" -ne 0 ] && t_no_crash && s=0
t_ok $s "a command that cannot run fails (exit $RC)" || t_diag "$ERR"
run cairn backup --stdin --stdin-filename db.dump <"$T_TMP"
t_rc 1 "a read error on stdin (a folder): exit 1"
s=1
[ "$(nsnaps)" = "$before" ] && s=0
t_ok $s "none of them wrote a snapshot"

# Ctrl-C while the command is still producing: exit 130, the command is stopped.
cairn_bg backup --stdin-filename slow --stdin-from-command -- \
	sh -c 'head -c 1M /dev/zero; exec sleep 600'
child=
for _ in $(seq 600); do
	child=$(pgrep -P "$BG" sleep) && break
	sleep 0.1
done
if [ -n "$child" ]; then
	kill -INT "$BG"
	wait "$BG"
	RC=$?
	ERR=$T_TMP/bg.err
	t_rc 130 "SIGINT during the stream: exit 130"
	s=0
	kill -0 "$child" 2>/dev/null && s=1 && kill "$child"
	t_ok $s "the command was stopped"
else
	kill "$BG"
	t_ok 1 "the command started under cairn"
fi
s=1
[ "$(nsnaps)" = "$before" ] && s=0
t_ok $s "no snapshot after the cancel"

# Usage errors.
run cairn backup --stdin "$T_TMP" </dev/null
t_rc 2 "--stdin with a path"
run cairn backup --stdin --stdin-filename a/b </dev/null
t_rc 2 "a name with a slash"
run cairn backup --stdin-from-command
t_rc 2 "--stdin-from-command without a command"

# Memory: a 1 GiB stream of random (incompressible) bytes. ASan's shadow memory and
# quarantine make RSS meaningless in sanitizer builds: there the run is checked, not its
# peak.
if readelf -sW "$CAIRN_BIN" | grep -q '__asan_init'; then
	RSS_MAX_KIB=
fi
head -c 1G /dev/urandom |
	/usr/bin/time -f %M -o "$T_TMP/rss" \
		env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" --json backup --stdin \
		--stdin-filename big >"$T_TMP/big.out" 2>"$T_TMP/big.err"
RC=$?
ERR=$T_TMP/big.err
t_rc 0 "1 GiB from stdin"
rss=$(tail -n 1 "$T_TMP/rss")
echo "# peak RSS of a 1 GiB stdin backup: $rss KiB"
if [ -n "$RSS_MAX_KIB" ]; then
	s=1
	[ "$rss" -lt "$RSS_MAX_KIB" ] && s=0
	t_ok $s "peak RSS $rss KiB under $RSS_MAX_KIB KiB"
else
	t_skip "peak RSS under 100 MiB" "sanitizer build"
fi
s=1
[ "$(jget "$T_TMP/big.out" .total_bytes_processed)" = 1073741824 ] && s=0
t_ok $s "all 1 GiB stored"

t_done
