#!/bin/bash
# The S3 client against a hostile or broken server (tests/s3/hostile.py on 127.0.0.1, a
# tiny S3 that turns hostile per request on demand): endless bodies, headers and
# interim replies, a slow-loris server, redirects to another host or another protocol,
# 503 storms, Content-Length lies, ranged GETs answered with the wrong bytes, listings
# that loop or name keys outside the prefix, XML entity attacks. Each must end (never a
# hang: every command runs under an outer `timeout 120`) with one error line and the
# documented exit code, and nothing may print a secret. TAP.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
P=${CAIRN_S3_HOSTILE_PORT:-$(t_ports 2)}
H=$T_TMP/hostile
mkdir -p "$H"
python3 "$TOP_SRCDIR/tests/s3/hostile.py" "$P" "$((P + 1))" "$H" >"$H/server.log" 2>&1 &
spid=$!
stop_server() { kill "$spid" 2>/dev/null; }
t_on_exit stop_server
t_wait 60 t_listening "$P" || t_bail "hostile.py did not start on $P"

SECRET='sEcReT-kEy-0123456789abcdefXYZ'
TOKEN='sEsSiOn-ToKeN-9876543210zyxwvu'
export AWS_ACCESS_KEY_ID=AKIDHOSTILE AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN
REPO="s3:http://127.0.0.1:$P/bkt/repo"
# Fast failures: 2 attempts 1 ms apart, a stall of 2 s is a stall.
FAST=(--option s3.retries=2 --option s3.retry-base-ms=1 --option s3.stall-timeout=2 --option s3.connect-timeout=5)

mode() { printf '%s\n' "$@" >"$H/mode"; }
# hostile DESC WANT_RC GREP CMD...: CMD (a cairn command) under the attack of $H/mode ends
# with WANT_RC, one error line matching GREP, and no hang.
hostile() {
	local desc=$1 want=$2 pat=$3 n
	shift 3
	run timeout -k 10 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "${FAST[@]}" "$@"
	t_rc "$want" "$desc: exit $want" || return 1
	n=$(grep -c '^cairn: ' "$ERR" | tr -d ' ')
	# The plain-HTTP warning is a line of its own; the failure is one more.
	n=$((n - $(grep -c 'plain HTTP' "$ERR")))
	grep -q "^cairn: .*$pat" "$ERR" && [ "$n" -eq 1 ]
	t_ok $? "$desc: one error line naming it ($pat)" || t_diag "$ERR" 5
	[ -z "${S3H_SHOW:-}" ] || grep -v "plain HTTP" "$ERR" | sed "s/^/# /"
}

mode ""
mkdir -p "$T_TMP/src"
head -c 300000 /dev/urandom >"$T_TMP/src/big"
echo small >"$T_TMP/src/small"
t_cmd "init on the (for now) honest server" cairn init
t_cmd "backup" cairn backup "$T_TMP/src"

# an error document that never ends: its head is kept and reading stops there.
mode "error-forever GET /bkt/repo/config"
hostile "endless 400 error body" 17 "HTTP 400" snapshots
mode "error-forever GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "endless 400 error body on a listing" 17 "list repo/snapshots/: HTTP 400" snapshots

# a 2xx whose body never ends, where none is expected (a lock PUT), and where one is
# (the config object is bounded by its format limit).
mode "ok-forever PUT /bkt/repo/locks/"
hostile "endless 200 body to a PUT" 17 "put .*locks/.*over 64 KiB" backup "$T_TMP/src"
mode "ok-forever GET /bkt/repo/config"
hostile "endless 200 body to a GET" 1 "get repo/config: reply larger than" snapshots

# headers and interim replies without end (libcurl's own limits end them).
mode "headers-forever GET /bkt/repo/config"
hostile "endless header lines" 17 "config" snapshots
mode "huge-header GET /bkt/repo/config"
hostile "an endless header line" 17 "config" snapshots
mode "continue-forever GET /bkt/repo/config"
hostile "endless 100 Continue replies" 17 "config" snapshots

