#!/bin/sh
# Installs what the FUSE mount suites (tests/e2e/fuse-*.sh) and bench/fuse.sh need on a
# fresh Debian 12: fusermount3, getfattr/setfattr, python3, restic for the comparison.
# Idempotent: installs only what is missing.
set -eu
sh "$(dirname "$0")/../../scripts/apt-need.sh" fuse3 attr python3 restic
