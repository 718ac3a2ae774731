#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/capture.sh: what HTTP capture and span building cost.
#
# One nginx (1 worker, a fixed small 200 answer) on 127.0.0.1 and the load
# generators run in the bench cgroup, so both ends of every request are
# captured (a CLIENT and a SERVER span per request). The agent runs with a
# Telemetry document (sampling 1.0). Three parts:
#
#  1. overhead: wrk against nginx with capture off (no agent, nothing
#     attached) and on (agent running), alternated round by round (off on,
#     on off, ...); keep-alive and "Connection: close"; medians; req/s and
#     p99 ratios on/off. Both ends captured, then only the client: wrk
#     against a second nginx outside the bench cgroup (in the script's own),
#     where only wrk's side of each request is seen; then both ends again
#     with a service that works for its answer ("work": nginx gzips a JSON
#     document of BENCH_WORK_KB per request), since `return 200` costs nginx
#     next to nothing and any per-request cost looks large beside it. The
#     server's CPU per request (its worker's utime + stime over the run) is
#     reported for each. A control run per round ("burn", BENCH_BURN=0 skips
#     it): capture off, and bench/burn spinning for the CPU share the agent
#     used in the last "on" run (in bursts on its 20 ms beat). It tells what
#     sharing the CPUs with one more busy process costs wrk and nginx here,
#     capture or not. And the whole machine's CPU per request and busy
#     cores per run (/proc/stat): on a machine the benchmark keeps busy,
#     req/s on/off is the busy ratio times the CPU per request off over on,
#     and on less off is what capture costs per request, kernel and agent.
#  2. sustained rate: bench/loadgen (built here) sends keep-alive requests at
#     fixed rates, step by step, each with a freshly started agent; per step the
#     kernel's drop counters (pinned http_drops), the builder's drops
#     (GET /api/v1/config -> tracing), the agent's CPU (utime+stime over the
#     step, in cores, and per 10,000 req/s), how long its main thread
#     waited for a CPU, and its memory (VmRSS, and VmHWM: the peak); then
#     three starts with 1,000 services more (10 endpoints each). Every
#     agent start's time to /readyz is reported.
#  3. program cost: with kernel.bpf_stats_enabled=1 (only for this part; the
#     old value is restored at exit) run_time_ns / run_cnt of the capture
#     programs over a wrk run, per packet, and per request summed over all.
#
# Environment: BUILD (build tree, default build), BENCH_ROUNDS (5),
# BENCH_DURATION (seconds per wrk run, 3), BENCH_CONNECTIONS (16),
# BENCH_THREADS (1), BENCH_RATES (request rates of part 2, "2500 5000 10000
# 20000 30000 50000 75000 100000": every rate up to 50000 is tried, higher
# ones only while the previous one ran clean), BENCH_STEP_SECONDS (4),
# BENCH_OTLP (1: export to a local OTLP receiver, default 0),
# BENCH_PARTS (which parts to run, default "1 2 3"), BENCH_SCOPES (part 1's
# captures: any of "both client work", the default), BENCH_WORK_KB (the
# document "work" gzips per request, 16), BENCH_BURN (1: part 1's control
# run, 0: none).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# lib.sh takes the build tree from $BUILD, as tests/e2e/lib.sh does
E2E_BIN=$BENCH_ROOT/${BUILD:-build}/tests/e2e

ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-3}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-1}
RATES=${BENCH_RATES:-2500 5000 10000 20000 30000 50000 75000 100000}
BIG_SERVICES=1000
STEP=${BENCH_STEP_SECONDS:-4}
OTLP=${BENCH_OTLP:-0}
PARTS=${BENCH_PARTS:-1 2 3}
SCOPES=${BENCH_SCOPES:-both client work}
WORK_KB=${BENCH_WORK_KB:-16}
BURN=${BENCH_BURN:-1}
HTTP_PROGS="bm_http_egress bm_http_ingress bm_http_send bm_http_recv bm_http_state"

bench_init capture
for v in ROUNDS DURATION CONNS THREADS STEP WORK_KB; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
for r in $RATES; do
	[[ $r =~ ^[1-9][0-9]*$ ]] || die "BENCH_RATES: '$r' is not a positive number"
done
[[ $OTLP =~ ^[01]$ ]] || die "BENCH_OTLP must be 0 or 1"
[[ $BURN =~ ^[01]$ ]] || die "BENCH_BURN must be 0 or 1"
[[ $PARTS =~ ^[123\ ]+$ ]] || die "BENCH_PARTS: a list of 1, 2 and 3"
[[ $SCOPES =~ ^(both|client|work)(\ (both|client|work))*$ ]] ||
	die "BENCH_SCOPES: a list of both, client and work"
