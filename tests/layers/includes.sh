#!/bin/bash
# Holds the include graph and the printing rule to tests/layers/rules: a module includes
# only its own headers, util/ and the modules the rules allow; only the modules listed
# under "print" reference stdio's printing functions.
. "$(dirname "$0")/../e2e/lib.sh"
rules="$TOP_SRCDIR/tests/layers/rules"
bad=0
while IFS=: read -r mod allowed; do
	case "$mod" in ''|'#'*|print) continue ;; esac
	[ -d "$TOP_SRCDIR/$mod" ] || continue
	list=""
	for f in "$TOP_SRCDIR/$mod"/*.[ch]; do
		[ -e "$f" ] || continue
		while read -r inc; do
			dep=${inc%%/*}
			case " $mod util $allowed " in *" $dep "*) ;; *) list="$list ${f#"$TOP_SRCDIR"/}:$inc" ;; esac
		done < <(sed -n 's/^#include "\([a-z0-9_]*\/[^"]*\)".*/\1/p' "$f")
	done
	[ -z "$list" ]
	t_ok $? "$mod includes only$( [ -n "$allowed" ] && echo " $allowed and") util${list:+ (violations:$list)}"
	[ -z "$list" ] || bad=1
done < "$rules"
printers=$(sed -n 's/^print: *//p' "$rules")
for lib in "$TOP_BUILDDIR"/*/libcairn_*.a; do
	mod=$(basename "$(dirname "$lib")")
	case " $printers " in *" $mod "*) continue ;; esac
	hits=$(nm -u "$lib" 2>/dev/null | awk '{print $2}' |
		grep -xE '(printf|vprintf|puts|putchar|fputs|fputc|putc|fwrite|fprintf|vfprintf|perror|__printf_chk|__fprintf_chk|__vfprintf_chk|__vprintf_chk|stdout|stderr|log_[a-z_]+)' | sort -u | tr '\n' ' ')
	[ -z "$hits" ]
	t_ok $? "$mod prints nothing itself${hits:+ (uses: $hits)}"
done
t_done
