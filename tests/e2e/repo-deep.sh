#!/bin/bash
# A folder 2000 levels deep (any pod can make one): backup, ls, check, prune and restore
# walk it without recursion on the C stack (ls used 16 KiB per level and crashed).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
t_need
SRC=$T_TMP/src
mkdir -p "$SRC"
python3 - "$SRC" <<'PY'
import os, sys
os.chdir(sys.argv[1])
for i in range(2000):
    os.mkdir("d")
    os.chdir("d")
open("bottom", "w").write("deep\n")
PY
t_init_repo "$T_TMP/repo"
run cairn backup "$SRC"
t_rc 0 "backup of a 2000-deep folder" || t_bail "no snapshot to read"
run cairn ls latest
t_rc 0 "ls walks it" && t_no_crash
t_ok $? "without crashing"
[ "$(grep -c . "$OUT")" -ge 2001 ] && grep -q '/bottom$' "$OUT"
t_ok $? "and lists every level down to the file ($(grep -c . "$OUT") lines)"
run cairn check --read-data
t_rc 0 "check walks it"
run cairn restore latest --target "$T_TMP/out"
t_rc 0 "restore walks it"
[ "$(find "$T_TMP/out" -name bottom -exec cat {} +)" = deep ] &&
	[ "$(find "$T_TMP/out" -type d | wc -l)" -ge 2001 ]
t_ok $? "and recreates every level with the file at the bottom"
run cairn prune
t_rc 0 "prune marks through it"
run cairn check
t_rc 0 "and keeps everything"
t_done
