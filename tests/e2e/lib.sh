# shellcheck shell=bash
# Shared helpers for the TAP end-to-end suites: a scratch directory removed on exit,
# TAP counters, and a cairn wrapper that passes the password through the environment
# (never argv) with the fast test KDF. Sourced, never run.

set -u
T_N=0
T_FAILED=0
T_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${TOP_SRCDIR:=$(cd "$T_HERE/../.." && pwd)}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR}"
: "${CAIRN_BIN:=$TOP_BUILDDIR/cairn}"
MKTREE=${MKTREE:-$TOP_BUILDDIR/tests/tools/mktree}
TREECMP=${TREECMP:-$TOP_BUILDDIR/tests/tools/treecmp}
T_PASS='correct horse battery staple'
export CAIRN_KDF_FAST=1
unset CAIRN_REPOSITORY CAIRN_PASSWORD_FILE

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e.XXXXXX")
T_MOUNTS=()
T_EXIT_HOOKS=()
# t_on_exit CMD...: run CMD (servers to stop) at exit, last registered first, before the
# scratch directory goes. Suites register here instead of replacing the EXIT trap.
t_on_exit() {
	T_EXIT_HOOKS+=("$(printf '%q ' "$@")")
}
t_cleanup() {
	local m i
	for ((i = ${#T_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${T_EXIT_HOOKS[i]}" 2>/dev/null
	done
	for m in "${T_MOUNTS[@]+"${T_MOUNTS[@]}"}"; do
		umount -l "$m" 2>/dev/null
	done
	# Trees hold 0000 directories and immutable-free read-only dirs: make them removable.
	chmod -R u+rwx "$T_TMP" 2>/dev/null
	rm -rf "$T_TMP"
}
trap t_cleanup EXIT

t_root() { [ "$(id -u)" = 0 ]; }

t_ok() { # t_ok STATUS DESC: one TAP line from a status (0 = pass)
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		# a TODO item is a known gap: reported (XFAIL), not a failure of the suite
		case $2 in *"# TODO"*) ;; *) T_FAILED=$((T_FAILED + 1)) ;; esac
	fi
	return "$1"
}

t_pass() { # t_pass DESC: an ok line (for `COND && t_pass A || t_fail B`)
	t_ok 0 "$*"
}

t_fail() { # t_fail DESC: a not-ok line; returns 0 so that `|| t_fail` counts once
	t_ok 1 "$*"
	return 0
}

t_note() { # t_note TEXT: a TAP comment
	echo "# $*"
}

t_skip() { # t_skip DESC REASON: only for what is impossible on this machine
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}

t_diag() { # t_diag FILE: show the start of a log under a failed assertion
	[ -s "$1" ] && head -n "${2:-15}" "$1" | sed 's/^/#   /'
	return 0
}

t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}

t_bail() {
	echo "Bail out! $*"
	exit 1
}

# run CMD...: sets RC, and OUT/ERR to files holding stdout/stderr.
T_RUNS=0
run() {
	T_RUNS=$((T_RUNS + 1))
	OUT=$T_TMP/out.$T_RUNS
	ERR=$T_TMP/err.$T_RUNS
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
	return 0
}

# Assertions on the last run.
t_rc() { # t_rc WANT DESC
	local s=0
	[ "$RC" -eq "$1" ] || s=1
	t_ok $s "$2" || { echo "#   exit $RC, want $1"; t_diag "$ERR"; t_diag "$OUT" 5; }
	return $s
}

t_cmd() { # t_cmd DESC CMD...: pass when CMD exits 0
	local d=$1
	shift
	run "$@"
	t_rc 0 "$d"
}

cairn() {
	CAIRN_PASSWORD=$T_PASS "$CAIRN_BIN" -r "$REPO" "$@"
}

t_need() { # t_need: the binaries every suite uses, or bail out (a missing tool fails)
	[ -x "$CAIRN_BIN" ] || t_bail "cairn binary missing at $CAIRN_BIN"
	[ -x "$MKTREE" ] || t_bail "mktree missing at $MKTREE"
	[ -x "$TREECMP" ] || t_bail "treecmp missing at $TREECMP"
	command -v python3 >/dev/null || t_bail "python3 missing (tests/tools/deps.sh)"
	command -v jq >/dev/null || t_bail "jq missing (tests/tools/deps.sh)"
}

# jget FILE FILTER: a jq filter over the last JSON line of FILE (the summary of --json
# output that streams progress lines first); prints the result raw. (python3 starts
# slowly on these machines, jq does not.)
jget() {
	grep -a . "$1" | tail -n 1 | jq -r "$2"
}

