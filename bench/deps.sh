#!/bin/sh
# Installs what bench/compare.sh needs on Debian 12: restic to compare with, GNU time for
# peak RSS, gcc for the shared data generator. Idempotent.
set -eu
sh "$(dirname "$0")/../scripts/apt-need.sh" restic time gcc coreutils
