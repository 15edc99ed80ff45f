#!/bin/bash
# treecmp must see every kind of difference: a tree from mktree, copied with cp -a,
# compares equal; then one thing at a time is changed in a fresh copy and the report
# must name that path and that kind (and never say "equal").
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
if ! [ -x "$MKTREE" ] || ! [ -x "$TREECMP" ]; then
	t_bail "mktree/treecmp not built"
fi

cd "$T_TMP" || exit 1
run "$MKTREE" ref --seed 7 --files 12 --big-mib 3
t_rc 0 "mktree makes a tree"
run "$MKTREE" src --seed 7 --files 12 --big-mib 3
t_rc 0 "mktree makes it again"
t_same "the same seed gives an identical tree (names, bytes, modes, times, xattrs)" ref src
grep -q ': equal$' "$OUT"
t_ok $? "equal trees are reported as equal"
run "$MKTREE" other --seed 8 --files 12 --big-mib 3
run "$TREECMP" --no-atime ref other
[ "$RC" -eq 1 ] && grep -q 'files/big-random: content' "$OUT"
t_ok $? "another seed gives different contents"

cp -a src copy
# Every earlier treecmp read the symlinks of src and ref (readlink moves a link's atime,
# and nothing can stop it), so their atimes differ by however far apart those reads were.
t_same "cp -a copy equals the reference (atimes aside: readlink moved them)" --no-atime ref copy
"$TREECMP" --no-atime src copy >/dev/null
t_ok $? "--no-atime ignores the atimes cp changed in its source"

# mutate DESC PATTERN [treecmp options] -- SHELL-CODE: fresh copy m, change it, expect
# exit 1 and a line matching PATTERN (grep -E), never "equal".
mutate() {
	local desc=$1 pat=$2 opts=()
	shift 2
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	rm -rf m
	cp -a ref m || t_bail "cp failed"
	(cd m && eval "$1") || t_bail "mutation failed: $desc"
	run "$TREECMP" "${opts[@]+"${opts[@]}"}" ref m
	[ "$RC" -eq 1 ] && grep -qE -- "$pat" "$OUT" && ! grep -q 'equal' "$OUT"
	t_ok $? "sees $desc" || { echo "#   exit $RC"; t_diag "$OUT"; t_diag "$ERR"; }
}

touchref='python3 -c "import os,sys; s=os.lstat(sys.argv[1]); os.utime(sys.argv[2], ns=(s.st_atime_ns, s.st_mtime_ns), follow_symlinks=False)"'

mutate "one flipped byte" '^files/big-random: content: first difference at byte 1048576$' --no-atime -- \
	"printf 'Z' | dd of=files/big-random bs=1 seek=1048576 conv=notrunc status=none; $touchref ../ref/files/big-random files/big-random"
mutate "a changed last byte" '^files/4k-plus-7: content: first difference at byte 4102$' --no-atime -- \
	"printf 'Q' | dd of=files/4k-plus-7 bs=1 seek=4102 conv=notrunc status=none; $touchref ../ref/files/4k-plus-7 files/4k-plus-7"
mutate "a size change" '^files/text: size' --no-atime -- "truncate -s -1 files/text"
mutate "a lost setuid bit" '^modes/setuid: mode: A=4755 B=0755$' --no-atime -- "chmod 0755 modes/setuid"
mutate "a lost sticky bit" '^modes/sticky-dir: mode: A=1777 B=0777$' --no-atime -- "chmod 0777 modes/sticky-dir"
mutate "one nanosecond of mtime" '^times/one-nsec: mtime: A=1600000000.000000001 B=1600000000.000000002$' --no-atime -- \
	"python3 -c 'import os; os.utime(\"times/one-nsec\", ns=(os.lstat(\"times/one-nsec\").st_atime_ns, 1600000000000000002))'"
mutate "an atime" '^times/epoch: atime' -- \
	"python3 -c 'import os; os.utime(\"times/epoch\", ns=(5, 0))'"
mutate "a symlink's mtime" '^links/dangling: mtime' --no-atime -- \
	"touch -h -d @1000 links/dangling"
mutate "a directory's mtime" '^deep/a/b: mtime' --no-atime -- "touch -d @1000 deep/a/b"
mutate "an xattr value" '^xattrs/plain: xattr user.comment: value differs' --no-atime -- \
	"setfattr -n user.comment -v 'hello World' xattrs/plain"
mutate "a missing xattr" '^xattrs/empty-value: xattr user.empty: only in A$' --no-atime -- \
	"setfattr -x user.empty xattrs/empty-value"
mutate "an extra xattr" '^xattrs/dir: xattr user.new: only in B$' --no-atime -- \
	"setfattr -n user.new -v 1 xattrs/dir"
mutate "an ACL entry" '^acl/file: xattr system.posix_acl_access: value differs' --no-atime -- \
	"setfacl -m u:1234:r-- acl/file"
mutate "a lost default ACL" '^acl/dir: xattr system.posix_acl_default: only in A$' --no-atime -- \
	"setfacl -k acl/dir"
mutate "a broken hardlink" '^hard/(sub/)?two-[ab]: hardlink: shares an inode' --no-atime -- \
	"cp -p hard/sub/two-b t && mv t hard/sub/two-b"
mutate "a broken 3-way hardlink" 'three-[abc]: hardlink: shares an inode' --no-atime -- \
	"cp -p files/three-c t && mv t files/three-c"
mutate "a spurious hardlink" 'f0000: hardlink|files/empty: hardlink' --no-atime --no-owner -- \
	"rm files/var/f0000 && ln files/empty files/var/f0000"
mutate "a filled hole" '^sparse/hole-last: sparse: A allocates' --no-atime -- \
	"cp --sparse=never -p sparse/hole-last t && mv t sparse/hole-last"
mutate "an extra file" '^names/extra: only in B$' --no-atime --ignore-root-times -- "echo x > names/extra"
mutate "a missing file" '^names/tab\\x09here: only in A$' --no-atime -- "rm names/\$'tab\\there'"
mutate "a name that differs in one byte" '^names/caf\\xc3\\xa9-utf8: only in A$' --no-atime -- \
	"mv names/caf\$'\\xc3\\xa9'-utf8 names/cafe\$'\\xcc\\x81'-utf8"
mutate "a changed symlink target" '^links/relative: symlink target: A=../files/one B=../files/on$' --no-atime -- \
	"ln -sfn ../files/on links/relative"
mutate "a type change" '^special/fifo: type: A=fifo B=file$' --no-atime -- \
	"rm special/fifo && : > special/fifo"
if t_root; then
	mutate "a device number change" '^special/chr-odd: rdev: A=240:70000 B=240:70001$' --no-atime -- \
		"rm special/chr-odd && mknod special/chr-odd c 240 70001"
	mutate "an owner change" '^owners/nobody: owner: A=65534:65534 B=0:65534$' --no-atime -- \
		"chown -h 0 owners/nobody"
	mutate "a symlink owner change" '^owners/link-8765: owner' --no-atime -- \
		"chown -h 1:1 owners/link-8765"
	"$TREECMP" --no-owner --no-atime ref m >/dev/null 2>&1
	t_ok $? "--no-owner ignores owners"
else
	t_skip "owner and device checks" "needs root (mknod, chown)"
fi
run "$TREECMP" ref does-not-exist
[ "$RC" -eq 2 ] && grep -q 'does-not-exist' "$ERR"
t_ok $? "a missing tree is an error (exit 2)"
t_done
