#!/bin/sh
# The cairn CLI end to end on S3: init, backup, snapshots, restore (compared with
# diff -r and cmp), check --read-data, on Swift+s3api, on s3rver, and on s3rver behind
# the fault-injecting proxy; then three concurrent backups into one bucket.
set -u
S=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/s3
C=${CAIRN_BIN:-cairn}
W=$(mktemp -d /tmp/cairn-s3-rt.XXXXXX)
BASE=${CAIRN_S3_PORT_BASE:-18530}
SW=$BASE; S3R=$((BASE + 20)); FP=$((BASE + 25))
n=0; fpid=""
export CAIRN_PASSWORD=s3-roundtrip-password

cleanup() {
	sh "$S/swift.sh" stop "$W/swift" 2>/dev/null
	sh "$S/s3rver.sh" stop "$W/s3rver" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

check() {
	n=$((n + 1))
	if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; [ -s "$W/log" ] && sed 's/^/# /' "$W/log" | tail -5; fi
}

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

roundtrip() { # LABEL URL [options...]
	label=$1; url=$2; shift 2
	rm -rf "$W/out"
	check "$C -r $url $* init >$W/log 2>&1" "$label: init"
	check "$C -r $url $* backup $W/src >$W/log 2>&1" "$label: backup"
	check "[ \$(grep -c 'plain HTTP: requests and object names travel unencrypted' $W/log) -eq 1 ]" \
		"$label: plain HTTP shown once"
	check "$C -r $url $* snapshots >$W/log 2>&1 && grep -q '1 snapshot' $W/log" "$label: snapshots lists it"
	check "$C -r $url $* restore latest --target $W/out >$W/log 2>&1" "$label: restore"
	check "same_tree $W/src $W/out/src" "$label: restored tree identical (diff -r, cmp)"
	check "$C -r $url $* check --read-data >$W/log 2>&1" "$label: check --read-data"
	check "! $C -r $url $* init >$W/log 2>&1 && grep -q 'already exists' $W/log" "$label: init again refused"
}

if ! command -v swift-proxy-server >/dev/null 2>&1 || [ ! -x "$S/node_modules/.bin/s3rver" ]; then
	sh "$S/deps.sh" >"$W/deps.log" 2>&1 || { echo "not ok 1 - tests/s3/deps.sh failed"; echo "1..1"; exit 1; }
fi
check "[ -x '$C' ] || command -v '$C' >/dev/null" "cairn binary present"
mktree "$W/src" 1

sh "$S/swift.sh" start "$W/swift" "$SW" >"$W/log" 2>&1
check "curl -s -o /dev/null http://127.0.0.1:$SW/" "Swift up"
AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
roundtrip swift "s3:http://127.0.0.1:$SW/cairn-rt/repo"
check "AWS_SECRET_ACCESS_KEY=wrong $C -r s3:http://127.0.0.1:$SW/cairn-rt/repo snapshots >$W/log 2>&1; grep -q 'signature rejected' $W/log && ! grep -q wrong $W/log" \
	"swift: wrong secret gives the clear error"
sh "$S/swift.sh" stop "$W/swift"

sh "$S/s3rver.sh" start "$W/s3rver" "$S3R" >"$W/log" 2>&1
check "curl -s -o /dev/null http://127.0.0.1:$S3R/" "s3rver up"
AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
roundtrip s3rver "s3:http://127.0.0.1:$S3R/cairn-rt/repo"

/usr/bin/python3 "$S/faultproxy.py" "$FP" "$S3R" 0.2 5 2>"$W/faults.log" &
fpid=$!
sleep 0.5
roundtrip faulty-proxy "s3:http://127.0.0.1:$FP/cairn-faults/repo" \
	-o s3.retries=10 -o s3.retry-base-ms=20 -o s3.stall-timeout=2
check "[ \$(wc -l <$W/faults.log) -gt 5 ]" "faults were injected ($(wc -l <"$W/faults.log"))"

# Three processes back up three trees into one repository at once: nothing is lost.
url="s3:http://127.0.0.1:$S3R/cairn-rt/concurrent"
check "$C -r $url init >$W/log 2>&1" "concurrent: init"
for i in 1 2 3; do mktree "$W/c$i" $((i * 1000)); done
pids=""
for i in 1 2 3; do
	$C -r "$url" backup "$W/c$i" >"$W/c$i.log" 2>&1 &
	pids="$pids $!"
done
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
check "[ $fails -eq 0 ]" "concurrent: three backups succeeded"
check "$C -r $url snapshots >$W/log 2>&1 && grep -q '3 snapshots' $W/log" "concurrent: three snapshots"
for i in 1 2 3; do
	rm -rf "$W/o$i"
	id=$($C -r "$url" snapshots | awk -v p="$W/c$i" '$NF == p {print $1}')
	check "[ -n '$id' ] && $C -r $url restore $id --target $W/o$i >$W/log 2>&1" \
		"concurrent: restore tree $i"
	check "same_tree $W/c$i $W/o$i/c$i" "concurrent: tree $i identical"
done
check "$C -r $url check --read-data >$W/log 2>&1" "concurrent: check --read-data"
echo "1..$n"
