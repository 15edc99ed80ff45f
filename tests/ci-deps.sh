#!/bin/bash
# Install everything the tests need (idempotent). Each area keeps its own script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
need=""
for p in clang llvm libclang-rt-14-dev python3 python3-botocore shellcheck cppcheck time groff-base zsh util-linux; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need
fi
for s in "$here"/tools/deps.sh "$here"/s3/deps.sh "$here"/kubeapi/deps.sh "$here"/fuse/deps.sh; do
	if [ -f "$s" ]; then
		bash "$s"
	fi
done
