#!/bin/sh
# scripts/apt-need.sh PACKAGE... -- installs those of the Debian packages that are not
# installed yet (one apt-get run, no prompt). Every deps script of the tree calls it, so
# a machine that has everything is never touched and apt runs at most once per script.
set -eu
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