# slow loris: below 1 KiB/s for s3.stall-timeout is a stall, retried, then an error.
mode "slowloris GET /bkt/repo/config"
hostile "slow-loris headers" 17 "failed after 2 attempts: Operation too slow" snapshots
mode "slow-body GET /bkt/repo/config"
hostile "slow-loris body" 17 "failed after 2 attempts: Operation too slow" snapshots
# a body trickling above 1 KiB/s: each attempt may last the stall grace plus its size at
# s3.min-rate (here twice the 2 s stall + 60000 bytes at 64 KiB/s), not the 7.5 s the
# server takes.
mode "trickle-body GET /bkt/repo/config"
hostile "a body trickling above 1 KiB/s" 17 "failed after 2 attempts: too slow: .*s3.min-rate" \
	--option s3.min-rate=65536 snapshots

# redirects are not followed, least of all to another host or protocol, and no
# request (no credentials) reaches the other host.
for r in other file ftp; do
	mode "redirect-$r GET /bkt/repo/config"
	hostile "307 to $r" 17 "HTTP 307 redirect, not followed" snapshots
done
s=0
[ ! -s "$H/other.log" ] || s=1
t_ok $s "no request reached the host redirected to" || t_diag "$H/other.log" 5

# a 503 SlowDown storm: bounded attempts, then one line naming it.
mode "slowdown"
: >"$H/requests.log"
hostile "503 SlowDown storm" 17 "stat repo/config failed after 3 attempts: HTTP 503" \
	--option s3.retries=3 snapshots
n=$(grep -c '^HEAD /bkt/repo/config' "$H/requests.log")
t_ok $([ "$n" -eq 3 ] && echo 0 || echo 1) "exactly 3 attempts for the storm (saw $n)"

# Content-Length larger than the body (then the connection closes): retried, failed.
mode "length-lie GET /bkt/repo/config"
hostile "Content-Length lie" 17 "config" snapshots

# A HEAD claiming an 8 EiB object (the config): only existence is read from it.
mode "head-huge HEAD /bkt/repo/config"
run timeout -k 10 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "${FAST[@]}" snapshots
t_rc 0 "a HEAD with Content-Length 2^63-1 breaks nothing"

# Ranged GETs answered wrongly. A server ignoring Range (a 200 with the whole object)
# or running past it still serves the range (the rest is not read); a 206 starting
# elsewhere is a protocol error, not corrupt data.
# restored_ok DESC OUT: a restore into OUT under the current mode succeeds, identical.
restored_ok() {
	t_cmd "$1" timeout -k 10 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" \
		restore latest --target "$2"
	t_same "restored tree identical" --no-atime $(t_owner_opt) "$T_TMP/src" \
		"$(t_landed "$2" "$T_TMP/src")"
}
mode "range-ignored GET /bkt/repo/data/"
restored_ok "restore from a server that ignores Range (200 with the whole pack)" "$T_TMP/out1"
mode "range-shifted GET /bkt/repo/data/"
hostile "206 starting elsewhere than asked" 17 \
	"asked for bytes from [0-9]* but the 206 reply's Content-Range is 'bytes [1-9]" \
	restore latest --target "$T_TMP/out4"
mode "range-long GET /bkt/repo/data/"
restored_ok "restore from a server whose 206 replies run 4 KiB past the range" "$T_TMP/out2"

# listings that loop, name keys outside the prefix, or attack the XML parser.
mode "list-cycle GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "listing cycling between two tokens" 17 "list repo/snapshots/: .*does not advance" \
	snapshots
mode "list-empty GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "listing of empty pages without end" 17 "pages in a row without a key" snapshots
mode "list-outside GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "listing naming a key outside the prefix" 17 "key outside that prefix" snapshots
mode "list-dotdot GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
run timeout -k 10 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "${FAST[@]}" --json snapshots
t_rc 0 "a listed key with ../ in it is not an object: the listing goes on"
n=$(jq -s 'map(select(type == "array")) | .[0] | length' "$OUT" 2>/dev/null)
t_ok $([ "${n:-0}" -eq 1 ] && echo 0 || echo 1) "one snapshot listed, the ../ key ignored (saw ${n:-none})" ||
	t_diag "$OUT" 5
