#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run every tests/e2e/test_*.sh (each builds and removes its own topology).
# Needs root, bpffs and a cgroup v2 mount. Under CI=true a test that cannot
# load BPF fails; elsewhere the whole suite is skipped with a reason.
set -u
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
	if [ "${CI:-}" = true ]; then echo "e2e: needs root"; exit 1; fi
	echo "e2e: skipped (needs root)"; exit 0
fi
passed=0 failed=0 failed_names=""
for t in tests/e2e/test_*.sh; do
	[ -n "${E2E_ONLY:-}" ] && [[ "$t" != *"$E2E_ONLY"* ]] && continue
	start=$(date +%s.%N)
	if timeout 300 bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names="$failed_names $(basename "$t")"; fi
	awk -v s="$start" -v e="$(date +%s.%N)" -v n="$(basename "$t")" 'BEGIN { printf "%s took %.1fs\n", n, e - s }'
done
[ -n "$failed_names" ] && echo "e2e failed:$failed_names"
mkdir -p build
echo "$passed $failed" >> build/test-counts
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
