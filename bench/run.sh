#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/run.sh: every benchmark (`make bench`), or the ones named:
#   bench/run.sh [http_overhead] [connect_cost] [eject] [scale] [capture] [metrics]
#                [kube_converge]
# Each prints figures and ratios against a baseline measured in the same
# run; none passes or fails on a threshold. See bench/README.md.
set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL="http_overhead connect_cost eject scale capture metrics kube_converge"
benches=${*:-$ALL}

for b in $benches; do
	[ -x "$BENCH_DIR/$b.sh" ] || {
		echo "bench: unknown benchmark '$b' (have: $ALL)" >&2
		exit 2
	}
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "bpfmesh bench: $(uname -r), $(nproc) CPUs (${cpu:-unknown}), $(git -C "$BENCH_DIR" \
	describe --always --dirty 2>/dev/null || echo "no git")"
[ "$(nproc)" -le 4 ] &&
	echo "  (few CPUs: client, proxy and server share them; compare ratios, not absolutes)"

failed=()
start=$(date +%s)
for b in $benches; do
	echo
	echo "=== $b"
	t0=$(date +%s)
	# a benchmark cleans up after itself on every exit, Ctrl-C included
	"$BENCH_DIR/$b.sh"
	rc=$?
	[ "$rc" = 130 ] && exit 130
	[ "$rc" = 0 ] || failed+=("$b")
	echo "=== $b: $(($(date +%s) - t0)) s"
done
echo
echo "bench: $(($(date +%s) - start)) s in all${failed[*]:+; could not run: ${failed[*]}}"
[ ${#failed[@]} = 0 ]
