#!/bin/sh
# Install what building cairn needs on Debian 12 (idempotent; run as root).
set -eu
PKGS="build-essential autoconf automake autoconf-archive pkg-config libsodium-dev libzstd-dev
libxxhash-dev libcurl4-openssl-dev libssl-dev libjansson-dev libfuse3-dev fuse3 libyaml-dev libexpat1-dev
libmicrohttpd-dev libwslay-dev libinih-dev libacl1-dev libattr1-dev acl attr ca-certificates python3"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
