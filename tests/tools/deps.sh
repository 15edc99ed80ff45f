#!/bin/sh
# Installs what tests/tools (mktree, treecmp), the e2e suites (roundtrip, metadata,
# badinput, crash, treecmp) and bench/ need on a fresh Debian 12. Idempotent.
set -eu
pkgs="acl attr jq libacl1-dev python3 restic time util-linux coreutils e2fsprogs"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
