#!/bin/sh
# swift.sh start DIR PORT [tls] | swift.sh stop DIR
# A single-node OpenStack Swift with the s3api middleware and tempauth on 127.0.0.1:
# proxy on PORT (HTTPS with a fresh self-signed CA in DIR/etc/cert.pem when "tls"),
# container PORT+1, account PORT+2, object PORT+3. S3 credentials: access key
# "test:tester", secret "testing"; region us-east-1. All state lives under DIR.
set -e
cmd=${1:?start or stop}; D=${2:?state directory}

if [ "$cmd" = stop ]; then
	pids=
	for f in "$D"/run/*.pid; do
		[ -f "$f" ] || continue
		pids="$pids $(cat "$f")"
		rm -f "$f"
	done
	# shellcheck disable=SC2086 # one pid per word
	[ -n "$pids" ] && kill $pids 2>/dev/null
	# Wait (up to 10 s) until they are gone, so the suite's check for processes left
	# behind does not find one still on its way out.
	for _ in $(seq 100); do
		alive=
		for p in $pids; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	exit 0
fi

P=${3:?proxy port}; TLS=${4:-}
CP=$((P + 1)); AP=$((P + 2)); OP=$((P + 3))
U=$(id -un)
rm -rf "$D"
mkdir -p "$D/etc" "$D/srv/d1" "$D/run"
printf '[swift-hash]\nswift_hash_path_prefix = cairn\nswift_hash_path_suffix = tests\n[storage-policy:0]\nname = gold\ndefault = yes\n' \
	>"$D/etc/swift.conf"

server_conf() { # name port
	cat >"$D/etc/$1-server.conf" <<EOC
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $U
swift_dir = $D/etc
devices = $D/srv
mount_check = false
log_name = $1
log_level = WARNING
[pipeline:main]
pipeline = $1-server
[app:$1-server]
use = egg:swift#$1
EOC
	(cd "$D/etc" &&
		swift-ring-builder "$1.builder" create 4 1 1 >/dev/null &&
		swift-ring-builder "$1.builder" add "r1z1-127.0.0.1:$2/d1" 1 >/dev/null &&
		{ swift-ring-builder "$1.builder" rebalance >/dev/null 2>&1 || true; })
}
server_conf account "$AP"
server_conf container "$CP"
server_conf object "$OP"

scheme=http; tlsconf=""
if [ "$TLS" = tls ]; then
	scheme=https
	openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$D/etc/key.pem" -out "$D/etc/cert.pem" 2>/dev/null
	tlsconf="cert_file = $D/etc/cert.pem
key_file = $D/etc/key.pem"
fi
# tempauth caches tokens in memcached on PORT+4 (it still works without one, slower
# and with error noise in the proxy log).
if command -v memcached >/dev/null 2>&1; then
	memcached -l 127.0.0.1 -p $((P + 4)) -U 0 -m 16 -u "$U" >"$D/run/memcached.log" 2>&1 &
	echo $! >"$D/run/memcached.pid"
fi
cat >"$D/etc/proxy-server.conf" <<EOC
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $P
$tlsconf
workers = 0
user = $U
swift_dir = $D/etc
log_name = proxy
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$((P + 4))
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOC
# Test data needs no durability: without fsync (eatmydata) Swift is many times faster.
nosync=""
command -v eatmydata >/dev/null 2>&1 && nosync=eatmydata
for s in account container object proxy; do
	$nosync "swift-$s-server" "$D/etc/$s-server.conf" >"$D/run/$s.log" 2>&1 &
	echo $! >"$D/run/$s.pid"
done
for port in $AP $CP $OP $P; do
	url=http://127.0.0.1:$port/
	[ "$port" = "$P" ] && url=$scheme://127.0.0.1:$port/
	i=0
	until curl -sk -o /dev/null "$url"; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "swift on port $port did not start; see $D/run/*.log" >&2
			exit 1
		fi
		sleep 0.1
	done
done