need wrk:wrk nginx:nginx-light curl:curl ss:iproute2 jq:jq bpftool:bpftool gcc:gcc
ulimit -n "$(ulimit -Hn)" 2>/dev/null
CLK_TCK=$(getconf CLK_TCK)

# the fixed-rate load generator, built for this run
gcc -O2 -Wall -o "$TMP/loadgen" "$BENCH_ROOT/bench/loadgen.c" 2>"$TMP/gcc.log" ||
	die "building bench/loadgen.c failed: $(head -n 3 "$TMP/gcc.log")"
gcc -O2 -Wall -o "$TMP/burn" "$BENCH_ROOT/bench/burn.c" 2>"$TMP/gcc.log" ||
	die "building bench/burn.c failed: $(head -n 3 "$TMP/gcc.log")"

NGINX_PORT=$(free_port 18500 18599)
TOKEN=bpfmesh-bench-$$
bench_cgroup

# in the bench cgroup: both ends of every request are traced
nginx_start "$NGINX_PORT" "$TOKEN" "$CG"
URL=http://127.0.0.1:$NGINX_PORT/
nginx_wait "$URL" "$TOKEN"
# outside it (in this script's cgroup, which nothing is attached to): only
# wrk's end of each request is captured
URL_CLIENT=''
if [[ " $PARTS " == *" 1 "* && " $SCOPES " == *" client "* ]]; then
	NGINX_PORT_OUT=$(free_port 18500 18599 "$NGINX_PORT")
	nginx_start "$NGINX_PORT_OUT" "$TOKEN" "" nginx-out
	URL_CLIENT=http://127.0.0.1:$NGINX_PORT_OUT/
	nginx_wait "$URL_CLIENT" "$TOKEN" nginx-out
fi
# "work": a JSON document, the same in every run (awk's fixed seed), that
# the bench cgroup's nginx gzips per request: about as compressible as an
# API's answer (gzip makes it a quarter of its size)
if [[ " $PARTS " == *" 1 "* && " $SCOPES " == *" work "* ]]; then
	mkdir -p "$TMP/nginx/w"
	# nginx's worker runs as nobody: it may pass through, not list
	chmod 711 "$TMP" "$TMP/nginx"
	awk -v kb="$WORK_KB" 'BEGIN {
		srand(12); printf "["
		for (n = 0; n < kb * 1024;) {
			l = sprintf("{\"id\":%d,\"name\":\"user-%06d\",\"score\":%.4f,\"tags\":[\"t%d\",\"t%d\"]},\n",
				n, int(rand() * 1e6), rand() * 100, int(rand() * 50), int(rand() * 50))
			printf "%s", l; n += length(l)
		}
		printf "{}]\n" }' >"$TMP/nginx/w/doc.json"
	body=$(curl -sf -m 5 -H 'Accept-Encoding: gzip' -o /dev/null \
		-w '%{size_download} %{header_json}' "${URL}w/doc.json") ||
		die "nginx did not serve ${URL}w/doc.json"
	grep -q '"content-encoding":\["gzip"\]' <<<"$body" ||
		die "nginx did not gzip ${URL}w/doc.json: $body"
fi

# ---- agent config: nginx as a service (its spans get a name), Telemetry ----
mkdir "$TMP/config"
otlp_line=''
if [ "$OTLP" = 1 ]; then
	[ -x "$E2E_BIN/otlp_receiver" ] || die "BENCH_OTLP=1 needs $E2E_BIN/otlp_receiver (make)"
	OTLP_PORT=$(free_port 18600 18699)
	# outside the bench cgroup: its own HTTP must not be traced
	"$E2E_BIN/otlp_receiver" --port "$OTLP_PORT" >/dev/null 2>"$TMP/otlp_receiver.log" &
	bg $!
	otlp_line="  otlp: {endpoint: \"http://127.0.0.1:$OTLP_PORT\", compression: gzip, timeout: 2s}"
fi
cat >"$TMP/config/bench.yaml" <<EOF
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: nginx}
spec:
  addresses: ["127.100.201.1"]
  ports: [{name: http, port: 80, targetPort: $NGINX_PORT}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: bench}
spec:
$otlp_line
  sampling: {ratio: 1.0}
EOF

# ---- helpers ----
# agent_start with the config above; every start's time to /readyz is kept
start_agent() {
	agent_start "$TMP/config" "$@"
	echo "$AGENT_READY_MS" >>"$TMP/ready"
}
in_cg() { # CMD...: run in the bench cgroup, in the background, and wait
	in_cgroup "$CG" "$@" &
	wait $!
}

# wrk's numbers in plain units: req/s, p50 and p99 in microseconds, errors,
# requests.
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
	/ requests in / { n = $1 }
	END { printf "%s %s %s %d %d\n", rps, p50, p99, err, n }'
}

