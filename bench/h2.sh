#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/h2.sh: what HTTP/2 capture costs, beside HTTP/1.1 on the same server.
#
# One nginx (1 worker, a fixed small 200 answer) listens twice on 127.0.0.1:
# HTTP/1.1 and h2c (prior knowledge). h2load runs in the bench cgroup with the
# server, so both ends of every request are captured (a CLIENT and a SERVER
# span per request). The same concurrency both ways: HTTP/1.1 -c16 (one
# request in flight per connection), h2 -c2 -m8 (8 streams in flight on each
# of 2 connections). Two parts:
#
#  1. overhead: h2load with capture off (no agent) and on (the agent running,
#     Telemetry sampling 1.0), alternated round by round; medians of req/s and
#     of p99 (from h2load's per-request log); the agent's HTTP/2 counters
#     (requests, desynchronised, kernel stops) for the on runs.
#  2. program cost: kernel.bpf_stats_enabled=1 (the old value is restored at
#     exit) over one h2load run per protocol: run_time_ns / run_cnt of the
#     cgroup_skb capture programs, ns per request summed over both, and for
#     h2 ns per frame (the frames the agent put back together, over both
#     sockets) and capture records per request.
#  3. zero-drop rate (as bench/capture.sh part 2 does for HTTP/1.1): h2load
#     h2c -c2 -m8 at a fixed rate (--rps, per client: half the rate asked)
#     for BENCH_STEP_SECONDS, a freshly started agent per rate, rates raised
#     until a step loses data or cannot be reached. Lost data: the kernel's
#     capture drops (pinned http_drops: ring and other), the builder's drops
#     (not sampled_out), the agent's HTTP/2 stops and desynchronised requests,
#     and requests the agent did not see (h2load's successes times two, a
#     CLIENT and a SERVER side each).
#
# Environment: BUILD (default build), BENCH_ROUNDS (5), BENCH_REQUESTS per
# h2load run (100000), BENCH_PARTS (default "1 2 3"), BENCH_H2_RATES (part
# 3's rates in req/s, "5000 10000 20000 30000 40000 50000 60000 80000"),
# BENCH_STEP_SECONDS (4).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
REQS=${BENCH_REQUESTS:-100000}
PARTS=${BENCH_PARTS:-1 2 3}
RATES=${BENCH_H2_RATES:-5000 10000 20000 30000 40000 50000 60000 80000}
STEP=${BENCH_STEP_SECONDS:-4}
PROGS="bm_http_egress bm_http_ingress"

bench_init h2
for v in ROUNDS REQS STEP; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
[[ $PARTS =~ ^[123\ ]+$ ]] || die "BENCH_PARTS: a list of 1, 2 and 3"
[[ $RATES =~ ^[0-9\ ]+$ ]] || die "BENCH_H2_RATES: request rates"
need h2load:nghttp2-client nginx:nginx-light curl:curl jq:jq bpftool:bpftool ss:iproute2
bench_cgroup
P1=$(free_port 18700 18799)
P2=$(free_port 18700 18799 "$P1")
mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 10000000;
    http2_max_requests 10000000;
    server {
        listen 127.0.0.1:$P1 backlog=4096;
        listen 127.0.0.1:$P2 http2 backlog=4096;
        default_type text/plain;
        location / { return 200 "bench\n"; }
    }
}
EOF
in_cgroup "$CG" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
	>"$TMP/nginx/logs/stdout" 2>&1 &
bg $!
for ((i = 0; i < 50; i++)); do
	curl -sf -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$P2/" && break
	sleep 0.1
done
mkdir "$TMP/config"
cat >"$TMP/config/bench.yaml" <<EOF
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: bench}
spec:
  sampling: {ratio: 1.0}
EOF

# h2load PROTO: one run in the bench cgroup; prints "req/s p99_us"
run_load() {
	local args
	if [ "$1" = h1 ]; then
		args=(--h1 -c16 -m1 "http://127.0.0.1:$P1/")
	else
		args=(-c2 -m8 "http://127.0.0.1:$P2/")
	fi
	rm -f "$TMP/h2load.log"
	in_cgroup "$CG" h2load -n "$REQS" --log-file="$TMP/h2load.log" "${args[@]}" \
		>"$TMP/h2load.out" 2>&1 &
	wait $! || die "h2load failed: $(tail -n 3 "$TMP/h2load.out")"
	grep -q "succeeded, 0 failed" "$TMP/h2load.out" ||
		die "h2load: requests failed: $(grep '^requests:' "$TMP/h2load.out")"
	printf '%s %s\n' "$(awk '/^finished in/ { print $4 }' "$TMP/h2load.out")" \
		"$(awk '{ print $3 }' "$TMP/h2load.log" | sort -n |
			awk '{ v[NR] = $1 } END { print v[int(NR * 0.99)] }')"
}

api() { curl -sf -m 5 "http://$AGENT_LISTEN/api/v1/config" | jq -c '.tracing.http2'; }

