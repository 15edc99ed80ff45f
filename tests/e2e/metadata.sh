#!/bin/bash
# One assertion per metadata kind, checked directly on the restored files (stat, xattrs,
# readlink) against the untouched reference tree, so a failure names the kind that broke.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
cd "$T_TMP" || exit 1
"$MKTREE" src --seed 5 --files 8 --big-mib 2 2>/dev/null || t_bail "mktree failed"
"$MKTREE" ref --seed 5 --files 8 --big-mib 2 2>/dev/null || t_bail "mktree failed"
t_init_repo "$T_TMP/repo"
run cairn backup "$T_TMP/src"
t_rc 0 "backup of the tree with every kind" || t_bail "backup failed"
run cairn restore latest --keep-privileges --target "$T_TMP/out"
t_rc 0 "restore" || t_bail "restore failed"
R=$(t_landed "$T_TMP/out" "$T_TMP/src")

# st FIELD PATH: one lstat field (GNU stat: nanosecond times, raw octal mode).
st() {
	local v
	case $1 in
	mtime) stat -c '%.9Y' -- "$2" ;;
	atime) stat -c '%.9X' -- "$2" ;;
	mode) v=$(stat -c '%f' -- "$2") && printf '%o\n' "0x$v" ;;
	owner) stat -c '%u:%g' -- "$2" ;;
	size) stat -c '%s' -- "$2" ;;
	alloc) v=$(stat -c '%b*%B' -- "$2") && echo $((v)) ;;
	rdev) stat -c '%Hr:%Lr' -- "$2" ;;
	ino) stat -c '%i' -- "$2" ;;
	nlink) stat -c '%h' -- "$2" ;;
	esac 2>&1
}
# same FIELD REL DESC: the field of REL is equal in ref and in the restore.
same() {
	local a b
	a=$(st "$1" "ref/$2")
	b=$(st "$1" "$R/$2")
	[ -n "$a" ] && [ "$a" = "$b" ]
	t_ok $? "$3" || echo "#   $1 of $2: want $a, got $b"
}
# is FIELD REL WANT DESC: the field of REL in the restore has a known value.
is() {
	local b
	b=$(st "$1" "$R/$2")
	[ "$b" = "$3" ]
	t_ok $? "$4" || echo "#   $1 of $2: want $3, got $b"
}

# Times first: nothing has read the reference tree yet (reading moves atimes).
same mtime files/big-random "file mtime with nanoseconds"
same atime files/big-random "file atime with nanoseconds"
same mtime deep/a/b "directory mtime (set after its children were restored)"
same atime deep/a/b "directory atime"
same mtime . "mtime of the backed-up folder itself"
same mtime links/relative "symlink mtime (utimensat AT_SYMLINK_NOFOLLOW)"
same mtime modes/zero-dir "mtime of a 0000 directory"
same mtime modes/read-only-dir "mtime of a read-only directory with contents"
is mtime times/pre-epoch -1234567889.500000000 "a time before 1970"
is mtime times/year-2100 4102444800.123456789 "a time after 2038"
is mtime times/epoch 0.000000000 "time zero"
is mtime times/max-nsec 1600000000.999999999 "999999999 nanoseconds"
same mtime hard/two-a "mtime of a hardlinked file"
same mtime special/fifo "mtime of a FIFO"
same mtime sparse/islands-1g "mtime of a sparse file"

is size files/empty 0 "empty file"
cmp -s ref/files/one "$R/files/one"
t_ok $? "1-byte file content"
cmp -s ref/files/big-random "$R/files/big-random" && cmp -s ref/files/big-repeat "$R/files/big-repeat"
t_ok $? "multi-MiB random and repeated content"
same size files/text "text file size"
ok_var=0
for f in ref/files/var/*; do cmp -s "$f" "$R/files/var/${f##*/}" || ok_var=1; done
t_ok $ok_var "files of varied sizes and kinds"

is size sparse/islands-1g 1073741824 "sparse file keeps its apparent size"
cmp -s ref/sparse/islands-1g "$R/sparse/islands-1g"
t_ok $? "sparse file content (data islands at odd offsets)"
alloc=$(st alloc "$R/sparse/islands-1g")
[ "$alloc" -lt $((16 << 20)) ]
t_ok $? "sparse file restored with holes (allocates $alloc bytes of 1 GiB)"
alloc=$(st alloc "$R/sparse/hole-last")
[ "$(st size "$R/sparse/hole-last")" = $((64 << 20)) ] && [ "$alloc" -lt $((4 << 20)) ]
t_ok $? "trailing hole kept (allocates $alloc of 64 MiB)"
alloc=$(st alloc "$R/sparse/all-hole")
[ "$(st size "$R/sparse/all-hole")" = $((16 << 20)) ] && [ "$alloc" -lt $((1 << 20)) ]
t_ok $? "all-hole file kept as a hole (allocates $alloc of 16 MiB)"
cmp -s ref/sparse/hole-first "$R/sparse/hole-first" && [ "$(st alloc "$R/sparse/hole-first")" -lt $((4 << 20)) ]
t_ok $? "leading hole kept"
run cairn restore latest --target "$T_TMP/dense" --include hole-last --no-sparse
D=$(t_landed "$T_TMP/dense" "$T_TMP/src")
cmp -s ref/sparse/hole-last "$D/sparse/hole-last" &&
	[ "$(st alloc "$D/sparse/hole-last")" -ge $((64 << 20)) ]
t_ok $? "restore --no-sparse writes the holes as zeros (allocates $(st alloc "$D/sparse/hole-last") of 64 MiB)"
rm -rf "$T_TMP/dense"

