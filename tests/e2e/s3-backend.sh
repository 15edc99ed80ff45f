#!/bin/sh
# Every S3 backend operation against real servers on 127.0.0.1: Swift+s3api over HTTP
# (signatures checked) and HTTPS with a custom CA, s3rver, and s3rver behind a
# fault-injecting proxy (500, SlowDown, resets, stalls). TAP; the servers are started
# here and stopped on exit.
set -u
S=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/s3
B=${TOP_BUILDDIR:-.}
PROG=$B/tests/s3/test-s3-backend
W=$(mktemp -d /tmp/cairn-s3-e2e.XXXXXX)
BASE=${CAIRN_S3_PORT_BASE:-18430}
SW=$BASE; SWTLS=$((BASE + 10)); S3R=$((BASE + 20)); FP=$((BASE + 25))
n=0; fpid=""

cleanup() {
	sh "$S/swift.sh" stop "$W/swift" 2>/dev/null
	sh "$S/swift.sh" stop "$W/swifttls" 2>/dev/null
	sh "$S/s3rver.sh" stop "$W/s3rver" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

# run LABEL ENV... -- ARGS: relays the program's TAP lines, renumbered, prefixed.
run() {
	label=$1; shift
	out=$W/out.$n
	env "$@" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) n=$((n + 1)); echo "ok $n - $label: ${line#ok * - }" ;;
		"not ok "*) n=$((n + 1)); echo "not ok $n - $label: ${line#not ok * - }" ;;
		"#"*) echo "# $label: ${line#\# }" ;;
		esac
	done <"$out"
	# tap_done exits 0 or 1; anything else (usage, a crash) is a failure of its own
	if [ $rc -gt 1 ]; then n=$((n + 1)); echo "not ok $n - $label: exited with status $rc"; fi
}

check() { # ok/not ok for a shell condition
	n=$((n + 1))
	if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

if ! command -v swift-proxy-server >/dev/null 2>&1 || [ ! -x "$S/node_modules/.bin/s3rver" ] ||
	! command -v eatmydata >/dev/null 2>&1; then
	echo "# installing test dependencies (tests/s3/deps.sh)"
	sh "$S/deps.sh" >"$W/deps.log" 2>&1 || { cat "$W/deps.log"; echo "not ok 1 - tests/s3/deps.sh failed"; echo "1..1"; exit 1; }
fi
check "[ -x '$PROG' ]" "backend test program built"

sh "$S/swift.sh" start "$W/swift" "$SW" >"$W/swift.log" 2>&1
check "curl -s -o /dev/null http://127.0.0.1:$SW/" "Swift s3api up on $SW"
run swift AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
	"EXPECT_CAUTION=plain HTTP: requests and object names travel unencrypted" \
	"$PROG" -x sigcheck "s3:http://127.0.0.1:$SW/cairn-e2e/repo"
# This machine's clock an hour behind: Swift answers RequestTimeTooSkewed with its Date,
# the client takes the server's clock and every operation succeeds.
run swift-skew AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing EXPECT_CAUTION=plain \
	"$PROG" -x quick -o s3.clock-offset=-3600 "s3:http://127.0.0.1:$SW/cairn-skew/repo"
sh "$S/swift.sh" stop "$W/swift"

sh "$S/swift.sh" start "$W/swifttls" "$SWTLS" tls >"$W/swifttls.log" 2>&1
check "curl -s --cacert '$W/swifttls/etc/cert.pem' -o /dev/null https://127.0.0.1:$SWTLS/" \
	"Swift over HTTPS up on $SWTLS"
run swift-https AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
	"$PROG" -x quick -o "s3.ca-file=$W/swifttls/etc/cert.pem" \
	"s3:https://127.0.0.1:$SWTLS/cairn-tls/repo"
# Without the CA the certificate must be refused, with a hint.
out=$(env AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$PROG" -x quick \
	"s3:https://127.0.0.1:$SWTLS/cairn-tls/repo2" 2>&1)
check "echo \"\$out\" | grep -q 's3.ca-file'" "unknown CA refused with a hint to s3.ca-file"
# s3.insecure-tls must be spelled out; then the certificate is not checked and the
# store says so (the CLI and agent print its caution once at open).
out=$(env AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$PROG" -x quick \
	-o s3.insecure-tls= "s3:https://127.0.0.1:$SWTLS/cairn-tls/repo3" 2>&1)
check "echo \"\$out\" | grep -q \"s3.insecure-tls: '' is not true/1/yes\"" \
	"empty s3.insecure-tls refused, not taken as on"
run swift-insecure AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
	"EXPECT_CAUTION=TLS certificate checks are off (s3.insecure-tls)" \
	"$PROG" -x quick -o s3.insecure-tls=true "s3:https://127.0.0.1:$SWTLS/cairn-tls/repo4"
sh "$S/swift.sh" stop "$W/swifttls"

sh "$S/s3rver.sh" start "$W/s3rver" "$S3R" >"$W/s3rver.log" 2>&1
check "curl -s -o /dev/null http://127.0.0.1:$S3R/" "s3rver up on $S3R"
run s3rver AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain \
	"$PROG" "s3:http://127.0.0.1:$S3R/cairn-e2e/repo"

/usr/bin/python3 "$S/faultproxy.py" "$FP" "$S3R" 0.25 11 2>"$W/faults.log" &
fpid=$!
sleep 0.5
run faulty-proxy AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain \
	"$PROG" -o s3.retries=10 -o s3.retry-base-ms=20 -o s3.stall-timeout=2 \
	"s3:http://127.0.0.1:$FP/cairn-faults/repo"
run faulty-proxy-big AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain \
	"$PROG" -x big -o s3.retries=10 -o s3.retry-base-ms=20 -o s3.stall-timeout=2 \
	"s3:http://127.0.0.1:$FP/cairn-faults/big"
kill "$fpid"; fpid=""

# One fault on chosen requests: wrong ETags on lock PUTs, a 301 naming the region, a
# server clock an hour ahead.
fault_run() { # LABEL ENV... -- PROG ARGS...
	label=$1; shift
	envs=""
	while [ "$1" != -- ]; do envs="$envs $1"; shift; done
	shift
	# shellcheck disable=SC2086
	env $envs /usr/bin/python3 "$S/faultproxy.py" "$FP" "$S3R" 1 7 2>"$W/faults-$label.log" &
	fpid=$!
	sleep 0.5
	run "$label" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER EXPECT_CAUTION=plain "$@"
	kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=""
}
fault_run bad-etag FAULTS=bad-etag MATCH=/locks/ -- "$PROG" -x badetag -o s3.retries=3 \
	-o s3.retry-base-ms=10 -d "s3:http://127.0.0.1:$S3R/cairn-etag/repo" \
	"s3:http://127.0.0.1:$FP/cairn-etag/repo"
fault_run redirect FAULTS=redirect-301 MATCH=/cairn-redirect/ -- "$PROG" -x redirect \
	"s3:http://127.0.0.1:$FP/cairn-redirect/repo"
fault_run skew SKEW=3600 FAULTS=none MATCH=nothing-matches -- "$PROG" -x quick \
	"s3:http://127.0.0.1:$FP/cairn-skew/repo"
c=$(grep -c "^fault skew\$" "$W/faults-skew.log")
check "[ $c -ge 1 ]" "proxy answered RequestTimeTooSkewed ($c times) and the client resynced"

for f in 500 503-slowdown reset-request reset-body stall; do
	c=$(grep -c "^fault $f\$" "$W/faults.log")
	check "[ $c -gt 0 ]" "proxy injected '$f' ($c times)"
done
echo "1..$n"
