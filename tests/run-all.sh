#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make test`: build, style and static checks (clang-format, cppcheck), unit
# tests, unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (gcc)
# and under clang's UBSan, a short run of every fuzzer (seeds replayed, then
# 10 s of mutation each, one per core at a time), in-kernel program tests
# (BPF_PROG_TEST_RUN), the Kubernetes manifests and the image (make
# test-deploy), end-to-end tests on the real kernel, the C-heavy half of them
# again with the agent and CLI built with clang's UBSan (tests/e2e/
# run-ubsan.sh says which and why), and the agent on Debian 12's own kernels
# in qemu (make test-kernels). The stages that compile do it on every core
# (make -j, MAKE_JOBS); tests run one after the other, but the fuzzers. Every
# stage runs even when an earlier one failed; the last lines name the failed
# tests with their FAIL lines, each stage's time, and sum them up.
set -u
cd "$(dirname "$0")/.."
# E2E_ONLY narrows the end-to-end stage to some tests: a CI run that
# inherited it would pass having run almost nothing
if [ -n "${E2E_ONLY:-}" ]; then
	if [ "${CI:-}" = true ]; then
		echo "make test: E2E_ONLY=$E2E_ONLY is set; under CI=true every test runs: unset it"
		exit 1
	fi
	echo "=== E2E_ONLY=$E2E_ONLY: only the end-to-end tests whose name contains it run"
fi
# each suite appends "passed failed" to TEST_COUNTS (skips to TEST_SKIPS), in
# the build directory so that runs in different ones do not mix
out="${BUILD:-build}"
mkdir -p "$out"
export TEST_COUNTS="$out/test-counts" TEST_SKIPS="$out/test-skips" TEST_FAILLOG="$out/test-failures"
rm -f "$TEST_COUNTS" "$TEST_SKIPS" "$TEST_FAILLOG"
status=0 times=""
stage() {
	local name=$1 t0=$SECONDS
	echo "=== $name"
	shift
	if ! "$@"; then
		echo "=== stage failed: $*"
		echo "stage $name failed: $*" >>"$TEST_FAILLOG"
		status=1
	fi
	times="$times $name $((SECONDS - t0))s"
}
# MAKE_JOBS=N for fewer on a machine others share
jobs=-j${MAKE_JOBS:-$(nproc)}
stage build make -s "$jobs" all
stage check make -s check # clang-format and cppcheck
stage unit make -s "$jobs" test-unit
stage unit-asan make -s "$jobs" test-unit-asan
stage unit-ubsan make -s "$jobs" test-unit-ubsan
stage fuzz make -s "$jobs" test-fuzz
stage bpf make -s "$jobs" test-bpf
stage deploy make -s test-deploy # manifests, RBAC, the image under podman
stage e2e make -s test-e2e
stage e2e-ubsan make -s "$jobs" test-e2e-ubsan
stage kernels make -s test-kernels # Debian 12's 6.1 and 6.12 in qemu
passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < "$TEST_COUNTS"
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1 # a stage that failed before counting
if [ -s "$TEST_FAILLOG" ]; then
	echo "=== what failed"
	cat "$TEST_FAILLOG"
fi
echo "stage times:$times"
skipped=$(awk '{ s += $1 } END { print s + 0 }' "$TEST_SKIPS" 2>/dev/null || echo 0)
echo "total: $passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")$([ -n "${E2E_ONLY:-}" ] && echo " (E2E_ONLY=$E2E_ONLY)")"
exit $status
