#!/bin/sh
# Installs what bench/compare.sh needs on Debian 12: restic to compare with, GNU time for
# peak RSS, gcc for the shared data generator. Idempotent.
set -eu
missing=""
for p in restic time gcc coreutils; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
