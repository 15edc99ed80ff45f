#!/bin/sh
# Installs what tests/tools (mktree, treecmp), the e2e suites (roundtrip, metadata,
# badinput, crash, treecmp) and bench/ need on a fresh Debian 12. Idempotent.
set -eu
sh "$(dirname "$0")/../../scripts/apt-need.sh" acl attr jq libacl1-dev python3 restic time \
	util-linux coreutils e2fsprogs
