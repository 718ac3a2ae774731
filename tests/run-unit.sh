#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run the cmocka unit test binaries given as arguments; print one summary
# line and record the counts for tests/run-all.sh (skips apart, in
# $TEST_SKIPS, build/test-skips by default). A test that skipped (cmocka's skip()) ran nothing: under
# CI=true it counts as failed, elsewhere the summary line says how many.
set -u
passed=0 failed=0 skipped=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	echo "$out"
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	s=$(echo "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); echo "FAIL: $t exited $rc"; fi
	if [ -n "$s" ] && [ "${CI:-}" = true ]; then echo "FAIL: $t skipped $s test(s), which CI=true does not accept"; fi
done
if [ "${CI:-}" = true ]; then
	failed=$((failed + skipped))
	skipped=0
fi
mkdir -p build
echo "$passed $failed" >> "${TEST_COUNTS:-build/test-counts}"
echo "$skipped" >> "${TEST_SKIPS:-build/test-skips}"
summary="unit: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
