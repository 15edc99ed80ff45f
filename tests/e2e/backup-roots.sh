#!/bin/bash
# The snapshot root names each backed-up path by its last component, made unique: paths
# that share one get "-2", "-3" ..., and a suffixed name never takes a name another path
# holds. Restore and the mount keep only the first of two equal root names (a forged
# root may repeat one), so a repeat would leave a path out of every restore: a/data,
# b/data and c/data-2 were named data, data-2, data-2, and c/data-2 was not restored.
. "$(dirname "$0")/lib.sh"
t_need

t_init_repo "$T_TMP/repo"
S=$T_TMP/src
long=$(printf 'n%.0s' $(seq 1 255)) # a last component of NAME_MAX bytes
for d in a/data b/data c/data-2 d/data-2 e/data f/"$long" g/"$long"; do
	mkdir -p "$S/$d"
	echo "$d" >"$S/$d/which"
done
t_cmd "backup of seven paths, five sharing a last component" \
	cairn backup "$S/a/data" "$S/b/data" "$S/c/data-2" "$S/d/data-2" "$S/e/data" \
	"$S/f/$long" "$S/g/$long"
t_cmd "restore of the snapshot" cairn restore latest --target "$T_TMP/out"
names=$(cd "$T_TMP/out" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort | tr '\n' ' ')
n=$(find "$T_TMP/out" -mindepth 1 -maxdepth 1 | wc -l)
t_ok $([ "$n" -eq 7 ] && echo 0 || echo 1) "seven root names, none repeated ($n: ${names:0:80}...)"
# Which path got which name: the order of the paths decides, first come first named.
s=0
for pair in a/data:data b/data:data-2 c/data-2:data-2-2 d/data-2:data-2-3 e/data:data-3; do
	src=${pair%%:*} name=${pair#*:}
	[ "$(cat "$T_TMP/out/$name/which" 2>/dev/null)" = "$src" ] || { s=1; t_note "$name is not $src"; }
done
t_ok $s "each path restored whole under its own name (data, data-2, data-2-2, data-2-3, data-3)"
# A suffix on a name of NAME_MAX bytes cuts the name, not the suffix.
s=0
[ "$(cat "$T_TMP/out/$long/which" 2>/dev/null)" = "f/$long" ] || s=1
[ "$(cat "$T_TMP/out/${long:0:253}-2/which" 2>/dev/null)" = "g/$long" ] || s=1
t_ok $s "a long last component given twice: the second is cut to fit its suffix"
t_done
