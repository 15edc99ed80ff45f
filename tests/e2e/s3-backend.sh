#!/bin/bash
# Every S3 backend operation against real servers on 127.0.0.1: Swift+s3api over HTTP
# (signatures checked) and HTTPS with a custom CA, s3rver, and s3rver behind a
# fault-injecting proxy (500, SlowDown, resets, stalls). TAP; the servers are started
# here and stopped on exit. The servers come from tests/s3/deps.sh (set-up step).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
S=$TOP_SRCDIR/tests/s3
PROG=$TOP_BUILDDIR/tests/s3/test-s3-backend
W=$T_TMP

t_require "Swift (swift-proxy-server)" tests/s3/deps.sh command -v swift-proxy-server
t_require eatmydata tests/s3/deps.sh command -v eatmydata
t_require s3rver tests/s3/deps.sh test -x "$S/node_modules/.bin/s3rver"
t_require botocore tests/s3/deps.sh /usr/bin/python3 -c 'import botocore'

BASE=${CAIRN_S3_PORT_BASE:-$(t_ports 30)}
SW=$BASE; SWTLS=$((BASE + 10)); S3R=$((BASE + 20)); FP=$((BASE + 25))
fpid=""
t_on_exit sh "$S/swift.sh" stop "$W/swift"
t_on_exit sh "$S/swift.sh" stop "$W/swifttls"
t_on_exit sh "$S/s3rver.sh" stop "$W/s3rver"
stop_proxy() { [ -z "$fpid" ] || kill "$fpid"; }
t_on_exit stop_proxy

# relay LABEL ENV... -- ARGS: relays the program's TAP lines, renumbered, prefixed; then
# one more result for how it ended: exit 0 with its whole plan run. A crash (an ASan
# abort included) after some "ok" lines is a failure, not a shorter pass.
relay() {
	local label=$1 line plan="" seen=0 rc
	shift
	run env "$@"
	rc=$RC
	while IFS= read -r line; do
		case $line in
		"ok "*) seen=$((seen + 1)); t_pass "$label: ${line#ok * - }" ;;
		"not ok "*) seen=$((seen + 1)); t_fail "$label: ${line#not ok * - }" ;;
		"#"*) t_note "$label: ${line#\# }" ;;
		1..*) plan=${line#1..} ;;
		esac
	done <"$OUT"
	[ "$rc" -eq 0 ] && [ "$plan" = "$seen" ]
	t_ok $? "$label: exited 0 after its $seen tests" ||
		{ t_note "exit status $rc, plan '${plan:-none}', $seen results"; t_diag "$ERR" 15; }
}

[ -x "$PROG" ]
t_ok $? "backend test program built" || t_bail "$PROG missing"

sh "$S/swift.sh" start "$W/swift" "$SW" >"$W/swift.log" 2>&1
t_cmd "Swift s3api up on $SW" curl -s -o /dev/null "http://127.0.0.1:$SW/"
relay swift AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
	"EXPECT_CAUTION=plain HTTP: requests and object names travel unencrypted" \
	"$PROG" -x sigcheck "s3:http://127.0.0.1:$SW/cairn-e2e/repo"
# This machine's clock an hour behind: Swift answers RequestTimeTooSkewed with its Date,
# the client takes the server's clock and every operation succeeds.
relay swift-skew AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing EXPECT_CAUTION=plain \
	"$PROG" -x quick -o s3.clock-offset=-3600 "s3:http://127.0.0.1:$SW/cairn-skew/repo"
sh "$S/swift.sh" stop "$W/swift"

sh "$S/swift.sh" start "$W/swifttls" "$SWTLS" tls >"$W/swifttls.log" 2>&1
t_cmd "Swift over HTTPS up on $SWTLS" \
	curl -s --cacert "$W/swifttls/etc/cert.pem" -o /dev/null "https://127.0.0.1:$SWTLS/"
relay swift-https AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
	"$PROG" -x quick -o "s3.ca-file=$W/swifttls/etc/cert.pem" \
	"s3:https://127.0.0.1:$SWTLS/cairn-tls/repo"
# Without the CA the certificate must be refused, with a hint.
run env AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$PROG" -x quick \
	"s3:https://127.0.0.1:$SWTLS/cairn-tls/repo2"
cat "$OUT" "$ERR" | grep -q 's3.ca-file'
t_ok $? "unknown CA refused with a hint to s3.ca-file" || t_diag "$OUT"
# s3.insecure-tls must be spelled out; then the certificate is not checked and the
# store says so (the CLI and agent print its caution once at open).
run env AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$PROG" -x quick \
	-o s3.insecure-tls= "s3:https://127.0.0.1:$SWTLS/cairn-tls/repo3"
cat "$OUT" "$ERR" | grep -q "s3.insecure-tls: '' is not true/1/yes"
t_ok $? "empty s3.insecure-tls refused, not taken as on" || t_diag "$OUT"
relay swift-insecure AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
	"EXPECT_CAUTION=TLS certificate checks are off (s3.insecure-tls)" \
	"$PROG" -x quick -o s3.insecure-tls=true "s3:https://127.0.0.1:$SWTLS/cairn-tls/repo4"
sh "$S/swift.sh" stop "$W/swifttls"

sh "$S/s3rver.sh" start "$W/s3rver" "$S3R" >"$W/s3rver.log" 2>&1
t_cmd "s3rver up on $S3R" curl -s -o /dev/null "http://127.0.0.1:$S3R/"
relay s3rver AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain \
	"$PROG" "s3:http://127.0.0.1:$S3R/cairn-e2e/repo"

