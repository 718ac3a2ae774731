#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run the libFuzzer harnesses built by `make fuzz-build`: run.sh [--ci]
# SECONDS [NAME...], every harness when no NAME is given. Each takes one core:
# FUZZ_JOBS of them (default: the number of cores) run at once, so every
# harness still gets SECONDS of a core; the lines come out in NAME order.
#
# Each run first replays the seeds of tests/fuzz/corpus/NAME/ and what earlier
# runs kept in build-fuzz/corpus/NAME/ (new inputs go there, never into the
# source tree), then mutates for SECONDS. A crash, a leak, a timeout, running
# out of memory or any sanitizer report fails the harness; the input that did
# it is kept in build-fuzz/crashes/NAME/ and its log in
# build-fuzz/logs/NAME.log. One line per harness gives runs, executions per
# second and coverage (libFuzzer's cov: edges, ft: features, corp: inputs).
# --ci: record the counts for tests/run-all.sh.
set -u
cd "$(dirname "$0")/../.."
out=${FUZZ_BUILD:-build-fuzz}
ci=0
if [ "${1:-}" = "--ci" ]; then ci=1; shift; fi
secs=${1:?usage: run.sh [--ci] SECONDS [NAME...]}
shift
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do n=${f#tests/fuzz/fuzz_}; names+=("${n%.c}"); done
fi

# UBSan halts on the first report (the objects are also built with
# -fno-sanitize-recover); ASan checks leaks at the end of each input.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

# fuzz_one NAME: run one harness; its summary goes to $out/logs/NAME.result,
# whose first line is "ok" or "FAIL"
fuzz_one() {
	local n=$1 bin=$out/fuzz_$1 seeds=tests/fuzz/corpus/$1 log rc runs eps cov edges
	mkdir -p "$out/corpus/$n" "$out/crashes/$n" "$out/logs"
	log=$out/logs/$n.log
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		printf 'FAIL\nfuzz %s: FAIL (no %s or no %s)\n' "$n" "$bin" "$seeds"
		return
	fi
	local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192
		-print_final_stats=1 -artifact_prefix="$out/crashes/$n/")
	[ -f "tests/fuzz/$n.dict" ] && args+=(-dict="tests/fuzz/$n.dict")
	"$bin" "${args[@]}" "$out/corpus/$n" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[^ ]*' "$log" | tail -1)
	# the edges instrumented in what the harness links, for a proportion
	edges=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
	if [ $rc -eq 0 ]; then
		printf 'ok\nfuzz %s: ok, %ss, %s runs, %s exec/s, %s, edges %s\n' \
			"$n" "$secs" "${runs:-?}" "${eps:-?}" "$cov" "${edges:-?}"
	else
		printf 'FAIL\nfuzz %s: FAIL (exit %s), input kept in %s/crashes/%s/, log %s:\n' \
			"$n" "$rc" "$out" "$n" "$log"
		grep -E -m 8 'ERROR: |runtime error|contract broken|SUMMARY|Test unit written' "$log"
	fi
}

jobs=${FUZZ_JOBS:-$(nproc)}
mkdir -p "$out/logs"
for n in "${names[@]}"; do
	rm -f "$out/logs/$n.result"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	fuzz_one "$n" >"$out/logs/$n.result.tmp" 2>&1 &&
		mv "$out/logs/$n.result.tmp" "$out/logs/$n.result" &
done
wait
passed=0 failed=0
for n in "${names[@]}"; do
	r=$out/logs/$n.result
	if [ "$(head -1 "$r" 2>/dev/null)" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	if [ -f "$r" ]; then tail -n +2 "$r"; else echo "fuzz $n: FAIL (the runner gave no result)"; fi
done
if [ $ci -eq 1 ]; then
	mkdir -p build
	echo "$passed $failed" >>"${TEST_COUNTS:-build/test-counts}"
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
