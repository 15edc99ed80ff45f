#!/bin/bash
# The command line's help: `cairn COMMAND --help`, `-h` and `cairn help COMMAND` for every
# command say the same words as its generated man page; docs/cli.md's reference is the
# generator's output; misspelt commands and flags exit 2 naming the nearest valid word;
# the bash completion completes commands, flags and flag values from the same table.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
command -v python3 >/dev/null || t_bail "python3 missing (tests/tools/deps.sh)"
DOCGEN=$TOP_BUILDDIR/cli/cairn-docgen
MANDIR=$TOP_BUILDDIR/cli/man
[ -x "$DOCGEN" ] || t_bail "cairn-docgen missing at $DOCGEN (make all builds it)"

# words HELPFILE MANFILE: the help text's words, less its title line and section
# headings, equal the man page's text words, less NAME and SEE ALSO (roff removed).
same_words() {
	python3 - "$1" "$2" <<'EOF'
import re, sys
heads = {"Usage:", "Flags:", "Examples:", "Environment:", "Exit codes:", "Commands:",
         "Global flags:"}
help_lines = open(sys.argv[1], encoding="utf-8").read().splitlines()[1:]
hw = " ".join(l for l in help_lines if l.strip() not in heads).split()
mw, skip = [], False
for l in open(sys.argv[2], encoding="utf-8").read().splitlines():
    if l.startswith(".SH"):
        skip = l.split(None, 1)[1] in ("NAME", "\"SEE ALSO\"", "SEE ALSO")
        continue
    if skip or l.startswith('.\\"') or re.match(r"^\.(TH|nh|ad|TP|PP|RS|RE|nf|fi)\b", l):
        continue
    if l.startswith(".B "):
        l = l[3:]
    l = re.sub(r"\\f[BIRP]", "", l).replace("\\&", "").replace("\\-", "-").replace("\\e", "\\")
    mw += l.split()
if hw != mw:
    for i, (a, b) in enumerate(zip(hw + [""] * len(mw), mw + [""] * len(hw))):
        if a != b:
            print("#   word %d: help %r, man %r" % (i, " ".join(hw[i:i+6]), " ".join(mw[i:i+6])))
            break
    sys.exit(1)
EOF
}

run "$CAIRN_BIN" --help
cp "$OUT" "$T_TMP/top.help"
t_rc 0 "cairn --help exits 0"
same_words "$T_TMP/top.help" "$MANDIR/cairn.1"
t_ok $? "cairn --help says what cairn(1) says"
mapfile -t CMDS < <(sed -n '/^Commands:/,/^$/p' "$T_TMP/top.help" | awk 'NF > 1 {print $1}')
[ "${#CMDS[@]}" -ge 17 ]
t_ok $? "cairn --help lists every command (${#CMDS[@]})"

for c in "${CMDS[@]}"; do
	run "$CAIRN_BIN" "$c" --help
	cp "$OUT" "$T_TMP/$c.help"
	s=$RC
	grep -q '^Exit codes:' "$OUT" && grep -q '^Examples:' "$OUT" && [ ! -s "$ERR" ] || s=1
	run "$CAIRN_BIN" help "$c"
	cmp -s "$OUT" "$T_TMP/$c.help" || s=1
	run "$CAIRN_BIN" "$c" -h
	cmp -s "$OUT" "$T_TMP/$c.help" || s=1
	t_ok $s "$c: --help, -h and help $c print the same help, exit 0"
	same_words "$T_TMP/$c.help" "$MANDIR/cairn-$c.1"
	t_ok $? "$c: --help says what cairn-$c(1) says"
done

# Every flag of a command has its default in the help when the table gives one: spot
# checks of the words a user looks for.
grep -q -- '--max-unused PERCENT.*(default: 5)' "$T_TMP/prune.help"
t_ok $? "prune --help shows --max-unused's default"
grep -q 'CAIRN_NEW_PASSWORD_FILE' "$T_TMP/key.help"
t_ok $? "key --help names the environment variable it reads"