/usr/bin/python3 "$S/faultproxy.py" "$FP" "$S3R" 0.25 11 2>"$W/faults.log" &
fpid=$!
t_wait 60 t_listening "$FP"
t_ok $? "fault proxy listening on $FP" || t_diag "$W/faults.log"
relay faulty-proxy AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain \
	"$PROG" -o s3.retries=10 -o s3.retry-base-ms=20 -o s3.stall-timeout=2 \
	"s3:http://127.0.0.1:$FP/cairn-faults/repo"
relay faulty-proxy-big AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain \
	"$PROG" -x big -o s3.retries=10 -o s3.retry-base-ms=20 -o s3.stall-timeout=2 \
	"s3:http://127.0.0.1:$FP/cairn-faults/big"
for f in 500 503-slowdown reset-request reset-body stall; do
	c=$(grep -c "^fault $f\$" "$W/faults.log")
	[ "$c" -gt 0 ]
	t_ok $? "proxy injected '$f' ($c times)"
done
kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=""

# One fault on chosen requests: wrong ETags on lock PUTs, a 301 naming the region, a
# server clock an hour ahead.
fault_run() { # LABEL ENV... -- PROG ARGS...
	local label=$1 envs=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" /usr/bin/python3 "$S/faultproxy.py" "$FP" "$S3R" 1 7 \
		2>"$W/faults-$label.log" &
	fpid=$!
	t_wait 60 t_listening "$FP"
	relay "$label" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain "$@"
	kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=""
}
fault_run bad-etag FAULTS=bad-etag MATCH=/locks/ -- "$PROG" -x badetag -o s3.retries=3 \
	-o s3.retry-base-ms=10 -d "s3:http://127.0.0.1:$S3R/cairn-etag/repo" \
	"s3:http://127.0.0.1:$FP/cairn-etag/repo"
fault_run redirect FAULTS=redirect-301 MATCH=/cairn-redirect/ -- "$PROG" -x redirect \
	"s3:http://127.0.0.1:$FP/cairn-redirect/repo"
fault_run lost-complete FAULTS=reset-body MATCH='?uploadId=' -- "$PROG" -x lostcomplete \
	-o s3.retries=3 -o s3.retry-base-ms=10 "s3:http://127.0.0.1:$FP/cairn-lostcomplete/repo"
c=$(grep -c "^fault reset-body\$" "$W/faults-lost-complete.log")
[ "$c" -ge 1 ]
t_ok $? "proxy cut $c multipart complete replies"
fault_run skew SKEW=3600 FAULTS=none MATCH=nothing-matches -- "$PROG" -x quick \
	"s3:http://127.0.0.1:$FP/cairn-skew/repo"
c=$(grep -c "^fault skew\$" "$W/faults-skew.log")
[ "$c" -ge 1 ]
t_ok $? "proxy answered RequestTimeTooSkewed ($c times) and the client resynced"

# GET bodies cut after 320 KiB: the retry asks for the rest only (Range from the bytes
# received, If-Match the first ETag), also when the server ignores that Range and sends it
# all; a server that cuts every reply is given up on after a bounded number of GETs; an
# object changed between the tries is an error, not a mix of two objects.
CUTARGS=(-o s3.retries=3 -o s3.retry-base-ms=10)
fault_run cut-resume FAULTS=cut-body "MATCH=GET /cairn-cut/" LIMIT=2 -- "$PROG" -x cut-resume \
	"${CUTARGS[@]}" "s3:http://127.0.0.1:$FP/cairn-cut/resume"
c=$(grep -c '^fault range bytes=[1-9][0-9]*-[0-9]* if-match$' "$W/faults-cut-resume.log")
[ "$c" -eq 2 ]
t_ok $? "each of the 2 cut GETs went on with Range from the bytes received and If-Match ($c)"
fault_run cut-norange FAULTS=cut-body "MATCH=GET /cairn-cut/" LIMIT=2 DROP_RANGE=1 -- "$PROG" \
	-x cut-resume "${CUTARGS[@]}" "s3:http://127.0.0.1:$FP/cairn-cut/norange"
c=$(grep -c '^fault drop-range$' "$W/faults-cut-norange.log")
[ "$c" -eq 2 ]
t_ok $? "the proxy dropped the Range of both resumed GETs ($c): the client skipped what it had"
fault_run cut-loop FAULTS=cut-body "MATCH=GET /cairn-cut/" -- "$PROG" -x cut-loop \
	"${CUTARGS[@]}" "s3:http://127.0.0.1:$FP/cairn-cut/loop"
c=$(grep -c '^fault cut-body$' "$W/faults-cut-loop.log")
r=$(grep -c '^fault range .* if-match$' "$W/faults-cut-loop.log")
[ "$c" -ge 33 ] && [ "$c" -le 35 ] && [ "$r" -eq $((c - 1)) ]
t_ok $? "a server cutting every reply gets $c GETs (32 resumed free, then 3 tries), $r resumed"
fault_run cut-changed FAULTS=cut-body "MATCH=GET /cairn-cut/" LIMIT=1 CHANGE=1 \
	IF_MATCH=enforce -- "$PROG" -x cut-changed "${CUTARGS[@]}" \
	"s3:http://127.0.0.1:$FP/cairn-cut/changed"
grep -q '^fault precondition-failed$' "$W/faults-cut-changed.log"
t_ok $? "the object changed after the cut and the resumed GET got 412"
fault_run cut-changed-etag FAULTS=cut-body "MATCH=GET /cairn-cut/" LIMIT=1 CHANGE=1 -- \
	"$PROG" -x cut-changed "${CUTARGS[@]}" "s3:http://127.0.0.1:$FP/cairn-cut/etag"
grep -q '^fault change 200$' "$W/faults-cut-changed-etag.log"
t_ok $? "the object changed after the cut (a server ignoring If-Match sends the new ETag)"
t_done
