#!/bin/bash
# Restore into a target that a hostile pod writes (a restore into its existing volume):
# FIFOs and device nodes planted at the names of files (--overwrite if-changed and
# --verify must neither open nor keep them), symlinks to a folder outside planted at the
# names of files and folders, and folders swapped for symlinks to outside in a tight loop
# while the restore writes into them. Nothing outside the target is written, nothing
# blocks, and the exit code is 0 or 3 with what was not restored named.
. "$(dirname "$0")/lib.sh"
t_need
t_root || t_bail "device nodes need root"
t_init_repo "$T_TMP/repo"
tcairn() { timeout "${TO:-300}" env CAIRN_PASSWORD="$T_PASS" "$CAIRN_BIN" -r "$REPO" "$@"; }

SRC=$T_TMP/src
mkdir -p "$SRC/sub"
echo hello >"$SRC/f"
: >"$SRC/empty"
echo three >"$SRC/sub/g"
for d in $(seq 1 8); do
	mkdir -p "$SRC/x/d$d"
	for i in $(seq 1 150); do echo "$d $i" >"$SRC/x/d$d/f$i"; done
done
run cairn backup "$SRC"
t_rc 0 "the source backs up"
OUTSIDE=$T_TMP/outside
mkdir -p "$OUTSIDE"
echo keep >"$OUTSIDE/f"
echo keep >"$OUTSIDE/g"
outside() { find "$OUTSIDE" -printf '%P %y %s %m %T@\n' | sort; }
BEFORE=$(outside)

# ---- FIFOs and device nodes at the names of files ----
for how in "--overwrite if-changed" "--overwrite if-changed --verify" "--overwrite always --verify"; do
	D=$T_TMP/t-fifo
	rm -rf "$D"
	mkdir -p "$D/src/sub"
	mkfifo "$D/src/f"
	mknod "$D/src/empty" c 1 5 # /dev/zero: size 0 like the empty file, never ending
	mknod "$D/src/sub/g" c 1 3
	touch -h -r "$SRC/empty" "$D/src/empty"
	# shellcheck disable=SC2086
	run tcairn restore latest --target "$D" $how
	s=0
	[ "$RC" = 0 ] && [ -f "$D/src/f" ] && [ "$(cat "$D/src/f")" = hello ] &&
		[ -f "$D/src/empty" ] && [ ! -s "$D/src/empty" ] && [ "$(cat "$D/src/sub/g")" = three ] || s=1
	t_ok $s "$how: a FIFO and device nodes at files' names are replaced, never opened (exit $RC)" ||
		t_diag "$ERR"
done

# ---- symlinks to outside at the names of a file and a folder ----
D=$T_TMP/t-link
mkdir -p "$D/src"
ln -s "$OUTSIDE/f" "$D/src/f"
ln -s "$OUTSIDE" "$D/src/sub"
touch -h -r "$SRC/f" "$D/src/f"
for how in if-changed always; do
	run tcairn restore latest --target "$D" --overwrite "$how" --verify
	s=0
	[ "$RC" = 3 ] && [ "$(outside)" = "$BEFORE" ] && [ -f "$D/src/f" ] && [ ! -L "$D/src/f" ] &&
		[ "$(cat "$D/src/f")" = hello ] && grep -q '/src/sub' "$ERR" || s=1
	t_ok $s "--overwrite $how: a link at a file's name is replaced, one at a folder's name is not written through and is named (exit $RC)" ||
		t_diag "$ERR"
done

# ---- folders swapped for links to outside while the restore writes into them ----
cat >"$T_TMP/swap.py" <<'EOF'
import os, sys
t, out, stop = sys.argv[1:4]
while not os.path.exists(stop):
    for name in ["src/x", "src/x/d1", "src/x/d5", "src/sub"]:
        p = os.path.join(t, name)
        try:
            os.rename(p, p + ".real")
        except OSError:
            continue
        try:
            os.symlink(out, p)
            os.unlink(p)
        except OSError:
            pass
        try:
            os.rename(p + ".real", p)
        except OSError:
            pass
EOF
hung=0
bad=0
for i in 1 2 3 4; do
	D=$T_TMP/t-race$i
	mkdir -p "$D"
	rm -f "$T_TMP/stop"
	python3 "$T_TMP/swap.py" "$D" "$OUTSIDE" "$T_TMP/stop" &
	SW=$!
	run tcairn restore latest --target "$D"
	touch "$T_TMP/stop"
	wait "$SW"
	[ "$RC" = 124 ] && hung=$((hung + 1))
	[ "$RC" = 0 ] || [ "$RC" = 3 ] || { bad=$((bad + 1)); t_diag "$ERR"; }
done
t_ok $hung "four restores under the swap loop end ($hung hung)"
t_ok $bad "each ends 0 or 3 ($bad did not)"
[ "$(outside)" = "$BEFORE" ]
t_ok $? "nothing outside the target was created or changed" ||
	diff <(echo "$BEFORE") <(outside) | head -n 5 | sed 's/^/#   /'
n=$(find "$T_TMP" -name '*cairn-partial*' | wc -l)
t_ok "$n" "no temporary file is left anywhere ($n)"
t_done
