#!/bin/bash
# The cairn CLI end to end on S3: init, backup, snapshots, restore (compared with
# diff -r and cmp), check --read-data, on Swift+s3api, on s3rver, and on s3rver behind
# the fault-injecting proxy; then three concurrent backups into one bucket. The servers
# come from tests/s3/deps.sh (set-up step).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
S=$TOP_SRCDIR/tests/s3
C=$CAIRN_BIN
W=$T_TMP
export CAIRN_PASSWORD=s3-roundtrip-password

t_require "Swift (swift-proxy-server)" tests/s3/deps.sh command -v swift-proxy-server
t_require s3rver tests/s3/deps.sh test -x "$S/node_modules/.bin/s3rver"
[ -x "$C" ] || t_bail "cairn binary missing at $C"

BASE=${CAIRN_S3_PORT_BASE:-$(t_ports 30)}
SW=$BASE; S3R=$((BASE + 20)); FP=$((BASE + 25))
fpid=""
t_on_exit sh "$S/swift.sh" stop "$W/swift"
t_on_exit sh "$S/s3rver.sh" stop "$W/s3rver"
stop_proxy() { [ -z "$fpid" ] || kill "$fpid"; }
t_on_exit stop_proxy

mktree() { # DIR SEED: a few MiB of random and compressible files, nested folders
	mkdir -p "$1/a/b" "$1/c"
	head -c $((3 * 1024 * 1024 + $2)) /dev/urandom >"$1/a/big.bin"
	seq "$2" $(($2 + 20000)) >"$1/a/b/numbers.txt"
	printf 'seed %s\n' "$2" >"$1/c/small"
	: >"$1/c/empty"
	ln -s ../a/big.bin "$1/c/link"
}

same_tree() { # SRC RESTORED
	diff -r "$1" "$2" >/dev/null 2>&1 && cmp -s "$1/a/big.bin" "$2/a/big.bin"
}

# t_out DESC PATTERN: the last run's output (stdout and stderr) matches PATTERN.
t_out() {
	cat "$OUT" "$ERR" | grep -q -- "$2"
	t_ok $? "$1" || { t_diag "$ERR"; t_diag "$OUT" 5; }
}

roundtrip() { # LABEL URL [options...]
	local label=$1 url=$2
	shift 2
	rm -rf "$W/out"
	t_cmd "$label: init" "$C" -r "$url" "$@" init
	t_cmd "$label: backup" "$C" -r "$url" "$@" backup "$W/src"
	[ "$(grep -c 'plain HTTP: requests and object names travel unencrypted' "$ERR")" -eq 1 ]
	t_ok $? "$label: plain HTTP shown once" || t_diag "$ERR"
	run "$C" -r "$url" "$@" snapshots
	t_out "$label: snapshots lists it" '1 snapshot'
	t_cmd "$label: restore" "$C" -r "$url" "$@" restore latest --target "$W/out"
	same_tree "$W/src" "$W/out/src"
	t_ok $? "$label: restored tree identical (diff -r, cmp)"
	t_cmd "$label: check --read-data" "$C" -r "$url" "$@" check --read-data
	run "$C" -r "$url" "$@" init
	[ "$RC" -ne 0 ] && grep -q 'already exists' "$ERR"
	t_ok $? "$label: init again refused" || t_diag "$ERR"
}

mktree "$W/src" 1

sh "$S/swift.sh" start "$W/swift" "$SW" >"$W/swift.log" 2>&1
t_cmd "Swift up" curl -s -o /dev/null "http://127.0.0.1:$SW/"
AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
roundtrip swift "s3:http://127.0.0.1:$SW/cairn-rt/repo"
run env AWS_SECRET_ACCESS_KEY=wrong "$C" -r "s3:http://127.0.0.1:$SW/cairn-rt/repo" snapshots
grep -q 'signature rejected' "$ERR" && ! grep -q wrong "$OUT" "$ERR"
t_ok $? "swift: wrong secret gives the clear error" || t_diag "$ERR"
sh "$S/swift.sh" stop "$W/swift"

sh "$S/s3rver.sh" start "$W/s3rver" "$S3R" >"$W/s3rver.log" 2>&1
t_cmd "s3rver up" curl -s -o /dev/null "http://127.0.0.1:$S3R/"
AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
roundtrip s3rver "s3:http://127.0.0.1:$S3R/cairn-rt/repo"

/usr/bin/python3 "$S/faultproxy.py" "$FP" "$S3R" 0.2 5 2>"$W/faults.log" &
fpid=$!
t_wait 60 t_listening "$FP"
t_ok $? "fault proxy listening on $FP" || t_diag "$W/faults.log"
roundtrip faulty-proxy "s3:http://127.0.0.1:$FP/cairn-faults/repo" \
	-o s3.retries=10 -o s3.retry-base-ms=20 -o s3.stall-timeout=2
nf=$(wc -l <"$W/faults.log")
[ "$nf" -gt 5 ]
t_ok $? "faults were injected ($nf)"

# Three processes back up three trees into one repository at once: nothing is lost.
url="s3:http://127.0.0.1:$S3R/cairn-rt/concurrent"
t_cmd "concurrent: init" "$C" -r "$url" init
for i in 1 2 3; do mktree "$W/c$i" $((i * 1000)); done
pids=""
for i in 1 2 3; do
	"$C" -r "$url" backup "$W/c$i" >"$W/c$i.log" 2>&1 &
	pids="$pids $!"
done
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
[ "$fails" -eq 0 ]
t_ok $? "concurrent: three backups succeeded" || for i in 1 2 3; do t_diag "$W/c$i.log" 5; done
run "$C" -r "$url" snapshots
t_out "concurrent: three snapshots" '3 snapshots'
cp "$OUT" "$W/list"
for i in 1 2 3; do
	rm -rf "$W/o$i"
	id=$(awk -v p="$W/c$i" '$NF == p {print $1}' "$W/list")
	if [ -n "$id" ]; then
		t_cmd "concurrent: restore tree $i" "$C" -r "$url" restore "$id" --target "$W/o$i"
	else
		t_fail "concurrent: restore tree $i (no snapshot of $W/c$i)"
	fi
	same_tree "$W/c$i" "$W/o$i/c$i"
	t_ok $? "concurrent: tree $i identical"
done
t_cmd "concurrent: check --read-data" "$C" -r "$url" check --read-data
t_done
