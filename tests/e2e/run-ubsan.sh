#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The end-to-end suite on the UBSan build (`make test-e2e-ubsan` builds it in
# build-ubsan): every agent, CLI call and test helper of tests/e2e is that
# build's. A report stops the process at once (halt_on_error, and the code is
# built with -fno-sanitize-recover), which most tests notice; each report is
# also written to build-ubsan/ubsan/, so a report in a process whose exit no
# check looks at (a CLI call whose output is ignored, an agent stopped by the
# test) still fails the run, counted as one more failed test.
set -u
cd "$(dirname "$0")/../.."
dir=$PWD/build-ubsan/ubsan
rm -rf "$dir"
mkdir -p "$dir"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$dir/report"
BUILD=build-ubsan tests/e2e/run.sh
rc=$?
reports=$(find "$dir" -type f | sort)
if [ -n "$reports" ]; then
	echo "e2e-ubsan: $(echo "$reports" | wc -l) UBSan report(s):"
	for r in $reports; do
		echo "--- $r"
		head -20 "$r"
	done
	echo "0 1" >>"${TEST_COUNTS:-build/test-counts}"
	rc=1
fi
exit $rc
