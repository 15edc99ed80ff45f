#!/bin/bash
# Writes the golden repository (tests/golden/repo) and the outputs expected from it
# (tests/golden/expect/). Run ONLY when the repository format changes on purpose: the
# checked-in repository is what older cairn wrote, and tests/golden/golden.sh holds every
# later cairn to reading it byte for byte the same. Usage: make-fixture.sh CAIRN_BIN
set -eu
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src
mkdir -p "$src/docs/deep/er" "$src/empty-dir" "$src/bin"
printf 'hello, golden world\n' >"$src/docs/hello.txt"
printf '' >"$src/docs/empty"
printf 'na\xc3\xafve caf\xc3\xa9\n' >"$src/docs/unicode-é.txt"
# 3 MiB of deterministic bytes: several chunks
python3 -c 'import hashlib,sys
o=sys.stdout.buffer
for i in range(3*1024*1024//32): o.write(hashlib.sha256(b"golden%d"%i).digest())' >"$src/bin/random.bin"
# a sparse file: 1 MiB hole, 4 KiB data, 1 MiB hole
truncate -s 1M "$src/bin/sparse.img"
printf 'data in the middle' >>"$src/bin/sparse.img"
truncate -s 2M "$src/bin/sparse.img"
seq 1 20000 >"$src/docs/deep/er/numbers.txt"
ln -s ../docs/hello.txt "$src/bin/link-to-hello"
ln "$src/docs/hello.txt" "$src/docs/hardlink-to-hello"
mkfifo "$src/bin/fifo"
setfattr -n user.golden -v "xattr value" "$src/docs/hello.txt"
chmod 0640 "$src/docs/deep/er/numbers.txt"
chmod 0750 "$src/bin"
chown 1234:5678 "$src/docs/empty"
find "$src" -exec touch -h -d '2024-02-29 12:34:56.123456789 UTC' {} +
rm -rf "$here/repo" "$here/expect"
mkdir -p "$here/expect"
export CAIRN_PASSWORD='golden fixture password' CAIRN_KDF_FAST=1
"$bin" -r "$here/repo" init >/dev/null
(cd "$tmp" && "$bin" -r "$here/repo" backup --host golden --tag fixture=1 src >/dev/null)
find "$here/repo" -type d -empty -delete  # git keeps no empty folders: the reader must cope
echo "wrote $here/repo; now run tests/golden/golden.sh --update to record its outputs"
