#!/bin/sh
# Installs what the FUSE mount suites (tests/e2e/fuse-*.sh) and bench/fuse.sh need on a
# fresh Debian 12: fusermount3, getfattr/setfattr, python3, restic for the comparison.
# Idempotent: installs only what is missing.
set -eu
pkgs="fuse3 attr python3 restic"
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
