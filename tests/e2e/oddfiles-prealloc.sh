#!/bin/bash
# Files preallocated with fallocate (databases do this for their data and WAL files): the
# unwritten extents own blocks but hold no data. They are backed up as holes, so a
# restore gets back the bytes without megabytes of written zeros, and a huge
# preallocation is not read and chunked as zeros.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need

t_init_repo "$T_TMP/repo"
VOL=$T_TMP/vol
mkdir -p "$VOL"
# 64 MiB preallocated, two bytes written at 4 KiB and a few at 40 MiB.
if ! fallocate -l 64M "$VOL/db" 2>/dev/null; then
	t_skip "preallocated file backed up as holes" "no fallocate on $VOL"
	t_done
fi
# Where SEEK_DATA sees unwritten extents as data (tmpfs), nothing can tell them apart.
if ! python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.lseek(fd, 0, os.SEEK_DATA)
    sys.exit(1)
except OSError:
    pass' "$VOL/db"; then
	t_skip "preallocated file backed up as holes" "SEEK_DATA reports unwritten extents as data here"
	t_done
fi
# The expected bytes are written to a sparse copy: reading the source before the backup
# would fill the page cache over its unwritten extents, which SEEK_DATA then reports as
# data (that case is below).
truncate -s 64M "$T_TMP/db.ref"
for f in "$VOL/db" "$T_TMP/db.ref"; do
	printf zz | dd of="$f" bs=1 seek=4096 conv=notrunc 2>/dev/null
	printf wal | dd of="$f" bs=1M seek=40 conv=notrunc 2>/dev/null
done
fallocate -l 16M "$VOL/empty-prealloc"

run cairn backup "$VOL"
t_rc 0 "backup of preallocated files"
run cairn restore latest --target "$T_TMP/r"
t_rc 0 "restore of preallocated files"
R=$(t_landed "$T_TMP/r" "$VOL")
cmp -s "$T_TMP/db.ref" "$R/db"
t_ok $? "the preallocated file restores with the same bytes"
# Before, the chunk holding the written bytes (all zeros around them, so a maximum-size
# chunk) came back as megabytes of written zeros.
b=$(stat -c %b "$R/db")
[ "$b" -lt 1024 ]
t_ok $? "its unwritten extents restore as holes, not written zeros ($b blocks)"
[ "$(stat -c %s "$R/empty-prealloc")" = 16777216 ] && [ "$(stat -c %b "$R/empty-prealloc")" -lt 64 ]
t_ok $? "a wholly preallocated file restores as its size in holes"

# The same file read whole before its backup (a database at work): the page cache now
# covers its unwritten extents, SEEK_DATA reports them as data, and the backup stores the
# zeros. The restore writes a blob's zero blocks as holes, so the file still comes back
# sparse; with --no-sparse every block is written.
cp --sparse=always "$VOL/db" "$VOL/db2"
fallocate -l 64M "$VOL/db2"
cat "$VOL/db2" >/dev/null
run cairn backup "$VOL"
t_rc 0 "backup of a preallocated file read before it"
run cairn restore latest --target "$T_TMP/r2"
t_rc 0 "its restore"
R2=$(t_landed "$T_TMP/r2" "$VOL")
b=$(stat -c %b "$R2/db2")
cmp -s "$T_TMP/db.ref" "$R2/db2" && [ "$b" -lt 1024 ]
t_ok $? "zeros stored inside blobs restore as holes, same bytes ($b blocks)"
run cairn restore latest --no-sparse --target "$T_TMP/r3"
t_rc 0 "restore with --no-sparse"
R3=$(t_landed "$T_TMP/r3" "$VOL")
b=$(stat -c %b "$R3/db2")
cmp -s "$T_TMP/db.ref" "$R3/db2" && [ "$b" -ge 131072 ]
t_ok $? "--no-sparse writes every block, zeros inside blobs too ($b blocks)"
run cairn check --read-data
t_rc 0 "the repository checks clean"
t_done
