#!/bin/sh
# The main job on an embedded default: a local repository in a folder. Installs the build
# dependencies, builds cairn, backs up a real tree with real metadata, lists, restores
# into a new folder and checks that the restore is identical.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps-build.sh"
sh "$top/scripts/build.sh" "$top/build"
(cd "$top/build" && make -j"$(nproc)" tests/tools/treecmp tests/tools/mktree >/dev/null)
cairn=$top/build/cairn
work=${CAIRN_DEMO_DIR:-/tmp/cairn-demo}
rm -rf "$work"
mkdir -p "$work"
# A real tree: the system's documentation plus generated odd files (holes, hardlinks,
# devices, xattrs, ACLs, odd names, nanosecond times).
mkdir -p "$work/data"
cp -a /usr/share/doc "$work/data/doc"
"$top/build/tests/tools/mktree" "$work/data/kinds" >/dev/null
printf 'demo-password\n' >"$work/password"
chmod 600 "$work/password"
export CAIRN_REPOSITORY="$work/repo" CAIRN_PASSWORD_FILE="$work/password"
set -x
"$cairn" init
"$cairn" backup "$work/data" --tag demo
"$cairn" backup "$work/data" --tag demo
"$cairn" snapshots
"$cairn" ls latest /data/kinds | head -n 20
"$cairn" restore latest --target "$work/restore" --verify
"$cairn" check --read-data
"$top/build/tests/tools/treecmp" "$work/data" "$work/restore/data"
set +x
echo "demo OK: restored tree is identical (content and metadata)"
