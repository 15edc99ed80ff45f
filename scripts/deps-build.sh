#!/bin/sh
# Install what building cairn needs on Debian 12 (idempotent; run as root).
set -eu
PKGS="build-essential autoconf automake autoconf-archive pkg-config libsodium-dev libzstd-dev
libxxhash-dev libcurl4-openssl-dev libssl-dev libjansson-dev libfuse3-dev fuse3 libyaml-dev libexpat1-dev
libmicrohttpd-dev libwslay-dev libinih-dev libacl1-dev libattr1-dev acl attr ca-certificates python3"
# shellcheck disable=SC2086
sh "$(dirname "$0")/apt-need.sh" $PKGS
