#!/bin/sh
# Installs what the S3 tests need on a clean Debian 12: Swift with s3api (the
# signature-checking server), botocore (the reference signer), and s3rver from npm
# into tests/s3/node_modules. Idempotent: does nothing when everything is present.
set -e
here=$(cd "$(dirname "$0")" && pwd)

need_apt=""
for c in swift-proxy-server swift-object-server swift-container-server swift-account-server \
	swift-ring-builder eatmydata memcached; do
	command -v "$c" >/dev/null 2>&1 || need_apt=yes
done
/usr/bin/python3 -c 'import botocore' 2>/dev/null || need_apt=yes
node_pkgs=""
command -v npm >/dev/null 2>&1 || { need_apt=yes; node_pkgs="nodejs npm"; }
command -v openssl >/dev/null 2>&1 || need_apt=yes
if [ -n "$need_apt" ]; then
	# Keep the package scripts from starting system-wide Swift services.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y --no-install-recommends swift swift-proxy swift-object \
		swift-container swift-account python3-botocore eatmydata memcached openssl curl ${node_pkgs:+$node_pkgs}
fi

if [ ! -x "$here/node_modules/.bin/s3rver" ]; then
	cd "$here"
	[ -f package.json ] || printf '{"name":"cairn-s3-tests","private":true}\n' >package.json
	npm install s3rver@3.7.1 --no-audit --no-fund --no-save
fi
