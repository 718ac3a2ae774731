#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/inject.sh: what traceparent injection (Telemetry propagation.inject)
# costs on top of capture.
#
# nginx (1 worker, a fixed small 200 answer) and wrk both run in the bench
# cgroup, the agent (sampling 1.0, no OTLP) captures both ends; wrk's
# requests get a traceparent when injection is on. Two parts:
#
#  1. overhead: wrk with injection off and on (a fresh agent per run),
#     alternated round by round; keep-alive and "Connection: close"
#     (a new connection per request: connect4 + sockops + the sockhash
#     insert as well); medians of req/s, p50 and p99, and on/off ratios.
#  2. program cost: kernel.bpf_stats_enabled=1 (restored at exit) during a
#     keep-alive and a close run with injection on: run_time_ns / run_cnt of
#     bm_inject_msg (per send, here one request each) and of the per-socket
#     programs (bm_inject_c4, bm_inject_ops).
#
# On a kernel where the injection self-test fails (6.18: the sockmap FIONREAD
# regression) the agent refuses injection; the bench then runs the agents
# with BPFMESH_INJECT_SELFTEST=ignore to measure the programs anyway, and
# says so.
#
# Environment: BUILD (default build), BENCH_ROUNDS (5), BENCH_DURATION (3),
# BENCH_CONNECTIONS (16), BENCH_THREADS (1).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-3}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-1}

bench_init inject
for v in ROUNDS DURATION CONNS THREADS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
need wrk:wrk nginx:nginx-light curl:curl ss:iproute2 jq:jq bpftool:bpftool
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NGINX_PORT=$(free_port 18700 18799)
TOKEN=bpfmesh-bench-$$
bench_cgroup
nginx_start "$NGINX_PORT" "$TOKEN" "$CG"
URL=http://127.0.0.1:$NGINX_PORT/
nginx_wait "$URL" "$TOKEN"

for state in off on; do
	mkdir "$TMP/config-$state"
	inject=false
	[ $state = on ] && inject=true
	cat >"$TMP/config-$state/bench.yaml" <<EOF
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: nginx}
spec:
  addresses: ["127.100.202.1"]
  ports: [{name: http, port: 80, targetPort: $NGINX_PORT}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: bench}
spec:
  sampling: {ratio: 1.0}
  propagation: {inject: $inject}
EOF
done

