#!/bin/bash
# Everything the tests need, then every test: a gcc -Werror build and a clang ASan+UBSan
# build both run `make check` (unit, end-to-end, S3 servers, FUSE, Kubernetes double).
# Ends with the line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export CI=${CI:-}
sh "$top/scripts/deps-build.sh" || { echo "0 passed, 1 failed"; exit 1; }
bash "$top/tests/ci-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
(cd "$top" && autoreconf -fi >/dev/null 2>&1)
pass=0
fail=0
count() {
	local dir=$1 p f
	p=$(cat "$dir"/tests/*/*.trs "$dir"/*/*.trs 2>/dev/null | grep -c '^:test-result: PASS')
	f=$(cat "$dir"/tests/*/*.trs "$dir"/*/*.trs 2>/dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)')
	pass=$((pass + p))
	fail=$((fail + f))
	echo "$dir: $p passed, $f failed"
}
run_build() {
	local dir=$1
	shift
	rm -rf "$dir"
	if ! sh "$top/scripts/build.sh" "$dir" "$@"; then
		echo "build in $dir failed"
		fail=$((fail + 1))
		return
	fi
	# Build every test program in parallel, then run the suites one at a time: the
	# end-to-end suites start servers and mounts of their own.
	(cd "$dir" && make -j"$(nproc)" check TESTS= >/dev/null 2>&1 && make -k check >/dev/null 2>&1)
	grep -hE '^(FAIL|ERROR|XPASS):' "$dir"/test-suite.log 2>/dev/null | head -n 50
	count "$dir"
}
run_build "$top/build-ci" --enable-werror CC=gcc
run_build "$top/build-asan" --enable-werror --enable-sanitizers CC=clang
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