# The kernel's capture drops (pinned per-CPU http_drops, summed; index 0 the
# ring, 1-4 the others, 5 on TLS connections and no drops), as capture.sh.
kernel_drops() {
	bpftool -j map dump pinned "$PIN/maps/http_drops" 2>/dev/null | jq -r '
		def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 +
			(if $c >= 97 then $c - 87 elif $c >= 65 then $c - 55 else $c - 48 end));
		def num: if type == "array" then reverse | reduce .[] as $b (0; . * 256 + ($b | hex))
			elif type == "string" then hex else . end;
		[.[] | {k: (.formatted.key // .key | num),
			n: ((.formatted.values // .values) | map(.value | num) | add // 0)}
			| select(.k < 5) | .n] | add // 0'
}

# From /api/v1/config: "builder-drops(not sampled_out) h2-stops h2-desync
# h2-requests spans"
drop_nums() {
	curl -sf -m 5 "http://$AGENT_LISTEN/api/v1/config" | jq -r '.tracing // {} |
		[((.builderDrops // {}) | to_entries | map(select(.key != "sampled_out") | .value)
			| add // 0), .http2.stops // 0, .http2.desyncRequests // 0,
		 .http2.requests // 0, .spans // 0] | @tsv'
}

# ======================= 1. overhead ========================================
: >"$TMP/results"
: >"$TMP/h2stats"
if [[ " $PARTS " == *" 1 "* ]]; then
echo "h2 1/2: h2load -n $REQS, HTTP/1.1 -c16 and h2 -c2 -m8, capture off/on, $ROUNDS rounds" >&2
for ((r = 0; r < ROUNDS; r++)); do
	order="off on"
	((r % 2)) && order="on off"
	for state in $order; do
		[ "$state" = on ] && agent_start "$TMP/config"
		for proto in h1 h2; do
			echo "$proto $state $(run_load $proto)" >>"$TMP/results"
		done
		if [ "$state" = on ]; then
			api >>"$TMP/h2stats"
			agent_stop
		fi
	done
done
fi

# ======================= 2. program cost ====================================
: >"$TMP/cost"
if [[ " $PARTS " == *" 2 "* ]]; then
echo "h2 2/2: bpf_stats over one h2load run per protocol" >&2
agent_start "$TMP/config"
old_stats=$(cat /proc/sys/kernel/bpf_stats_enabled)
on_exit "echo $old_stats >/proc/sys/kernel/bpf_stats_enabled"
ids=""
for p in $PROGS; do
	id=$(bpftool -j link show pinned "$PIN/links/$p" 2>/dev/null | jq -r '.prog_id // empty')
	[ -n "$id" ] || die "no pinned link $PIN/links/$p"
	ids="$ids $id"
done
prog_sum() { # run_time_ns run_cnt over the capture programs
	for id in $ids; do bpftool -j prog show id "$id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'; done |
		awk '{ ns += $1; n += $2 } END { print ns, n }'
}
for proto in h1 h2; do
	f0=$(api | jq -r '.frames // 0') r0=$(api | jq -r '.records // 0')
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	read -r ns0 n0 < <(prog_sum)
	run_load "$proto" >/dev/null
	read -r ns1 n1 < <(prog_sum)
	echo "$old_stats" >/proc/sys/kernel/bpf_stats_enabled
	sleep 0.5
	f1=$(api | jq -r '.frames // 0') r1=$(api | jq -r '.records // 0')
	echo "$proto $((ns1 - ns0)) $((n1 - n0)) $((f1 - f0)) $((r1 - r0))" >>"$TMP/cost"
done
agent_stop
fi

# ======================= 3. zero-drop rate ==================================
: >"$TMP/steps"
if [[ " $PARTS " == *" 3 "* ]]; then
echo "h2 3/3: h2load h2c -c2 -m8 at fixed rates, ${STEP}s each, a fresh agent per rate: $RATES" >&2
for rate in $RATES; do
	agent_start "$TMP/config"
	kd0=$(kernel_drops)
	read -r bd0 st0 ds0 rq0 sp0 < <(drop_nums)
	in_cgroup "$CG" h2load -c2 -m8 --rps=$(((rate + 1) / 2)) -D "$STEP" \
		"http://127.0.0.1:$P2/" >"$TMP/h2load.out" 2>&1 &
	wait $! || die "h2load failed: $(tail -n 3 "$TMP/h2load.out")"
	sleep 1 # what is still in the ring is the step's too
	kd1=$(kernel_drops)
	read -r bd1 st1 ds1 rq1 sp1 < <(drop_nums)
	agent_stop
	ok=$(awk '/^requests:/ { print $8 }' "$TMP/h2load.out")
	done_=$(awk -v n="${ok:-0}" -v s="$STEP" 'BEGIN { printf "%.0f", n / s }')
	seen=$((rq1 - rq0))
	missing=$((2 * ${ok:-0} - seen))
	((missing < 0)) && missing=0
	echo "$rate $done_ $((kd1 - kd0)) $((bd1 - bd0)) $((st1 - st0)) $((ds1 - ds0)) $missing $seen $((sp1 - sp0))" \
		>>"$TMP/steps"
	echo "  $rate req/s asked: $done_ done; drops kernel $((kd1 - kd0)) builder $((bd1 - bd0))," \
		"h2 stops $((st1 - st0)), desync $((ds1 - ds0)), unseen $missing" >&2
	# a rate that lost data or could not be reached ends the search
	lost=$(((kd1 - kd0) + (bd1 - bd0) + (st1 - st0) + (ds1 - ds0) + missing))
	short=$(awk -v a="$done_" -v r="$rate" 'BEGIN { print (a < 0.95 * r) }')
	{ [ "$lost" -gt 0 ] || [ "$short" = 1 ]; } && break
done
fi

# ======================= the tables =========================================
col() { awk -v p="$1" -v s="$2" -v f="$3" '$1 == p && $2 == s { print $f }' "$TMP/results"; }
if [ -s "$TMP/results" ]; then
echo
echo "h2: results ($(nproc) CPUs, h2load -n $REQS, medians of $ROUNDS alternated rounds)"
{
	printf 'PROTOCOL\tOFF REQ/S\tON REQ/S\tREQ/S on/off\tOFF P99\tON P99\tP99 on/off\n'
	for proto in h1 h2; do
		o=$(col $proto off 3 | median) n=$(col $proto on 3 | median)
		op=$(col $proto off 4 | median) np=$(col $proto on 4 | median)
		printf '%s\t%.0f\t%.0f\t%s\t%.0f us\t%.0f us\t%s\n' \
			"$([ $proto = h1 ] && echo "HTTP/1.1 -c16" || echo "h2c -c2 -m8")" "$o" "$n" \
			"$(ratio "$n" "$o" 3)" "$op" "$np" "$(ratio "$np" "$op" 3)"
	done
} | table
echo
echo "agent, h2 on-runs: $(jq -s -c '{requests: map(.requests) | add, desyncRequests: map(.desyncRequests) | add, stops: map(.stops // 0) | add}' "$TMP/h2stats")"
fi
if [ -s "$TMP/cost" ]; then
echo
echo "capture programs (cgroup_skb egress + ingress), bpf_stats, one run each"
{
	printf 'PROTOCOL\tRUNS\tNS/RUN\tNS/REQUEST\tFRAMES/REQUEST\tNS/FRAME\tRECORDS/REQUEST\n'
	while read -r proto ns n frames recs; do
		if [ "$proto" = h2 ] && [ "$frames" -gt 0 ]; then
			fr=$(awk -v a="$frames" -v b="$REQS" 'BEGIN { printf "%.1f", a / b }')
			nf=$(awk -v a="$ns" -v b="$frames" 'BEGIN { printf "%.0f", a / b }')
			rr=$(awk -v a="$recs" -v b="$REQS" 'BEGIN { printf "%.2f", a / b }')
		else
			fr=- nf=- rr=-
		fi
		printf '%s\t%d\t%.0f\t%.0f\t%s\t%s\t%s\n' "$proto" "$n" \
			"$(awk -v a="$ns" -v b="$n" 'BEGIN { print b ? a / b : 0 }')" \
			"$(awk -v a="$ns" -v b="$REQS" 'BEGIN { print a / b }')" "$fr" "$nf" "$rr"
	done <"$TMP/cost"
} | table
fi
if [ -s "$TMP/steps" ]; then
	echo
	echo "h2c -c2 -m8 at fixed rates (h2load --rps), a fresh agent per rate, ${STEP}s each"
	{
		printf 'ASKED\tDONE REQ/S\tKERNEL DROPS\tBUILDER DROPS\tH2 STOPS\tDESYNC\tUNSEEN\tREQUESTS SEEN\tSPANS\n'
		while read -r rate done_ kd bd st ds miss seen sp; do
			printf '%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n' "$rate" "$done_" "$kd" "$bd" "$st" \
				"$ds" "$miss" "$seen" "$sp"
		done <"$TMP/steps"
	} | table
	best=$(awk '$3 + $4 + $5 + $6 + $7 == 0 && $2 >= 0.95 * $1 { b = $2 }
		END { if (b) printf "%d req/s", b; else print "none" }' "$TMP/steps")
	echo "  highest h2 rate without drops: $best"
	# the last step short of its rate but clean: the machine's limit, not capture's
	awk '$3 + $4 + $5 + $6 + $7 == 0 && $2 < 0.95 * $1 { l = $0 } END { if (l) { split(l, f, " ");
		printf "  (at %d req/s asked h2load reached %d, still without drops: the machine'"'"'s limit with capture on)\n", f[1], f[2] } }' \
		<(tail -n 1 "$TMP/steps")
fi