in_cg() {
	in_cgroup "$CG" "$@" &
	wait $!
}
parse_wrk() {
	awk '
	function us(v) {
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /s$/) return v * 1000000
		return v + 0
	}
	/^ +50%/ { p50 = us($2) }
	/^ +99%/ { p99 = us($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx/ { err += $NF }
	END { printf "%s %s %s %d\n", rps, p50, p99, err }'
}
status_field() { curl -sf -m 5 "http://$AGENT_LISTEN/api/v1/status" | jq -r "$1"; }
# The agent for STATE; with injection on, its state must be "on" (or the
# self-test's failure, ignored: SELFTEST_NOTE says so).
SELFTEST_NOTE=""
start_for() {
	local st=""
	if [ "$1" = on ] && [ -n "$SELFTEST_NOTE" ]; then
		BPFMESH_INJECT_SELFTEST=ignore agent_start "$TMP/config-on"
	else
		agent_start "$TMP/config-$1"
	fi
	[ "$1" = off ] && return 0
	for ((i = 0; i < 100; i++)); do
		st=$(status_field .tracing.injection)
		[ -n "$st" ] && [ "$st" != "off: not configured" ] && break
		sleep 0.1
	done
	case "$st" in
	on) ;;
	"on: self-test failed, ignored"*) ;;
	"off: self-test failed"*)
		[ -n "$SELFTEST_NOTE" ] && die "injection: $st"
		SELFTEST_NOTE=$st
		echo "inject: $st; measuring with BPFMESH_INJECT_SELFTEST=ignore" >&2
		agent_stop
		start_for on
		;;
	*) die "injection did not come on: $st" ;;
	esac
}
prog_id() { # NAME: the newest program NAME: the agent just loaded it (its
	# programs are not pinned, and bpftool may not list the owners' pids)
	bpftool -j prog show 2>/dev/null | jq -r --arg n "$1" '.[] | select(.name == $n) | .id' |
		sort -n | tail -n 1
}
prog_stats() {
	bpftool -j prog show id "$1" 2>/dev/null | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# ======================= 1. overhead: injection on vs off ==================
echo "inject 1/2: wrk -t$THREADS -c$CONNS against nginx (1 worker), both in the bench cgroup," \
	"capture on; injection off vs on; $ROUNDS rounds x ${DURATION}s"
: >"$TMP/results"
for mode in keep-alive close; do
	hdr=()
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	for ((r = 1; r <= ROUNDS; r++)); do
		order="off on"
		[ $((r % 2)) = 0 ] && order="on off"
		for state in $order; do
			start_for "$state"
			in_cg wrk -t"$THREADS" -c"$CONNS" -d1s "${hdr[@]}" "$URL" >/dev/null 2>&1
			in_cg wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" "$URL" \
				>"$TMP/wrk.out" 2>&1 || die "wrk failed: $(tail -n 3 "$TMP/wrk.out")"
			read -r rps p50 p99 err < <(parse_wrk <"$TMP/wrk.out")
			extra=""
			[ "$state" = on ] &&
				extra="  injected $(status_field .tracing.injectionCounts.injected)"
			printf '  %-10s round %d  %-3s  %8.0f req/s  p50 %5.0f us  p99 %6.0f us  errors %s%s\n' \
				"$mode" "$r" "$state" "$rps" "$p50" "$p99" "$err" "$extra"
			echo "$mode $state $rps $p50 $p99" >>"$TMP/results"
			agent_stop
		done
	done
done
echo
col() { # MODE STATE COLUMN: the median of a column of the results
	awk -v m="$1" -v s="$2" -v c="$3" '$1 == m && $2 == s { print $c }' "$TMP/results" | median
}
{
	printf 'mode\tinjection\treq/s\tp50 us\tp99 us\n'
	for mode in keep-alive close; do
		for state in off on; do
			printf '%s\t%s\t%.0f\t%.0f\t%.0f\n' "$mode" "$state" "$(col $mode $state 3)" \
				"$(col $mode $state 4)" "$(col $mode $state 5)"
		done
		printf '%s\ton/off\t%s\t%s\t%s\n' "$mode" \
			"$(ratio "$(col $mode on 3)" "$(col $mode off 3)")" \
			"$(ratio "$(col $mode on 4)" "$(col $mode off 4)")" \
			"$(ratio "$(col $mode on 5)" "$(col $mode off 5)")"
	done
} | table

# ======================= 2. program cost (bpf_stats) =======================
echo
echo "inject 2/2: kernel.bpf_stats_enabled=1 during a keep-alive and a close run of ${DURATION}s"
old_stats=$(cat /proc/sys/kernel/bpf_stats_enabled)
on_exit "echo $old_stats >/proc/sys/kernel/bpf_stats_enabled"
for mode in keep-alive close; do
	hdr=()
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	start_for on
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	in_cg wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "${hdr[@]}" "$URL" >"$TMP/wrk.out" 2>&1
	echo "$old_stats" >/proc/sys/kernel/bpf_stats_enabled
	for p in bm_inject_msg bm_inject_c4 bm_inject_ops; do
		id=$(prog_id $p)
		[ -n "$id" ] || {
			echo "  $mode $p: not found"
			continue
		}
		read -r ns cnt < <(prog_stats "$id")
		printf '  %-10s %-14s runs %9s  %s ns/run\n' "$mode" "$p" "$cnt" \
			"$(ratio "$ns" "$cnt" 0)"
	done
	echo "  $mode: $(status_field .tracing.injectionCounts.injected) requests injected"
	agent_stop
done
[ -n "$SELFTEST_NOTE" ] && echo "note: $SELFTEST_NOTE (measured with BPFMESH_INJECT_SELFTEST=ignore)"
exit 0