if command -v groff >/dev/null; then
	s=0
	for m in "$MANDIR"/*.1; do
		w=$(groff -man -ww -z "$m" 2>&1)
		[ -z "$w" ] || { s=1; echo "#   $m: $w"; }
	done
	t_ok $s "every man page renders without groff warnings"
else
	t_skip "man pages render" "groff not installed"
fi

# docs/cli.md's reference is exactly what the table renders.
python3 - "$TOP_SRCDIR/docs/cli.md" "$T_TMP/md.want" <<'EOF'
import sys
s = open(sys.argv[1], encoding="utf-8").read()
a = s.index("<!-- cmdtab: begin")
b = s.index("<!-- cmdtab: end -->") + len("<!-- cmdtab: end -->\n")
open(sys.argv[2], "w", encoding="utf-8").write(s[a:b])
EOF
"$DOCGEN" markdown >"$T_TMP/md.got"
diff -u "$T_TMP/md.want" "$T_TMP/md.got" >"$T_TMP/md.diff"
t_ok $? "docs/cli.md's reference is the table's (regenerate: cairn-docgen markdown)" ||
	t_diag "$T_TMP/md.diff" 20

# Typos: one line on stderr naming the bad word and the nearest one, exit 2.
typo() { # typo WANT DESC ARGS...
	local want=$1 d=$2 s=0
	shift 2
	run "$CAIRN_BIN" "$@"
	[ "$RC" -eq 2 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -qF -- "$want" "$ERR" || s=1
	t_ok $s "$d" || { echo "#   exit $RC"; t_diag "$ERR"; }
}
typo "did you mean backup?" "misspelt command: bakup" bakup /tmp
typo "did you mean snapshots?" "misspelt command: snapshot" snapshot
typo "did you mean --exclude?" "misspelt flag: --exlude" backup --exlude x /tmp
typo "did you mean --exclude?" "misspelt flag with a value: --exlcude=x" restore --exlcude=x latest
typo "did you mean --keep-daily?" "misspelt flag: --keep-dialy" forget --keep-dialy 3
typo "did you mean --json?" "misspelt global flag: --jsno" --jsno version
typo "did you mean --json?" "misspelt global flag after the command" version --jsn
typo "'--zzzzzz'" "unknown flag, nothing near: named" check --zzzzzz
typo "needs a value (DIR)" "a flag without its value" restore latest --target
typo "unknown command 'frobnicate'" "unknown command, nothing near" frobnicate
typo "did you mean backup?" "help on a misspelt command" help backpu
run "$CAIRN_BIN" version --json
t_rc 0 "a global flag after the command is taken"
run "$CAIRN_BIN" --json frobnicate
grep -q '"exit_code":2' "$ERR"
t_ok $? "with --json the usage error is a JSON line"

# Control bytes in a bad word are not echoed raw.
run "$CAIRN_BIN" $'bad\x1b[31mword'
! grep -q $'\x1b' "$ERR" && grep -qF 'bad\x1b[31mword' "$ERR"
t_ok $? "an escape sequence in a bad word is shown escaped"

# Bash completion from the same table.
COMP=$TOP_BUILDDIR/cli/completion/cairn
complete_words() { # complete_words WORD...: COMPREPLY for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cairn
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@"
}
complete_words cairn bac | grep -qx backup
t_ok $? "bash completes a command"
complete_words cairn backup --exc | grep -qx -- --exclude
t_ok $? "bash completes a command's flag"
[ "$(complete_words cairn stats --mode r | sort | tr '\n' ' ')" = "raw-data restore-size " ]
t_ok $? "bash completes a flag's fixed values"
complete_words cairn -r /tmp restore --t | grep -qx -- --target
t_ok $? "bash skips global flags and their values to find the command"
complete_words cairn help ba | grep -qx backup
t_ok $? "bash completes help's command"
if command -v zsh >/dev/null; then
	zsh -n "$TOP_BUILDDIR/cli/completion/_cairn"
	t_ok $? "the zsh completion parses"
else
	t_skip "the zsh completion parses" "zsh not installed"
fi

t_done
