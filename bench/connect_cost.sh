#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/connect_cost.sh: what bpfmesh adds to a connect(), in the kernel.
#
# With kernel.bpf_stats_enabled=1 (restored at exit) the kernel times every
# run of every BPF program. lbclient makes BENCH_CONNECTS TCP connections
# (connect, getpeername, read the echo server's greeting, close), three ways:
#   baseline  outside the bench cgroup, straight to the server: no bpfmesh
#   miss      inside the cgroup, straight to the server: the hooks run and
#             find no service (what every other connection on a node pays)
#   service   inside the cgroup, to the service address: lookup, endpoint
#             choice, rewrite, reverse-NAT entry for getpeername()
#   protected the same to a second service whose TrafficPolicy turns every
#             protection on (outlier detection, circuit breaker, bulkhead,
#             rate limit, connect timeout) at limits this run never reaches
# and prints, per way, the ns per run of each bpfmesh program (run_time_ns /
# run_cnt of our own programs, found through our pinned links) and the wall
# time per connection against the baseline.
#
# Environment: BENCH_CONNECTS (20000), BENCH_ENDPOINTS (4).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNECTS=${BENCH_CONNECTS:-20000}
ENDPOINTS=${BENCH_ENDPOINTS:-4}
VIP=127.100.201.1
VIP2=127.100.201.2

bench_init connect_cost
[[ $CONNECTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTS must be a positive number"
if ! [[ $ENDPOINTS =~ ^[1-9][0-9]*$ ]] || [ "$ENDPOINTS" -gt 64 ]; then
	die "BENCH_ENDPOINTS must be 1..64"
fi
need bpftool:bpftool jq:jq curl:curl ss:iproute2
for b in echosrv lbclient; do
	[ -x "$E2E_BIN/$b" ] || die "build first: make (missing $E2E_BIN/$b)"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---- endpoints: an echosrv each, greeting with its name ----
ports=()
for ((i = 0; i < ENDPOINTS; i++)); do
	ports+=("$(free_port 18500 18599 "${ports[@]}")")
	"$E2E_BIN/echosrv" "ep$((i + 1))" -t "127.0.0.1:${ports[i]}" >"$TMP/echosrv$i.log" 2>&1 &
	bg $!
done

bench_cgroup
mkdir "$TMP/config"
{
	cat <<EOF
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  addresses: ["$VIP"]
  ports: [{name: tcp, port: 80, protocol: TCP}]
  loadBalancer: {policy: random}
  endpoints:
EOF
	for p in "${ports[@]}"; do
		echo "  - {address: \"127.0.0.1\", port: $p}"
	done
	cat <<EOF
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: echo-protected}
spec:
  addresses: ["$VIP2"]
  ports: [{name: tcp, port: 80, protocol: TCP}]
  loadBalancer: {policy: random}
  endpoints:
EOF
	for p in "${ports[@]}"; do
		echo "  - {address: \"127.0.0.1\", port: $p}"
	done
	cat <<EOF
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: echo-protected}
spec:
  service: echo-protected
  connectionPool: {tcp: {maxConnections: 1000000, connectTimeout: 5s}}
  outlierDetection: {consecutiveConnectFailures: 5, baseEjectionTime: 30s}
  circuitBreaker: {failureRateThreshold: 50, slidingWindowSize: 100, minimumNumberOfCalls: 100}
  rateLimit: {connectionsPerSecond: 100000000, burst: 100000000}
EOF
} >"$TMP/config/bench.yaml"
agent_start "$TMP/config"
for ((i = 0; i < 50; i++)); do
	[ "$(cat "$TMP"/echosrv*.log | grep -c '^ready')" = "$ENDPOINTS" ] && break
	sleep 0.1
done

