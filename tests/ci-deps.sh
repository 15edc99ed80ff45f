#!/bin/bash
# Install everything the tests need (idempotent). Each area keeps its own script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
sh "$here/../scripts/apt-need.sh" clang llvm libclang-rt-14-dev python3 python3-botocore shellcheck \
	cppcheck time groff-base zsh util-linux
for s in "$here"/tools/deps.sh "$here"/s3/deps.sh "$here"/kubeapi/deps.sh "$here"/fuse/deps.sh; do
	if [ -f "$s" ]; then
		bash "$s"
	fi
done
