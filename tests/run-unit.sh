#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run the cmocka unit test binaries given as arguments; print one summary
# line and record the counts for tests/summary.sh.
set -u
passed=0 failed=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	echo "$out"
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); echo "FAIL: $t exited $rc"; fi
done
mkdir -p build
echo "$passed $failed" >> build/test-counts
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
