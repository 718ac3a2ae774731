#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make test`: build, style and static checks (clang-format, cppcheck), unit
# tests, unit tests under AddressSanitizer and UndefinedBehaviorSanitizer,
# in-kernel program tests (BPF_PROG_TEST_RUN), end-to-end tests on the real
# kernel, and the agent on Debian 12's own kernels in qemu (make test-kernels,
# a few minutes under software emulation). Every stage runs even when an
# earlier one failed; the last line sums them up.
set -u
cd "$(dirname "$0")/.."
mkdir -p build
rm -f build/test-counts
status=0
stage() {
	echo "=== $1"
	shift
	if ! "$@"; then
		echo "=== stage failed: $*"
		status=1
	fi
}
stage build make -s all
stage check make -s check # clang-format and cppcheck
stage unit make -s test-unit
stage unit-asan make -s test-unit-asan
stage bpf make -s test-bpf
stage e2e make -s test-e2e
stage kernels make -s test-kernels # Debian 12's 6.1 and 6.12 in qemu
passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < build/test-counts
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1 # a stage that failed before counting
echo "total: $passed passed, $failed failed"
exit $status
