#!/bin/bash
# Everything the tests need, then every test: a gcc -Werror build and a clang ASan+UBSan
# build both run `make check` (unit, end-to-end, S3 servers, FUSE, Kubernetes double).
# Ends with the line "N passed, N failed" and a non-zero status on any failure. A build
# or `make check` that fails, a suite without a result, and a run without any result
# are failures too: a test that cannot compile must not turn into "0 failed".
# Packages are installed here, before building; the suites never install anything.
# CI_TESTS='tests/unit/test-key ...' runs only those suites (both builds).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# Everything is installed below, so a missing server or tool is a failure, not a SKIP.
export CI=${CI:-true}
sh "$top/scripts/deps-build.sh" || { echo "0 passed, 1 failed"; exit 1; }
bash "$top/tests/ci-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
(cd "$top" && autoreconf -fi >/dev/null 2>&1)
pass=0
fail=0

# tally DIR: the results of every suite `make print-test-logs` lists.
tally() {
	local dir=$1 log trs p=0 f=0 s=0 x=0 missing=() skipped=()
	for log in $(make -s -C "$dir" print-test-logs ${CI_TESTS:+TESTS="$CI_TESTS"} | tr ' ' '\n' | grep '\.log$'); do
		trs=$dir/${log%.log}.trs
		if [ ! -s "$trs" ]; then
			missing+=("${log%.log}")
			continue
		fi
		p=$((p + $(grep -c '^:test-result: PASS' "$trs")))
		f=$((f + $(grep -cE '^:test-result: (FAIL|ERROR|XPASS)' "$trs")))
		s=$((s + $(grep -c '^:test-result: SKIP' "$trs")))
		x=$((x + $(grep -c '^:test-result: XFAIL' "$trs")))
		[ -f "$dir/$log" ] && mapfile -t -O "${#skipped[@]}" skipped < <(grep '^SKIP:' "$dir/$log")
	done
	echo "$dir: $p passed, $f failed, ${#skipped[@]} skipped, $x expected failures"
	if [ "${#skipped[@]}" -gt 0 ]; then
		printf '  %s\n' "${skipped[@]}"
	fi
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "$dir: ${#missing[@]} suites gave no result:"
		printf '  %s\n' "${missing[@]}"
		f=$((f + ${#missing[@]}))
	fi
	if [ $((p + f + s + x)) -eq 0 ]; then
		echo "$dir: no test result at all"
		f=$((f + 1))
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	TALLY_FAILED=$f
}

run_build() {
	local dir=$1 rc
	shift
	rm -rf "$dir"
	if ! sh "$top/scripts/build.sh" "$dir" "$@"; then
		echo "$dir: build failed"
		fail=$((fail + 1))
		return
	fi
	# Build every test program in parallel, then run the suites one at a time: the
	# end-to-end suites start servers and mounts of their own.
	if ! (cd "$dir" && make -j"$(nproc)" check TESTS= >check-build.log 2>&1); then
		echo "$dir: test programs failed to build:"
		grep -E 'error|Error' "$dir/check-build.log" | head -n 20
		fail=$((fail + 1))
		return
	fi
	(cd "$dir" && make -k check ${CI_TESTS:+TESTS="$CI_TESTS"} >check.log 2>&1)
	rc=$?
	grep -hE '^(FAIL|ERROR|XPASS):' "$dir"/test-suite.log 2>/dev/null | head -n 50
	tally "$dir"
	# make check failed, yet no suite did: something outside the suites broke.
	if [ "$rc" -ne 0 ] && [ "$TALLY_FAILED" -eq 0 ]; then
		echo "$dir: make check failed (exit $rc) without a failed suite:"
		tail -n 20 "$dir/check.log"
		fail=$((fail + 1))
	fi
}
run_build "$top/build-ci" --enable-werror --enable-test-hooks CC=gcc
run_build "$top/build-asan" --enable-werror --enable-sanitizers --enable-test-hooks CC=clang
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
