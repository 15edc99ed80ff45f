#!/bin/bash
# Shared subtrees in stats and diff (maint/stats.c, maint/diff.c). A forged "tree bomb"
# (40 levels, each folder holding a and b that point at the same folder below: 80 tree
# blobs, 2^40 paths, written by tests/unit/test-dagbomb --write): stats counts it exactly
# and at once, diff of it with itself ends at once, diff against a one-leaf change prints
# that leaf only, and diff against an honest snapshot streams its 2^40 lines in bounded
# memory. Before the fix stats and diff walked every path (stats never ended, diff grew to
# OOM). Then diff of honest snapshots: the same lines, in the same order (full paths in
# byte order: foo, foo-2/..., foo.bak, foo/...), text and JSON, as the old listing gave.
# Every command runs under timeout.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
W=$TOP_BUILDDIR/tests/unit/test-dagbomb
[ -x "$W" ] || t_bail "test-dagbomb missing at $W"
REPO=$T_TMP/repo
tc() { # tc ARGS...: cairn on the repository, stopped after 60 s
	timeout 60 env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "$@"
}
run tc init
[ "$RC" -eq 0 ] || t_bail "init failed"
mapfile -t B < <(CAIRN_PASSWORD=$T_PASS timeout 60 "$W" --write "$REPO")
[ "${#B[@]}" = 2 ] || t_bail "writing the bomb failed"

run tc --json stats "${B[0]}"
t_rc 0 "stats of the bomb ends"
[ "$(jget "$OUT" .total_file_count)" = 549755813888 ] &&
	[ "$(jget "$OUT" .dirs)" = 1099511627774 ] && [ "$(jget "$OUT" .total_size)" = 549755813888 ]
t_ok $? "it counts what a full walk would: 2^39 files, 2^40 - 2 folders, 2^39 bytes" ||
	t_diag "$OUT"

run tc diff "${B[0]}" "${B[0]}"
t_rc 0 "diff of the bomb with itself ends"
[ "$(cat "$OUT")" = "$(printf '\n0 added, 0 removed, 0 modified')" ]
t_ok $? "with no difference" || t_diag "$OUT"

leaf=$(printf '/a%.0s' $(seq 39))/leaf
run tc diff "${B[0]}" "${B[1]}"
t_rc 0 "diff of two bombs differing in one leaf ends"
[ "$(cat "$OUT")" = "$(printf 'M    %s\n\n0 added, 0 removed, 1 modified' "$leaf")" ]
t_ok $? "it prints that leaf only" || t_diag "$OUT"

# Against an honest snapshot: 2^40 removed paths, streamed. The first 200000 lines under a
# 256 MiB address-space limit (the old listing needed ~120 bytes per path before printing
# its first line), then the peak RSS of a run stopped after 5 s.
S=$T_TMP/src
mkdir -p "$S"
echo hi >"$S/f"
tc backup "$S" >/dev/null 2>&1 ||
	t_bail "backup"
H=$(tc --json snapshots |
	jq -r '.[] | select(.hostname != "forge") | .id')
# ASan reserves terabytes of shadow address space and keeps a quarantine: there the
# listing is checked, not its memory.
ASAN=
readelf -sW "$CAIRN_BIN" | grep -q '__asan_init' && ASAN=1
(
	[ -n "$ASAN" ] || ulimit -v 262144
	tc diff "${B[0]}" "$H" 2>"$T_TMP/big.err"
) | head -n 200000 >"$T_TMP/big.out"
[ "$(wc -l <"$T_TMP/big.out")" = 200000 ] && [ "$(head -n 1 "$T_TMP/big.out")" = "-    /a/" ] &&
	[ "$(sed -n 40p "$T_TMP/big.out")" = "-    $leaf" ]
t_ok $? "diff bomb honest streams its first 200000 lines within 256 MiB" ||
	{ t_diag "$T_TMP/big.err"; t_diag "$T_TMP/big.out" 5; }
sed 's/^.    //; s|/$||' "$T_TMP/big.out" | LC_ALL=C sort -c 2>/dev/null
t_ok $? "in full-path byte order"
if [ -n "$ASAN" ]; then
	t_skip "peak RSS of diff" "sanitizer build"
