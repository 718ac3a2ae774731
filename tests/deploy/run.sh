#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make test-deploy`: every tests/deploy/test_* (the Kubernetes manifests and
# the image). Each prints one "[name] ok: ..." or "[name] FAIL: ..." line per
# check; this counts them into $TEST_COUNTS and "[name] SKIP: ..." lines into
# $TEST_SKIPS, and fails when a check failed or a test exited non-zero.
set -u
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
log=$(mktemp /tmp/bpfmesh-deploy.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0 passed=0 failed=0 skipped=0
for t in tests/deploy/test_*; do
	[ -x "$t" ] || continue
	echo "--- $t"
	"$t" >"$log" 2>&1 || status=1
	cat "$log"
	p=$(grep -c '^\[[a-z_]*\] ok:' "$log") f=$(grep -c '^\[[a-z_]*\] FAIL:' "$log")
	s=$(grep -c '^\[[a-z_]*\] SKIP:' "$log")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "$t: ran no check"
		failed=$((failed + 1)) status=1
	fi
done
[ "$failed" -gt 0 ] && status=1
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed $failed" >>"${TEST_COUNTS:-$BUILD/test-counts}"
echo "$skipped" >>"${TEST_SKIPS:-$BUILD/test-skips}"
echo "deploy: $passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
exit $status
