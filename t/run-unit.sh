#!/bin/sh
# SPDX-License-Identifier: ISC
# Run every cmocka unit test of one build tree.  Prints "unit(BUILD): N passed,
# N failed" and appends the counts to $ZEST_TALLY when set.
BUILD=${1:-build}
pass=0 fail=0
for t in "$BUILD"/t/test-*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '^\[  (PASSED|FAILED) |^\[ +ERROR|ERROR|Assertion' | sed "s|^|$(basename "$t"): |"
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "$out" | tail -20
	fi
	pass=$((pass + p)) fail=$((fail + f))
done
echo "unit($BUILD): $pass passed, $fail failed"
[ -n "$ZEST_TALLY" ] && echo "$pass $fail" >> "$ZEST_TALLY"
[ "$fail" = 0 ]