# The sum of the kernel's capture drop counters (pinned per-CPU http_drops):
# "ringbuf other" (other: conns, load, pipeline, head_too_long; from index 5
# on the map counts TLS connections, no drops).
kernel_drops() {
	bpftool -j map dump pinned "$PIN/maps/http_drops" 2>/dev/null | jq -r '
		def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 +
			(if $c >= 97 then $c - 87 elif $c >= 65 then $c - 55 else $c - 48 end));
		def num: if type == "array" then reverse | reduce .[] as $b (0; . * 256 + ($b | hex))
			elif type == "string" then hex else . end;
		map({k: (.formatted.key // .key | num),
			n: ((.formatted.values // .values) | map(.value | num) | add // 0)})
		| "\(map(select(.k == 0) | .n) | add // 0) \(map(select(.k != 0 and .k < 5) | .n) | add // 0)"'
}

api_tracing() { curl -sf -m 5 "http://$AGENT_LISTEN/api/v1/config" | jq -c '.tracing // {}'; }

# From the tracing JSON: events requests spans builder-drops(not sampled_out)
# otlp-drops exported
tracing_nums() {
	jq -r '[.captureEvents // 0, .requestsSeen // 0, .spans // 0,
		((.builderDrops // {}) | to_entries | map(select(.key != "sampled_out") | .value)
			| add // 0),
		((.otlp.dropped // {}) | to_entries | map(.value) | add // 0),
		(.otlp.exported // 0), .captureBytes // 0] | @tsv'
}

proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# the machine's busy ticks (all CPUs: user nice system irq softirq; not idle,
# iowait nor steal, the hypervisor's)
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
# ns the task (the agent's main thread, which reads the ring) waited, runnable,
# for a CPU
run_wait_ns() { awk '{ print $2 }' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

link_prog_id() { # NAME: the program id of the agent's pinned link NAME
	bpftool -j link show pinned "$PIN/links/$1" 2>/dev/null | jq -r '.prog_id // empty'
}

prog_stats() { # ID: run_time_ns run_cnt
	bpftool -j prog show id "$1" 2>/dev/null | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# ======================= 1. overhead: capture on vs off ====================
: >"$TMP/results"
: >"$TMP/ready"
if [[ " $PARTS " == *" 1 "* ]]; then
	n_scopes=$(wc -w <<<"$SCOPES")
	total=$((n_scopes * (ROUNDS * (4 + 2 * BURN) * (DURATION + 1) + 8)))
	echo "capture 1/3: wrk -t$THREADS -c$CONNS against nginx (1 worker) in the bench cgroup" \
		"(both ends captured), outside it (the client only) and gzipping ${WORK_KB} KiB" \
		"(both ends): $SCOPES;" \
		"capture off (no agent) vs on (agent, sampling 1.0$([ "$OTLP" = 1 ] &&
			echo ", OTLP to a local receiver"))$([ "$BURN" = 1 ] &&
			echo " vs burn (off, and a CPU burner at the agent's share)");" \
		"$ROUNDS rounds x ${DURATION}s (~${total}s)"
	for scope in $SCOPES; do
	url=$URL srv=nginx
	[ "$scope" = client ] && url=$URL_CLIENT srv=nginx-out
	[ "$scope" = work ] && url=${URL}w/doc.json
	srv_pid=$(pgrep -P "$(cat "$TMP/$srv/nginx.pid")" | head -n 1)
	[ -n "$srv_pid" ] || die "no worker for $srv"
	for mode in keep-alive close; do
		hdr=()
		[ "$scope" = work ] && hdr=(-H "Accept-Encoding: gzip")
		[ "$mode" = close ] && hdr+=(-H "Connection: close")
		in_cg wrk -t"$THREADS" -c"$CONNS" -d1s "${hdr[@]}" "$url" >/dev/null 2>&1 # warm-up
		share=0 # cores the agent used in the last "on" run of this mode
		for ((r = 1; r <= ROUNDS; r++)); do
			# off on, on off, ...: a drift in the machine hits both alike;
			# burn follows an on, whose agent share it takes
			order="off on"
			[ $((r % 2)) = 0 ] && order="on off"
			[ "$BURN" = 1 ] && order=${order/on/on burn}
			for state in $order; do
				cpid=''
				if [ "$state" = on ]; then
					start_agent
					read -r ev0 by0 < <(api_tracing | tracing_nums | cut -f1,7)
					cpid=$AGENT_PID
				elif [ "$state" = burn ]; then
					# in the bench cgroup: killed with it on every
					# way out (it has no sockets to capture)
					in_cgroup "$CG" "$TMP/burn" \
						"$(awk -v c="$share" 'BEGIN { printf "%d", c * 20000 }')" 20000 &
					cpid=$!
				fi
				s0=$(proc_ticks "$srv_pid") c0=0 w0=$(now_ns) m0=$(machine_ticks)
				[ -n "$cpid" ] && c0=$(proc_ticks "$cpid")
				in_cg wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" \
					"$url" >"$TMP/wrk.out" 2>&1 || die "wrk failed: $(tail -n 3 "$TMP/wrk.out")"
				s1=$(proc_ticks "$srv_pid") c1=0 w1=$(now_ns) m1=$(machine_ticks)
				[ -n "$cpid" ] && c1=$(proc_ticks "$cpid")
				read -r rps p50 p99 err nreq < <(parse_wrk <"$TMP/wrk.out")
				# the server's CPU per request, us
				srv_us=$(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" -v n="$nreq" \
					'BEGIN { printf "%.1f", n ? t / hz * 1e6 / n : 0 }')
				# the agent's (or the burner's) CPU over the run, cores
				cores=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v ns=$((w1 - w0)) \
					'BEGIN { printf "%.3f", ns ? t / hz / (ns / 1e9) : 0 }')
				[ "$state" = on ] && share=$cores
				# the whole machine: its CPU per request (us) and its
				# busy cores over the run
				read -r m_us m_cores < <(awk -v t=$((m1 - m0)) -v hz="$CLK_TCK" \
					-v n="$nreq" -v ns=$((w1 - w0)) 'BEGIN { printf "%.2f %.2f",
						n ? t / hz * 1e6 / n : 0, ns ? t / hz / (ns / 1e9) : 0 }')
				[ "$state" = burn ] && stop_pid "$cpid"
				extra=''
				[ "$state" != off ] && extra=$(printf '  %s %s cores' \
					"$([ "$state" = on ] && echo agent || echo burner)" "$cores")
				if [ "$state" = on ]; then
					sleep 0.3 # the agent drains the ring
					read -r ev req sp bd _ _ by < <(api_tracing | tracing_nums)
					read -r kd_rb kd_other < <(kernel_drops)
					# requests counts the captured sides' request
					# observations: events over it is ring records per
					# request per side, and their bytes
					extra+=$(printf '  events %s  requests %s  spans %s  drops kernel %s builder %s  records/request/side %s  bytes/request/side %s' \
						"$((ev - ev0))" "$req" "$sp" "$((kd_rb + kd_other))" "$bd" \
						"$(awk -v e=$((ev - ev0)) -v r="$req" 'BEGIN { printf "%.2f", r ? e / r : 0 }')" \
						"$(awk -v b=$((by - by0)) -v r="$req" 'BEGIN { printf "%.0f", r ? b / r : 0 }')")
					agent_stop
				fi
				echo "$mode/$scope $state $rps $p50 $p99 $err $srv_us $cores $m_us $m_cores" \
					>>"$TMP/results"
				printf '  round %d/%d %-17s %-4s %9.0f req/s  p50 %6.0f us  p99 %6.0f us  server %s us/request%s%s\n' \
					"$r" "$ROUNDS" "$mode/$scope" "$state" "$rps" "$p50" "$p99" "$srv_us" \
					"$([ "$err" != 0 ] && echo "  ($err errors)")" "$extra"
			done
		done
	done
	done
fi

# ======================= 2. sustained rate without drops ===================
: >"$TMP/steps"
: >"$TMP/ready_big"
if [[ " $PARTS " == *" 2 "* ]]; then
	echo
	echo "capture 2/3: loadgen (keep-alive, 64 connections, fixed rate) against nginx," \
		"a fresh agent per rate; ${STEP}s per rate: $RATES"
	for rate in $RATES; do
		start_agent
		read -r kd_rb0 kd_o0 < <(kernel_drops)
		tr0=$(api_tracing)
		read -r ev0 _ sp0 bd0 od0 ex0 _ < <(tracing_nums <<<"$tr0")
		t0=$(proc_ticks "$AGENT_PID")
		q0=$(run_wait_ns "$AGENT_PID")
		in_cg "$TMP/loadgen" --addr "127.0.0.1:$NGINX_PORT" --conns 64 --rate "$rate" \
			--duration "$STEP" >"$TMP/lg.out" 2>&1 || die "loadgen: $(tail -n 2 "$TMP/lg.out")"
		sleep 0.5 # what is still in the ring is the step's too
		t1=$(proc_ticks "$AGENT_PID")
		q1=$(run_wait_ns "$AGENT_PID")
		wait_share=$(awk -v q=$((q1 - q0)) -v s="$STEP" 'BEGIN { printf "%.2f", q / 1e9 / s }')
		read -r kd_rb1 kd_o1 < <(kernel_drops)
		tr1=$(api_tracing)
		read -r ev1 _ sp1 bd1 od1 ex1 _ < <(tracing_nums <<<"$tr1")
		# the builder's drops of this step, by reason
		why=$(jq -rn --argjson a "$tr0" --argjson b "$tr1" '($b.builderDrops // {}) | to_entries
			| map(select(.key != "sampled_out") | .value -= ($a.builderDrops[.key] // 0)
				| select(.value > 0) | "\(.key) \(.value)") | join(", ")')
		eval "$(tr ' ' '\n' <"$TMP/lg.out" | grep -E '^[a-z0-9_]+=[0-9.]+$' | sed 's/^/lg_/')"
		# the CPU the step's events took (the drain included) over the step's
		# length: the share of a core that this rate needs
		cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v s="$STEP" \
			'BEGIN { printf "%.3f", t / hz / s }')
		rss=$(proc_kb "$AGENT_PID" VmRSS)
		hwm=$(proc_kb "$AGENT_PID" VmHWM)
		kd=$(((kd_rb1 - kd_rb0) + (kd_o1 - kd_o0)))
		bd=$((bd1 - bd0))
		od=$((od1 - od0))
		echo "$rate ${lg_rate:-0} ${lg_p50_us:-0} ${lg_p99_us:-0} $((kd_rb1 - kd_rb0)) \
$((kd_o1 - kd_o0)) $bd $od $((ev1 - ev0)) $((sp1 - sp0)) $cpu $rss $hwm $wait_share" >>"$TMP/steps"
		printf '  %6d req/s asked: %6.0f done, p50 %5.0f us p99 %6.0f us; events %d, spans %d;' \
			"$rate" "${lg_rate:-0}" "${lg_p50_us:-0}" "${lg_p99_us:-0}" "$((ev1 - ev0))" \
			"$((sp1 - sp0))"
		printf ' drops kernel %d (ring %d) builder %d%s%s; agent %s cores, RSS %d MB, peak %d MB\n' \
			"$kd" "$((kd_rb1 - kd_rb0))" "$bd" "${why:+ ($why)}" \
			"$([ "$OTLP" = 1 ] && echo " otlp $od (exported $((ex1 - ex0)))")" "$cpu" "$((rss / 1024))" "$((hwm / 1024))"
		echo "    agent main thread waited for a CPU: $wait_share s per s"
		short=$(awk -v a="${lg_rate:-0}" -v r="$rate" 'BEGIN { print (a < 0.95 * r) }')
		[ "$short" = 1 ] && echo "    (the load generator reached $(printf '%.0f' "${lg_rate:-0}")" \
			"of $rate req/s: the machine's limit with capture on)"
		agent_stop
		# above 50000, a rate that lost data or could not be reached ends the search
		[ "$rate" -ge 50000 ] && { [ "$short" = 1 ] || [ $((kd + bd + od)) -gt 0 ]; } && break
	done
	# the same agent with 1,000 more services (10 endpoints each, the four
	# policies in turn; addresses nothing connects to): time to /readyz
	echo "  start to /readyz with $BIG_SERVICES services more (x 10 endpoints), 3 starts"
	gen_services "$TMP/config" big "$BIG_SERVICES" 10 110 120 \
		"random roundRobin leastConnections maglev"
	for i in 1 2 3; do
		agent_start "$TMP/config"
		echo "$AGENT_READY_MS" >>"$TMP/ready_big"
		agent_stop
	done
	rm -f "$TMP"/config/big-*.yaml
fi

# ======================= 3. program cost (bpf_stats) =======================
: >"$TMP/progs"
if [[ " $PARTS " == *" 3 "* ]]; then
	echo
	echo "capture 3/3: kernel.bpf_stats_enabled=1 during two wrk runs of ${DURATION}s" \
		"(keep-alive, close)"
	# bench/capture_prog.c, built against $BUILD's skeleton: the floor of
	# bpf_stats here, then per packet kind without the stats' cost
	cprog=''
	if gcc -O2 -Wall -I"$BENCH_ROOT" -I"$BENCH_ROOT/${BUILD:-build}" -o "$TMP/capture_prog" \
		"$BENCH_ROOT/bench/capture_prog.c" -lbpf -lelf -lz 2>"$TMP/gcc.log"; then
		cprog=$TMP/capture_prog
	else
		echo "  (bench/capture_prog.c did not build: $(head -n 2 "$TMP/gcc.log"))"
	fi
	start_agent
	old_stats=$(cat /proc/sys/kernel/bpf_stats_enabled)
	on_exit "echo $old_stats >/proc/sys/kernel/bpf_stats_enabled"
	declare -A PID_OF
	for p in $HTTP_PROGS; do
		PID_OF[$p]=$(link_prog_id "$p")
		[ -n "${PID_OF[$p]}" ] || die "no pinned link $PIN/links/$p"
	done
	# programs that return at once, beside the capture ones on the bench
	# cgroup and on sock_send_length (their links live as long as
	# capture_prog): what bpf_stats counts for a program that does nothing,
	# on the same packets and calls
	floor_pid='' progs=$HTTP_PROGS
	if [ -n "$cprog" ]; then
		"$cprog" floor "$CG" >"$TMP/floor" 2>"$TMP/floor.err" &
		floor_pid=$!
		bg "$floor_pid"
		for ((i = 0; i < 50; i++)); do
			[ -s "$TMP/floor" ] && break
			kill -0 "$floor_pid" 2>/dev/null || break
			sleep 0.1
		done
		if read -r _ fe fi ft <"$TMP/floor" && [ -n "$ft" ]; then
			PID_OF[bm_floor_eg]=$fe PID_OF[bm_floor_in]=$fi PID_OF[bm_floor_tp]=$ft
			progs="$HTTP_PROGS bm_floor_eg bm_floor_in bm_floor_tp"
		else
			echo "  (no floor programs: $(head -n 1 "$TMP/floor.err"))"
		fi
	fi
	# and every other program the agent linked (the balancer's on the bench
	# cgroup: connect, sockops, sock_release...): what "on" runs besides
	# capture
	OTHER_PROGS=''
	for l in "$PIN"/links/*; do
		p=${l##*/}
		[[ " $HTTP_PROGS " == *" $p "* ]] && continue
		PID_OF[$p]=$(link_prog_id "$p")
		[ -n "${PID_OF[$p]}" ] && OTHER_PROGS+=" $p"
	done
	progs+=$OTHER_PROGS
	for mode in keep-alive close; do
		hdr=()
		[ "$mode" = close ] && hdr=(-H "Connection: close")
		echo 1 >/proc/sys/kernel/bpf_stats_enabled
		for p in $progs; do
			read -r "ns0_$p" "cnt0_$p" < <(prog_stats "${PID_OF[$p]}")
		done
		in_cg wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" "$URL" \
			>"$TMP/wrk.out" 2>&1 || die "wrk failed: $(tail -n 3 "$TMP/wrk.out")"
		for p in $progs; do
			read -r "ns1_$p" "cnt1_$p" < <(prog_stats "${PID_OF[$p]}")
		done
		echo "$old_stats" >/proc/sys/kernel/bpf_stats_enabled
		reqs=$(awk '/requests in/ { print $1 }' "$TMP/wrk.out")
		for p in $progs; do
			n0="ns0_$p" n1="ns1_$p" c0="cnt0_$p" c1="cnt1_$p"
			echo "$mode $p $((${!n1} - ${!n0})) $((${!c1} - ${!c0})) $reqs" >>"$TMP/progs"
		done
	done
	[ -n "$floor_pid" ] && stop_pid "$floor_pid"
	agent_stop
	# per packet kind, without the stats' own cost: BPF_PROG_TEST_RUN of the
	# egress program
	if [ -n "$cprog" ]; then
		"$cprog" 20000 >"$TMP/kinds" || : >"$TMP/kinds"
	fi
fi

# ======================= the tables ========================================
col() { # MODE STATE FIELD(3 rps, 4 p50, 5 p99, 6 errors, 7 server us/request, 8 cores,
	#   9 machine us/request, 10 machine busy cores)
	awk -v m="$1" -v t="$2" -v f="$3" '$1 == m && $2 == t { print $f }' "$TMP/results"
}
echo
echo "capture: results ($(nproc) CPUs; ratios on/off measured in this run)"
if [ -s "$TMP/results" ]; then
	echo
	echo "1. wrk, capture on vs off: medians of $ROUNDS runs (target: req/s >= 0.97 of off," \
		"p99 <= 1.03 of off)"
	{
		printf 'MODE/CAPTURED\tOFF REQ/S\tON REQ/S\tREQ/S on/off\tOFF P50\tON P50\tOFF P99\tON P99\tP99 on/off\tSERVER CPU/REQ off, on\tERRORS\n'
		for mode in $(awk '!seen[$1]++ { print $1 }' "$TMP/results"); do
			o_rps=$(col "$mode" off 3 | median) n_rps=$(col "$mode" on 3 | median)
			o_p50=$(col "$mode" off 4 | median) n_p50=$(col "$mode" on 4 | median)
			o_p99=$(col "$mode" off 5 | median) n_p99=$(col "$mode" on 5 | median)
			o_srv=$(col "$mode" off 7 | median) n_srv=$(col "$mode" on 7 | median)
			errs=$(awk -v m="$mode" '$1 == m { s += $6 } END { print s + 0 }' "$TMP/results")
			printf '%s\t%.0f\t%.0f\t%s\t%.0f us\t%.0f us\t%.0f us\t%.0f us\t%s\t%.1f, %.1f us\t%s\n' \
				"$mode" "$o_rps" "$n_rps" "$(ratio "$n_rps" "$o_rps" 3)" "$o_p50" "$n_p50" \
				"$o_p99" "$n_p99" "$(ratio "$n_p99" "$o_p99" 3)" "$o_srv" "$n_srv" "$errs"
		done
	} | table
	if [ "$BURN" = 1 ]; then
		echo
		echo "1b. the control: capture off, and a process that only burns the CPU the agent" \
			"used (bench/burn, in bursts every 20 ms): what one more busy process costs here"
		{
			printf 'MODE/CAPTURED\tAGENT CPU (on)\tBURNER CPU\tOFF REQ/S\tBURN REQ/S\tREQ/S burn/off\tREQ/S on/off\tOFF P99\tBURN P99\tP99 burn/off\n'
			for mode in $(awk '!seen[$1]++ { print $1 }' "$TMP/results"); do
				o_rps=$(col "$mode" off 3 | median) n_rps=$(col "$mode" on 3 | median)
				b_rps=$(col "$mode" burn 3 | median)
				o_p99=$(col "$mode" off 5 | median) b_p99=$(col "$mode" burn 5 | median)
				printf '%s\t%.2f cores\t%.2f cores\t%.0f\t%.0f\t%s\t%s\t%.0f us\t%.0f us\t%s\n' \
					"$mode" "$(col "$mode" on 8 | median)" "$(col "$mode" burn 8 | median)" \
					"$o_rps" "$b_rps" "$(ratio "$b_rps" "$o_rps" 3)" \
					"$(ratio "$n_rps" "$o_rps" 3)" "$o_p99" "$b_p99" \
					"$(ratio "$b_p99" "$o_p99" 3)"
			done
		} | table
	fi
	echo
	echo "1c. the whole machine's CPU per request (all processes and the kernel, from" \
		"/proc/stat) and its busy cores: req/s on/off is (busy on / off) x (CPU per" \
		"request off / on); capture's cost per request is the difference, on less off"
	{
		printf 'MODE/CAPTURED\tOFF CPU/REQ\tON CPU/REQ\tON LESS OFF\tOFF/ON\tOFF BUSY\tON BUSY\tON/OFF\tREQ/S on/off\n'
		for mode in $(awk '!seen[$1]++ { print $1 }' "$TMP/results"); do
			o_us=$(col "$mode" off 9 | median) n_us=$(col "$mode" on 9 | median)
			o_b=$(col "$mode" off 10 | median) n_b=$(col "$mode" on 10 | median)
			printf '%s\t%.2f us\t%.2f us\t%.2f us\t%s\t%.2f cores\t%.2f cores\t%s\t%s\n' \
				"$mode" "$o_us" "$n_us" "$(awk -v a="$n_us" -v b="$o_us" 'BEGIN { print a - b }')" \
				"$(ratio "$o_us" "$n_us" 3)" "$o_b" "$n_b" "$(ratio "$n_b" "$o_b" 3)" \
				"$(ratio "$(col "$mode" on 3 | median)" "$(col "$mode" off 3 | median)" 3)"
		done
	} | table
fi
if [ -s "$TMP/steps" ]; then
	echo
	echo "2. fixed rates, keep-alive, agent running (target: >= 50000 req/s with no drops," \
		"agent <= 0.5 core, <= 64 MB)"
	{
		printf 'ASKED\tDONE REQ/S\tP99\tKERNEL DROPS (RING)\tBUILDER DROPS\tOTLP DROPS\tEVENTS\tSPANS\tAGENT CPU\tPER 10K REQ/S\tAGENT RUNQ WAIT\tRSS\tPEAK RSS\n'
		while read -r rate done_ p50 p99 kr ko bd od ev sp cpu rss hwm qw; do
			printf '%d\t%.0f\t%.0f us\t%d (%d)\t%d\t%s\t%d\t%d\t%s cores\t%s cores\t%s\t%d MB\t%d MB\n' \
				"$rate" "$done_" "$p99" $((kr + ko)) "$kr" "$bd" \
				"$([ "$OTLP" = 1 ] && echo "$od" || echo -)" "$ev" "$sp" "$cpu" \
				"$(awk -v c="$cpu" -v r="$done_" 'BEGIN { printf "%.3f", r ? c * 10000 / r : 0 }')" \
				"$qw" $((rss / 1024)) $((hwm / 1024))
		done <"$TMP/steps"
	} | table
	best=$(awk '$5 + $6 + $7 + $8 == 0 && $2 >= 0.95 * $1 { b = $2; c = $11; h = $13 }
		END { if (b) printf "%.0f req/s (agent %s cores, peak RSS %d MB)", b, c, h / 1024;
			else print "none" }' "$TMP/steps")
	echo "  highest rate without drops: $best"
fi
if [ -s "$TMP/ready" ]; then
	echo
	echo "start to /readyz (target: <= 2 s with a small config)"
	span() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%d ms (%d to %d, %d start%s)",
		v[int((NR + 1) / 2)], v[1], v[NR], NR, (NR > 1 ? "s" : "") }'; }
	echo "  nginx's service and the Telemetry document: $(span "$TMP/ready")"
	[ -s "$TMP/ready_big" ] &&
		echo "  with $BIG_SERVICES services more (x 10 endpoints): $(span "$TMP/ready_big")"
fi
if [ -s "$TMP/progs" ]; then
	echo
	echo "3. capture programs, bpf_stats over one wrk run per mode (target: <= 300 ns per" \
		"packet for cgroup_skb)"
	{
		printf 'MODE\tPROGRAM\tRUNS\tNS/RUN\tRUNS/REQUEST\tNS/REQUEST\n'
		awk -v OFS='\t' -v others="$OTHER_PROGS" '
		function r(a, b, d) { return b ? sprintf("%." d "f", a / b) : "-" }
		BEGIN { n = split(others, o, " "); for (i = 1; i <= n; i++) other[o[i]] = 1 }
		{
			if (!($1 in seen)) { seen[$1] = 1; modes[++nm] = $1 }
			req[$1] = $5
			if ($2 == "bm_floor_tp") { tns[$1] = $3; tcnt[$1] = $4; next }
			if ($2 ~ /^bm_floor_/) { fns[$1] += $3; fcnt[$1] += $4; next }
			if ($2 in other) {
				if ($4) orow[$1] = orow[$1] $1 OFS $2 OFS $4 OFS r($3, $4, 0) OFS r($4, $5, 2) OFS r($3, $5, 0) "\n"
				ons[$1] += $3
				next
			}
			row[$1] = row[$1] $1 OFS $2 OFS $4 OFS r($3, $4, 0) OFS r($4, $5, 2) OFS r($3, $5, 0) "\n"
			ns[$1] += $3
			if ($2 ~ /_(egress|ingress)$/) { sns[$1] += $3; scnt[$1] += $4 }
			else tpcnt[$1] += $4
		}
		END {
			for (i = 1; i <= nm; i++) {
				m = modes[i]
				printf "%s", row[m]
				print m, "cgroup_skb (per packet)", scnt[m], r(sns[m], scnt[m], 0), r(scnt[m], req[m], 2), r(sns[m], req[m], 0)
				print m, "all five (per request)", "-", "-", "-", r(ns[m], req[m], 0)
				if (others != "") {
					printf "%s", orow[m]
					print m, "the balancer'"'"'s (per request)", "-", "-", "-", r(ons[m], req[m], 0)
					print m, "all linked (per request)", "-", "-", "-", r(ns[m] + ons[m], req[m], 0)
				}
				if (!fcnt[m] || !tcnt[m])
					continue
				f = fns[m] / fcnt[m]
				ft = tns[m] / tcnt[m]
				print m, "floor, cgroup_skb", fcnt[m], r(fns[m], fcnt[m], 0), r(fcnt[m], req[m], 2), r(fns[m], req[m], 0)
				print m, "floor, tracepoint", tcnt[m], r(tns[m], tcnt[m], 0), "-", "-"
				print m, "cgroup_skb less the floor", "-", r(sns[m] - f * scnt[m], scnt[m], 0), "-", r(sns[m] - f * scnt[m], req[m], 0)
				print m, "all five less the floors", "-", "-", "-", r(ns[m] - f * scnt[m] - ft * tpcnt[m], req[m], 0)
			}
		}' "$TMP/progs"
	} | table
	echo "  (the tracepoint programs run for every TCP socket on the machine and stop at"
	echo "   one test for sockets without HTTP; their counts include other traffic. A"
	echo "   floor is a program that returns at once, beside capture's on the bench"
	echo "   cgroup's egress and ingress and on sock_send_length: what bpf_stats counts"
	echo "   for no work (its clock reads, the call); \"less the floor\" takes the"
	echo "   floor of its kind off every run). The balancer's programs (those of its"
	echo "   that ran) are what \"on\" runs besides capture: the bench's nginx has a"
	echo "   service, and they run for every connection of the bench cgroup."
fi
if [ -s "$TMP/kinds" ]; then
	echo
	echo "3b. per packet kind, BPF_PROG_TEST_RUN of the egress program, and less the" \
		"harness (a program that returns at once); target: <= 100 ns without a head," \
		"<= 300 ns with one"
	awk '$1 == "harness" { h = $2 }
	$1 != "load_ms" && $1 != "insns" && $1 != "records" {
		if ($1 == "harness" || h == "") printf "  %-28s %6s ns\n", $1, $2
		else printf "  %-28s %6s ns  (%4d less the harness)\n", $1, $2, $2 - h
	}' "$TMP/kinds"
	echo "  load of the capture object: $(awk '$1 == "load_ms" { print $2 }' "$TMP/kinds") ms;" \
		"instructions processed by the verifier:"
	awk '$1 == "insns" { printf "    %-18s %7d\n", $2, $3 }' "$TMP/kinds"
fi
