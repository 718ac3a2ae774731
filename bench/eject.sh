#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/eject.sh: what one dead endpoint costs the clients.
#
# lbclient makes new connections through a service address to 3 endpoints
# for BENCH_SECONDS (10); after a second, one endpoint's server is killed.
# Two ways, alternated BENCH_ROUNDS (3) times each:
#   plain    the service without a TrafficPolicy: connections keep being
#            balanced to the dead endpoint (what a socket or IPVS load
#            balancer without outlier detection does)
#   ejecting the same with outlierDetection.consecutiveConnectFailures: 3
# and prints the failed connections of each run and, for ejecting, the time
# from the kill to the kernel's ejection (its ring-buffer event, logged by the
# agent with millisecond timestamps). Envoy's defaults are compared on paper
# in bench/README.md.
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
VIP=127.100.202.1

bench_init eject
need curl:curl
for b in echosrv lbclient; do
	[ -x "$E2E_BIN/$b" ] || die "build first: make (missing $E2E_BIN/$b)"
done
bench_cgroup
mkdir "$TMP/config"
ports=()
for i in 0 1 2; do ports+=("$(free_port 18600 18699 "${ports[@]}")"); done

write_config() { # with_policy(0|1)
	{
		cat <<EOF
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: shop}
spec:
  addresses: ["$VIP"]
  ports: [{name: tcp, port: 80, protocol: TCP}]
  loadBalancer: {policy: roundRobin}
  endpoints:
EOF
		for p in "${ports[@]}"; do echo "  - {address: \"127.0.0.1\", port: $p}"; done
		if [ "$1" = 1 ]; then
			cat <<EOF
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: shop}
spec:
  service: shop
  outlierDetection: {consecutiveConnectFailures: 3, baseEjectionTime: 30s, maxEjectionPercent: 34}
EOF
		fi
	} >"$TMP/config/shop.yaml"
}

start_endpoints() {
	EP_PIDS=()
	for i in 0 1 2; do
		"$E2E_BIN/echosrv" "ep$i" -t "127.0.0.1:${ports[i]}" >"$TMP/ep$i.log" 2>&1 &
		EP_PIDS+=($!)
		bg $!
	done
	sleep 0.2
}

# run WAY: one run; appends "WAY failed N total T eject_ms E" to results
run() {
	local way=$1 kill_ns ej_ms=- line client
	write_config "$([ "$way" = ejecting ] && echo 1 || echo 0)"
	start_endpoints
	agent_start "$TMP/config"
	in_cgroup "$CG" "$E2E_BIN/lbclient" -T "$SECONDS_RUN" "$VIP" 80 >"$TMP/client.out" &
	client=$!
	sleep 1
	kill_ns=$(now_ns)
	kill -9 "${EP_PIDS[1]}"
	wait "${EP_PIDS[1]}" 2>/dev/null
	wait "$client"
	if [ "$way" = ejecting ]; then
		line=$(grep -m1 ' ejected: ' "$AGENT_LOG" | cut -d' ' -f1)
		[ -n "$line" ] && ej_ms=$(awk -v k="$kill_ns" -v t="$(date -d "$line" +%s%N)" \
			'BEGIN { printf "%.0f", (t - k) / 1e6 }')
	fi
	echo "$way failed $(awk '$1 == "failed" { print $2 }' "$TMP/client.out")" \
		"total $(awk '$1 == "total" { print $2 }' "$TMP/client.out") eject_ms $ej_ms" >>"$TMP/results"
	agent_stop
	for p in "${EP_PIDS[@]}"; do stop_pid "$p" 1; done
	: >"$AGENT_LOG"
}

echo "eject: ${SECONDS_RUN}s of new connections to 3 endpoints, one killed after 1 s; $ROUNDS rounds"
: >"$TMP/results"
for ((r = 0; r < ROUNDS; r++)); do
	run plain
	run ejecting
done
{
	printf 'WAY\tFAILED (each run)\tCONNECTIONS (median)\tKILL -> EJECTED (ms, each run)\n'
	for way in plain ejecting; do
		printf '%s\t%s\t%s\t%s\n' "$way" \
			"$(awk -v w="$way" '$1 == w { printf "%s ", $3 }' "$TMP/results")" \
			"$(awk -v w="$way" '$1 == w { print $5 }' "$TMP/results" | median)" \
			"$(awk -v w="$way" '$1 == w { printf "%s ", $7 }' "$TMP/results")"
	done
} | table
echo "  (the agent log has millisecond timestamps: 0 ms means within the same millisecond)"
