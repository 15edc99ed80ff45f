#!/bin/sh
# Start the API-server double in the background for a test.
#   tests/kubeapi/start.sh DIR [extra kubeapi.py arguments...]
# Picks a free port, writes DIR/kubeconfig (server, bearer token, current
# context, namespace cairn), DIR/token, DIR/port, DIR/pid and DIR/kubeapi.log,
# waits until the server is listening and prints the port.
# It serves https with a fresh self-signed certificate (DIR/ca.crt, also in the
# kubeconfig), because kubectl sends a kubeconfig's token only over TLS.
# KUBEAPI_TLS=0 serves plain http instead (the token is still required; curl
# and libcurl send it, kubectl does not). DIR/url holds the server URL.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: start.sh DIR [kubeapi.py args...]}
shift
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
printf '%s\n' "$token" >"$dir/token"
chmod 600 "$dir/token"

set -- --port 0 --token "$token" "$@"
scheme=http
if [ "${KUBEAPI_TLS:-1}" != 0 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 7 -subj /CN=kubeapi -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
		-keyout "$dir/tls.key" -out "$dir/ca.crt" >/dev/null 2>&1
	chmod 600 "$dir/tls.key"
	set -- "$@" --tls-cert "$dir/ca.crt" --tls-key "$dir/tls.key"
	scheme=https
fi

rm -f "$dir/ready"
python3 "$here/kubeapi.py" "$@" >"$dir/ready" 2>"$dir/kubeapi.log" &
pid=$!
printf '%s\n' "$pid" >"$dir/pid"

i=0
while ! grep -q '^kubeapi ready on ' "$dir/ready" 2>/dev/null; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "start.sh: kubeapi exited; log follows" >&2
		cat "$dir/kubeapi.log" >&2
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then
		echo "start.sh: kubeapi not ready after 20 s" >&2
		kill "$pid" 2>/dev/null || true
		exit 1
	fi
	sleep 0.1
done
port=$(sed -n 's/^kubeapi ready on .*:\([0-9]*\)$/\1/p' "$dir/ready")
printf '%s\n' "$port" >"$dir/port"
printf '%s://127.0.0.1:%s\n' "$scheme" "$port" >"$dir/url"

{
	echo "apiVersion: v1"
	echo "kind: Config"
	echo "clusters:"
	echo "- name: kubeapi"
	echo "  cluster:"
	echo "    server: $scheme://127.0.0.1:$port"
	if [ "$scheme" = https ]; then
		echo "    certificate-authority-data: $(base64 -w0 "$dir/ca.crt")"
	fi
	echo "users:"
	echo "- name: kubeapi"
	echo "  user:"
	echo "    token: $token"
	echo "contexts:"
	echo "- name: kubeapi"
	echo "  context:"
	echo "    cluster: kubeapi"
	echo "    user: kubeapi"
	echo "    namespace: cairn"
	echo "current-context: kubeapi"
} >"$dir/kubeconfig"
chmod 600 "$dir/kubeconfig"
echo "$port"
