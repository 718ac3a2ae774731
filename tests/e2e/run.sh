#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Run every tests/e2e/test_*.sh (each builds and removes its own topology),
# or the ones given as arguments (run.sh tests/e2e/test_a.sh ...), of those
# the ones whose name contains $E2E_ONLY. Needs root, bpffs and a cgroup v2
# mount: without root the suite fails under CI=true and is skipped with a
# reason elsewhere. First the agent must load and attach its programs (an
# empty configuration, a cgroup and pin dir of its own): when it cannot, the
# suite fails at once with the agent's reason instead of every test waiting
# for an agent that never gets ready.
set -u
cd "$(dirname "$0")/../.."
record() {
	local f="${TEST_COUNTS:-build/test-counts}"
	mkdir -p "$(dirname "$f")" && echo "$1 $2" >>"$f"
}
if [ "$(id -u)" -ne 0 ]; then
	if [ "${CI:-}" = true ]; then echo "e2e: needs root"; record 0 1; exit 1; fi
	echo "e2e: skipped (needs root)"; exit 0
fi

# probe_bpf: start the agent on an empty configuration until it is ready (or
# exits, or 60 s pass); prints its log and returns 1 when it never got ready
probe_bpf() {
	local cgroot cg pins tmp port pid ok=1
	cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$cgroot" ] || { echo "no cgroup v2 mount"; return 1; }
	cg="$cgroot/bpfmesh-probe-$$" pins="/sys/fs/bpf/bpfmesh-probe-$$"
	tmp=$(mktemp -d /tmp/bpfmesh-probe.XXXXXX)
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$cg" "$tmp/conf"
	"${BUILD:-build}/bpfmesh" agent --config "$tmp/conf" --cgroup "$cg" --bpffs "$pins" \
		--listen "127.0.0.1:$port" > "$tmp/agent.log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		if curl -sf "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ok=0; break; fi
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	kill "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	"${BUILD:-build}/bpfmesh" detach --bpffs "$pins" --cgroup "$cg" > /dev/null 2>&1
	rmdir "$cg" 2> /dev/null
	rm -rf "$pins"
	[ "$ok" -ne 0 ] && tail -20 "$tmp/agent.log"
	rm -rf "$tmp"
	return $ok
}
start=$(date +%s.%N)
if ! why=$(probe_bpf); then
	echo "e2e: the agent cannot load and attach its programs here; no end-to-end test can run:"
	echo "$why" | sed 's/^/  /'
	record 0 1
	exit 1
fi
awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "e2e: the agent loads its programs (%.1fs)\n", e - s }'

passed=0 failed=0 failed_names="" ran=0
faillog="${TEST_FAILLOG:-${BUILD:-build}/test-failures}"
outlog=$(mktemp /tmp/bpfmesh-e2e-out.XXXXXX) took=$(mktemp /tmp/bpfmesh-e2e-took.XXXXXX)
trap 'rm -f "$outlog" "$took"' EXIT
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/e2e/test_*.sh)
for t in "${tests[@]}"; do
	[ -n "${E2E_ONLY:-}" ] && [[ "$t" != *"$E2E_ONLY"* ]] && continue
	ran=$((ran + 1))
	start=$(date +%s.%N)
	# the output goes through a file to repeat a failed test's FAIL lines
	# at the end, where a CI log that shows only its tail still names what
	# broke (a file, not a pipe: a process the test leaves behind must not
	# hold the suite up)
	timeout -k 30 300 bash "$t" >"$outlog" 2>&1
	rc=$?
	cat "$outlog"
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)) failed_names="$failed_names $(basename "$t")"
		{
			echo "$(basename "$t") (${BUILD:-build}):"
			grep -a -E '\] FAIL|^FAIL' "$outlog" | head -20 | sed 's/^/  /'
			echo "  last lines:"
			tail -n 8 "$outlog" | sed 's/^/    /'
		} >>"$faillog"
	fi
	awk -v s="$start" -v e="$(date +%s.%N)" -v n="$(basename "$t")" 'BEGIN { printf "%s took %.1fs\n", n, e - s }' |
		tee -a "$took"
done
# where the stage's time goes, for whoever makes it shorter
[ "$ran" -gt 1 ] && echo "e2e: slowest: $(sort -t' ' -k3 -rn "$took" | head -10 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $3 }')"
if [ "$ran" -eq 0 ]; then
	echo "e2e: E2E_ONLY=${E2E_ONLY:-} matches no tests/e2e/test_*.sh"
	failed=1
fi
[ -n "$failed_names" ] && echo "e2e failed:$failed_names"
record "$passed" "$failed"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