elif [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%M' -o "$T_TMP/rss" timeout 5 env CAIRN_PASSWORD="$T_PASS" \
		"$CAIRN_BIN" -r "$REPO" diff "${B[0]}" "$H" >/dev/null 2>&1
	rss=$(tail -n 1 "$T_TMP/rss")
	[ "$rss" -lt 32768 ]
	t_ok $? "diff bomb honest for 5 s peaks at $rss KiB (< 32 MiB)"
else
	t_skip "peak RSS of diff" "no /usr/bin/time"
fi

# Honest snapshots: names that sort around '/', folders that become files and back, two
# identical folders (one shared tree) of which one changes.
mkdir -p "$S/foo/sub" "$S/foo-2" "$S/foo.d" "$S/dup1/in" "$S/dup2/in" "$S/t" "$S/gone/deep"
for f in foo.bak 'foo bar' 'a+b' zz Z '~x' foo.d.txt; do echo "$f" >"$S/$f"; done
echo 1 >"$S/foo/sub/x"; echo 2 >"$S/foo.d/y"; echo 3 >"$S/foo-2/z"; echo 4 >"$S/t/x"
echo d >"$S/dup1/in/f"; echo d >"$S/dup2/in/f"; echo g >"$S/gone/deep/g"
touch -d '2023-01-01 00:00:00' "$S" "$S"/* "$S"/*/* "$S"/*/*/* 2>/dev/null
tc backup "$S" >/dev/null 2>&1 ||
	t_bail "backup 2"
echo more >>"$S/foo.bak"; echo e >"$S/dup2/in/f"; rm -r "$S/foo.d" "$S/gone"
echo file >"$S/foo.d"; rm -r "$S/t"; echo t >"$S/t"; rm "$S/zz"; mkdir "$S/zz"
echo n >"$S/zz/n"; echo n >"$S/foo-2/new"; chmod 600 "$S/a+b"
touch -d '2023-01-01 00:00:00' "$S/foo.bak" "$S/dup2/in/f" "$S/a+b"
tc backup "$S" >/dev/null 2>&1 ||
	t_bail "backup 3"
mapfile -t HS < <(tc --json snapshots |
	jq -r '.[] | select(.hostname != "forge") | .id')
[ "${#HS[@]}" = 3 ] || t_bail "three honest snapshots"
run tc diff "${HS[1]}" "${HS[2]}"
t_rc 0 "diff of honest snapshots"
cat >"$T_TMP/want" <<'EOF'
M    /src/a+b
M    /src/dup2/in/f
+    /src/foo-2/new
M    /src/foo.bak
T    /src/foo.d
-    /src/foo.d/y
-    /src/gone/
-    /src/gone/deep/
-    /src/gone/deep/g
T    /src/t
-    /src/t/x
T    /src/zz/
+    /src/zz/n

2 added, 5 removed, 6 modified
EOF
diff "$T_TMP/want" "$OUT" >"$T_TMP/d.out"
t_ok $? "the lines and order the old listing gave" || t_diag "$T_TMP/d.out" 40
run tc --json diff "${HS[2]}" "${HS[1]}"
t_rc 0 "diff --json, the other way"
jq -r 'select(.message_type == "change") | .modifier + " " + .type + " " + .path' "$OUT" \
	>"$T_TMP/j.out"
cat >"$T_TMP/jwant" <<'EOF'
M file /src/a+b
M file /src/dup2/in/f
- file /src/foo-2/new
M file /src/foo.bak
T dir /src/foo.d
+ file /src/foo.d/y
+ dir /src/gone
+ dir /src/gone/deep
+ file /src/gone/deep/g
T dir /src/t
+ file /src/t/x
T file /src/zz
- file /src/zz/n
EOF
diff "$T_TMP/jwant" "$T_TMP/j.out" >"$T_TMP/dj.out" &&
	[ "$(jget "$OUT" '[.added, .removed, .modified] | join(" ")')" = "5 2 6" ]
t_ok $? "JSON: the same changes, the other way round, and the summary" ||
	t_diag "$T_TMP/dj.out" 40

# restore's free-space check walks the trees before writing: on the bomb it walked for ever
# (2^40 paths, the summary of a forged snapshot proves nothing), so a restore never began.
# It stops once the need passes the size of the target's filesystem and refuses at once.
mkdir -p "$T_TMP/small"
mount -t tmpfs -o size=8m tmpfs "$T_TMP/small" 2>/dev/null && t_on_exit umount -l "$T_TMP/small"
if mountpoint -q "$T_TMP/small"; then
	run tc restore "${B[0]}" --target "$T_TMP/small/out"
	s=0
	[ "$RC" = 16 ] && grep -q 'restore needs .* but .* has .* free; --no-space-check' "$ERR" &&
		[ ! -e "$T_TMP/small/out" ] || s=1
	t_ok $s "a restore of the bomb is refused at once, nothing written (exit $RC)" || t_diag "$ERR"
else
	t_skip "a restore of the bomb is refused at once" "mounting a tmpfs needs root"
fi
t_done
