#!/bin/bash
# tests/run-suite.sh PROGRAM [ARGS...]: the LOG_COMPILER of every suite (tests/local.mk).
# Runs the suite with a deadline (CAIRN_TEST_TIMEOUT seconds, default 1200) in its own
# process group and a private TMPDIR. Afterwards it ends every process the suite left
# behind and unmounts what it left mounted: the test driver reads the suite's output
# until the last writer closes it, so one forgotten server or hung mount would otherwise
# hang `make check` instead of ending it with a summary and a failure.
set -u
limit=${CAIRN_TEST_TIMEOUT:-1200}
grace=20
name=${1##*/}
tag=$$.$RANDOM.$RANDOM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-suite.XXXXXX") || exit 99
# Traversable (not listable) by others: suites run some commands as nobody inside it.
chmod 711 "$tmp"
# Every process started below inherits the tag: that is how leftovers are found, even
# those that moved to a session of their own.
export CAIRN_SUITE_TAG=$tag TMPDIR=$tmp

# Without --foreground, timeout makes itself a process group leader and, at the deadline,
# signals the whole group (TERM, then KILL after the grace period).
timeout -k "$grace" "$limit" "$@"
rc=$?

tagged() { # pids of the processes carrying this run's tag
	local e p
	for e in /proc/[0-9]*/environ; do
		p=${e#/proc/}
		p=${p%/environ}
		[ "$p" = $$ ] && continue
		tr '\0' '\n' 2>/dev/null <"$e" | grep -qx "CAIRN_SUITE_TAG=$tag" && echo "$p"
	done
}

left=$(tagged)
if [ -n "$left" ]; then
	for p in $left; do
		echo "# $name left process $p running: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-120)"
	done
	# shellcheck disable=SC2086 # one pid per word
	kill -TERM $left 2>/dev/null
	for _ in $(seq 100); do
		left=$(tagged)
		[ -z "$left" ] && break
		sleep 0.1
	done
	# shellcheck disable=SC2086
	[ -n "$left" ] && kill -KILL $left 2>/dev/null
fi

# Mounts the suite left under its TMPDIR (FUSE mounts of a killed `cairn mount`).
awk -v t="$tmp/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r |
	while read -r m; do
		echo "# $name left $m mounted"
		fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
chmod -R u+rwx "$tmp" 2>/dev/null
rm -rf --one-file-system "$tmp"

if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] && [ "$SECONDS" -ge "$limit" ]; }; then
	echo "Bail out! $name did not finish within ${limit}s; its process group was killed"
	exit 124
fi
exit "$rc"