mode "list-nul GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "a listed key with a NUL character" 17 "malformed ListObjectsV2" snapshots
mode "list-laughs GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "billion laughs" 17 "malformed ListObjectsV2" snapshots
mode "list-external GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "external entity" 17 "malformed ListObjectsV2" snapshots
mode "list-huge GET /bkt?list-type=2&prefix=repo%2Fsnapshots"
hostile "endless listing" 1 "list repo/snapshots/: reply larger than" snapshots

# A PUT acknowledged with an ETag that is not the MD5 sent: retried; then a HEAD finds
# the copy the server holds. Ours (only the ETag lied): the PUT is done. Other bytes (the
# server stored something else): an error, and that copy is deleted.
echo more >"$T_TMP/src/more"
mode "put-bad-etag PUT /bkt/repo/snapshots/"
run timeout -k 10 120 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "${FAST[@]}" \
	backup "$T_TMP/src"
t_rc 0 "a snapshot PUT acknowledged with a wrong ETag, stored right: the backup succeeds"
echo again >"$T_TMP/src/again"
mode "put-corrupt PUT /bkt/repo/snapshots/"
ls "$H/objects/bkt" >"$T_TMP/before"
hostile "a snapshot PUT stored with other bytes" 17 \
	"put repo/snapshots/.*ETag .* differs from the MD5 sent.*the copy left on the server was deleted" \
	backup "$T_TMP/src"
ls "$H/objects/bkt" | grep snapshots >"$T_TMP/after.snap"
grep snapshots "$T_TMP/before" | cmp -s - "$T_TMP/after.snap"
t_ok $? "no snapshot object left behind by the failed PUT"
mode ""
run env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" unlock
t_rc 0 "unlock after the failed backup"

# the same failure at debug verbosity.
mode "error-forever GET /bkt/repo/config"
hostile "endless 400 error body, -vv" 17 "HTTP 400" -vv snapshots

# a backup stalled on a server that stopped answering: the first Ctrl-C waits for the
# transfer in flight (here up to 600 s), a second one ends the process at once.
mode "slow-body GET /bkt/repo/config"
: >"$H/requests.log"
CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" --option s3.retries=2 \
	--option s3.stall-timeout=600 backup "$T_TMP/src" >"$T_TMP/out.sigint" 2>"$T_TMP/err.sigint" &
bg=$!
t_wait 60 grep -q "GET /bkt/repo/config" "$H/requests.log"
t_ok $? "the backup is stalled on its first GET"
kill -INT "$bg"
t_wait 60 grep -q "interrupt again" "$T_TMP/err.sigint"
t_ok $? "the first SIGINT says what it waits for and how to stop at once" || t_diag "$T_TMP/err.sigint" 3
kill -0 "$bg" 2>/dev/null
t_ok $? "the first SIGINT leaves the stalled transfer running"
kill -INT "$bg"
gone() { ! kill -0 "$bg" 2>/dev/null; }
t_wait 60 gone || kill -9 "$bg" 2>/dev/null
wait "$bg"
rc=$?
[ "$rc" = 130 ]
t_ok $? "a second SIGINT ends it at once, killed by the signal (status $rc; 137: it hung)"
mode ""
run env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" unlock --remove-all
t_rc 0 "unlock after the interrupted backup"
run env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" check
t_rc 0 "the repository checks clean after it"

# no secret in any output of this suite: the secret key, the session token, the
# password, the Authorization header or a signature.
mode ""
s=0
for f in "$T_TMP"/out.* "$T_TMP"/err.*; do
	if grep -qaF -e "$SECRET" -e "$TOKEN" -e "$T_PASS" -e 'Signature=' -e 'AWS4-HMAC' \
		-e 'uthorization' "$f"; then
		s=1
		t_note "secret in $f"
	fi
done
t_ok $s "no secret, token, password or signature in any output"
t_done