# json FILE EXPR: the same with a python expression over the object `j` (kept for the
# suites that use it).
json() {
	python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape").splitlines() if l.strip()]
j = json.loads(lines[-1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# json_ok FILE: FILE holds valid JSON.
json_ok() {
	jq -e . "$1" >/dev/null 2>&1
}

# treecmp wrapper: compares and keeps the report in $OUT for t_diag.
t_same() { # t_same DESC [treecmp options] A B
	local d=$1
	shift
	run "$TREECMP" "$@"
	t_ok "$RC" "$d" || { t_diag "$OUT" 20; t_diag "$ERR"; }
	return "$RC"
}

# Where the tree backed up from SRC lands in a full restore into DIR: target/<name>
# (relative layout) or target/<absolute path> (restic's layout); prints the folder.
t_landed() { # t_landed DIR SRC
	if [ -d "$1/$(basename "$2")" ]; then
		echo "$1/$(basename "$2")"
	elif [ -d "$1$2" ]; then
		echo "$1$2"
	else
		echo "$1/NOT-FOUND"
	fi
}

# The snapshot path of SRC's tree for SNAP:/PATH, matching t_landed's layout.
t_snap_path() { # t_snap_path DIR SRC
	if [ -d "$1/$(basename "$2")" ]; then
		echo "/$(basename "$2")"
	else
		echo "$2"
	fi
}

# Owners are compared only when root could restore them.
t_owner_opt() {
	t_root || echo --no-owner
}

t_init_repo() { # t_init_repo DIR: REPO=DIR, initialised, or bail out
	REPO=$1
	run cairn init
	[ "$RC" -eq 0 ] || { t_diag "$ERR"; t_bail "cairn init failed (exit $RC)"; }
}

# cairn_bg ARGS...: start cairn in the background as itself (no wrapper shell in
# between, so $! is cairn's pid and kill -9 hits cairn).
cairn_bg() {
	(CAIRN_PASSWORD=$T_PASS exec "$CAIRN_BIN" -r "$REPO" "$@") >"$T_TMP/bg.out" 2>"$T_TMP/bg.err" &
	# shellcheck disable=SC2034
	BG=$!
}

# Every file of a repository with size and mtime: "nothing written" means this is equal
# before and after.
t_repo_state() { # t_repo_state DIR
	find "$1" -printf '%P %y %s %T@\n' | sort
}

# The exit status is a plain code, not a crash (signals give 128+N, ASan gives 1 with a
# report on stderr).
t_no_crash() { # uses RC and ERR of the last run
	[ "$RC" -lt 128 ] && ! grep -qE 'AddressSanitizer|runtime error:|Segmentation|core dumped' "$ERR"
}

# t_require WHAT HOW CMD...: CMD checks for a server or tool the whole suite needs. When
# it is missing the suite fails under CI=true (scripts/test.sh installs everything first,
# so missing means broken set-up) and is one SKIP elsewhere. Call it before any test;
# suites never install anything themselves.
t_require() {
	local what=$1 how=$2
	shift 2
	"$@" >/dev/null 2>&1 && return 0
	[ "${CI:-}" = true ] && t_bail "$what missing (install: $how)"
	echo "1..0 # SKIP $what missing (install: $how)"
	exit 0
}

# t_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds (0) or SECONDS pass (1).
# The deadline is generous on purpose: it only bounds a failure, a pass returns at once.
t_wait() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}

# t_listening PORT: something accepts TCP connections on 127.0.0.1:PORT.
t_listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# t_ports N: a base port B with B..B+N-1 free on 127.0.0.1, below the ephemeral range.
# Random, because fixed ports collide with a run of another checkout on the same machine
# (a test then talks to the other run's server).
t_ports() {
	python3 - "$1" <<'EOF_PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randrange(20000, 32000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
EOF_PY
}

# t_swift_counted PORT: Swift's s3api on 127.0.0.1:PORT..PORT+3 (tests/s3/deps.sh installs
# it when missing) behind the pass-through proxy on PORT+5, which logs every request it
# forwards to $T_TMP/requests.log (the suites count GETs there). Both stop at exit; bails
# out when either does not start.
t_swift_counted() {
	local s=$TOP_SRCDIR/tests/s3 p=$1

	t_on_exit sh "$s/swift.sh" stop "$T_TMP/swift"
	if ! command -v swift-proxy-server >/dev/null 2>&1; then
		sh "$s/deps.sh" >"$T_TMP/deps.log" 2>&1 || t_bail "tests/s3/deps.sh failed"
	fi
	sh "$s/swift.sh" start "$T_TMP/swift" "$p" >"$T_TMP/swift.log" 2>&1 ||
		{ t_diag "$T_TMP/swift.log"; t_bail "Swift did not start"; }
	python3 "$s/faultproxy.py" $((p + 5)) "$p" 0 1 count 2>"$T_TMP/requests.log" &
	t_on_exit kill "$!"
	t_wait 30 curl -s -o /dev/null "http://127.0.0.1:$((p + 5))/" ||
		t_bail "the counting proxy did not start"
}