leaf=$(cd ref && find deep -name leaf)
cmp -s "ref/$leaf" "$R/$leaf"
t_ok $? "a 64-level deep path"
long=$(cd ref && find long -type f)
cmp -s "ref/$long" "$R/$long"
t_ok $? "255-byte names in a ~2700-byte path"

rl() { readlink -- "$1" | od -An -c; }
for l in relative absolute dangling to-dir loop odd-target long-target; do
	[ -L "$R/links/$l" ] && [ "$(rl "ref/links/$l")" = "$(rl "$R/links/$l")" ]
	t_ok $? "symlink target: $l"
done

[ "$(st ino "$R/hard/two-a")" = "$(st ino "$R/hard/sub/two-b")" ] && is_n=$(st nlink "$R/hard/two-a") && [ "$is_n" = 2 ]
t_ok $? "hardlink pair across directories is one inode"
i=$(st ino "$R/hard/three-a")
[ "$i" = "$(st ino "$R/hard/sub/three-b")" ] && [ "$i" = "$(st ino "$R/files/three-c")" ] &&
	[ "$(st nlink "$R/hard/three-a")" = 3 ]
t_ok $? "three names of one inode stay one inode"

is mode special/fifo 10640 "FIFO (type and mode)"
if t_root; then
	is rdev special/chr-null 1:3 "char device 1:3"
	is mode special/chr-null 20666 "char device mode"
	is rdev special/chr-odd 240:70000 "char device with a 17-bit minor"
	is rdev special/blk 7:200 "block device 7:200"
	is mode special/blk 60660 "block device type and mode"
else
	t_skip "device nodes" "mknod needs root"
fi

is mode modes/setuid 104755 "setuid bit"
is mode modes/setgid 102711 "setgid bit"
is mode modes/setuid-setgid-sticky 107777 "setuid+setgid+sticky on a file"
is mode modes/zero 100000 "mode 0000 file"
is mode modes/write-only 100222 "write-only file"
is mode modes/sticky-dir 41777 "sticky directory"
is mode modes/setgid-dir 42775 "setgid directory"
is mode modes/zero-dir 40000 "mode 0000 directory"
is mode modes/read-only-dir 40555 "read-only directory"
cmp -s ref/modes/read-only-dir/sub/inside "$R/modes/read-only-dir/sub/inside"
t_ok $? "contents inside read-only directories"

if t_root; then
	is owner owners/u1234-g5678 1234:5678 "uid:gid 1234:5678"
	is owner owners/nobody 65534:65534 "uid:gid 65534"
	is owner owners/big-ids 3000000000:2000000000 "ids above 2^31"
	is owner owners/setuid-1234 1234:5678 "owner of a setuid file"
	is mode owners/setuid-1234 104755 "setuid survives chown (set after it)"
	is owner owners/link-8765 8765:8765 "symlink owner (lchown)"
	is owner owners/dir-4321 4321:4321 "directory owner"
else
	t_skip "owners" "chown needs root"
fi

xa() { getfattr -h -d -m - -e hex "$1" 2>/dev/null | grep -v '^# file'; }
for f in plain binary empty-value big-value many dir; do
	a=$(xa "ref/xattrs/$f")
	[ -n "$a" ] && [ "$a" = "$(xa "$R/xattrs/$f")" ]
	t_ok $? "xattrs: $f" || { echo "#   want: $a" | head -3; xa "$R/xattrs/$f" | head -3 | sed 's/^/#   got: /'; }
done
acl() { getfacl -cpn "$1" 2>/dev/null; }
for f in file dir dir/inherited dir/inherited-dir; do
	a=$(acl "ref/acl/$f")
	[ -n "$a" ] && [ "$a" = "$(acl "$R/acl/$f")" ]
	t_ok $? "POSIX ACL: acl/$f" || acl "$R/acl/$f" | sed 's/^/#   got: /'
done
[ -z "$(getfattr -h -m 'system.posix_acl' "$R/acl/dir/before" 2>/dev/null)" ]
t_ok $? "a file older than its directory's default ACL does not inherit it"

while IFS= read -r -d '' n; do
	cmp -s "$n" "$R/${n#ref/}"
	t_ok $? "name: $(printf '%q' "${n#ref/names/}")"
done < <(find ref/names -type f -print0 | sort -z)

OWN=$(t_owner_opt)
# shellcheck disable=SC2086
t_same "treecmp agrees (everything but atimes, which the checks above moved)" --no-atime $OWN ref "$R"

# Without --keep-privileges (the default): every node can write the repository, so the
# devices are named and not made (exit 3), the setuid/setgid bits of files are left off
# and counted, a folder's setgid bit and user.* xattrs come back.
run cairn --json restore latest --target "$T_TMP/plain"
P=$(t_landed "$T_TMP/plain" "$T_TMP/src")
if t_root; then
	t_rc 3 "a default restore names what it does not make (exit 3)"
	s=0
	[ "$(cat "$OUT" "$ERR" | grep -c 'not restored: a device node')" = 3 ] && [ ! -e "$P/special/blk" ] || s=1
	t_ok $s "the three device nodes are named and not made" || t_diag "$ERR"
else
	t_rc 0 "a default restore"
fi
s=0
[ "$(stat -c %a "$P/modes/setuid")" = 755 ] && [ "$(stat -c %a "$P/modes/setgid")" = 711 ] &&
	[ "$(stat -c %a "$P/modes/setgid-dir")" = 2775 ] &&
	[ "$(getfattr -h --only-values -n user.comment "$P/xattrs/plain" 2>/dev/null)" = "hello world" ] || s=1
t_ok $s "setuid/setgid bits of files left off; a folder's setgid and user.* xattrs kept"
n=$(jget "$OUT" .privileges_dropped)
t_ok $([ "${n:-0}" -ge 4 ] && echo 0 || echo 1) "--json counts them: privileges_dropped $n"
t_done