# ---- our programs: through our pinned links, never by name alone (another
# agent on this machine has programs of the same names) ----
declare -A PROG_ID
for link in "$PIN"/links/*; do
	id=$(bpftool link show pinned "$link" --json 2>/dev/null | jq -r '.prog_id // empty')
	[ -n "$id" ] && PROG_ID[$(basename "$link")]=$id
done
[ -n "${PROG_ID[bm_connect4]:-}" ] || die "no bm_connect4 link pinned under $PIN/links"

stats() { # -> "NAME RUN_TIME_NS RUN_CNT" per program
	local name
	for name in "${!PROG_ID[@]}"; do
		bpftool prog show id "${PROG_ID[$name]}" --json |
			jq -r --arg n "$name" '"\($n) \(.run_time_ns // 0) \(.run_cnt // 0)"'
	done
}

old_stats=$(sysctl -n kernel.bpf_stats_enabled) || die "cannot read kernel.bpf_stats_enabled"
on_exit "sysctl -qw kernel.bpf_stats_enabled=$old_stats"
sysctl -qw kernel.bpf_stats_enabled=1 || die "cannot set kernel.bpf_stats_enabled"

# measure LABEL IN_CGROUP(0|1) ADDR PORT: runs lbclient, appends per-program
# deltas and the wall time to $TMP/results.
measure() {
	local label=$1 incg=$2 addr=$3 port=$4 t0 t1 before after
	before=$(stats)
	t0=$(now_ns)
	if [ "$incg" = 1 ]; then
		in_cgroup "$CG" "$E2E_BIN/lbclient" -n "$CONNECTS" "$addr" "$port" >"$TMP/lbclient.out" &
	else
		"$E2E_BIN/lbclient" -n "$CONNECTS" "$addr" "$port" >"$TMP/lbclient.out" &
	fi
	wait $!
	t1=$(now_ns)
	after=$(stats)
	failed=$(awk '$1 == "failed" { print $2 }' "$TMP/lbclient.out")
	[ "${failed:-x}" = 0 ] || die "$label: $failed of $CONNECTS connections failed: $(grep '^error' "$TMP/lbclient.out" | tr '\n' ' ')"
	echo "$label wall $((t1 - t0)) $CONNECTS" >>"$TMP/results"
	join <(sort <<<"$before") <(sort <<<"$after") |
		awk -v l="$label" '{ dt = $4 - $2; dc = $5 - $3; if (dc > 0) print l, $1, dt, dc }' \
			>>"$TMP/results"
	if [ "$label" = service ]; then
		grep '^endpoint' "$TMP/lbclient.out" | awk '{ printf "%s %s, ", $2, $3 }' |
			sed 's/, $//' >"$TMP/spread"
	fi
}

echo "connect_cost: $CONNECTS TCP connections per way (connect, getpeername, read, close);" \
	"service $VIP:80 -> $ENDPOINTS endpoints (random)"
: >"$TMP/results"
# a warm-up, so that the first way does not pay for cold caches
measure warmup 1 "$VIP" 80
: >"$TMP/results"
measure baseline 0 127.0.0.1 "${ports[0]}"
measure miss 1 127.0.0.1 "${ports[0]}"
measure service 1 "$VIP" 80
measure protected 1 "$VIP2" 80

base_ns=$(awk '$1 == "baseline" && $2 == "wall" { print $3 / $4 }' "$TMP/results")
echo
echo "connect_cost: per connection (wall: the whole connect+read+close as lbclient sees it)"
{
	printf 'WAY\tWALL/CONN\tvs baseline\tbm_connect4 NS/CALL\tbm_connect4 CALLS\tALL bm_* NS/CONN\n'
	for way in baseline miss service protected; do
		wall=$(awk -v w="$way" '$1 == w && $2 == "wall" { print $3 / $4 }' "$TMP/results")
		c4=$(awk -v w="$way" '$1 == w && $2 == "bm_connect4" { printf "%.0f", $3 / $4 }' "$TMP/results")
		c4n=$(awk -v w="$way" '$1 == w && $2 == "bm_connect4" { print $4 }' "$TMP/results")
		all=$(awk -v w="$way" -v n="$CONNECTS" '$1 == w && $2 != "wall" { s += $3 }
			END { printf "%.0f", s / n }' "$TMP/results")
		printf '%s\t%.1f us\t%s\t%s\t%s\t%s\n' "$way" "$(awk -v x="$wall" 'BEGIN { print x / 1000 }')" \
			"$(ratio "$wall" "$base_ns")" "${c4:--}" "${c4n:-0}" "$all"
	done
} | table
echo
echo "connect_cost: every bpfmesh program that ran (ns per run, runs)"
{
	printf 'WAY\tPROGRAM\tNS/RUN\tRUNS\n'
	awk '$2 != "wall" { printf "%s\t%s\t%.0f\t%d\n", $1, $2, $3 / $4, $4 }' "$TMP/results" | sort
} | table
echo "  service connections per endpoint: $(cat "$TMP/spread")"
