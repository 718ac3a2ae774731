#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/http_overhead.sh: what a request costs through bpfmesh compared with
# going straight to the server and with a sidecar-like proxy (HAProxy).
#
# One nginx (1 worker, fixed 200 answer) on 127.0.0.1. wrk measures three
# paths, with keep-alive and with "Connection: close" (a new connection per
# request, which is where connect-time load balancing works):
#   direct   wrk -> nginx                         (wrk outside any mesh)
#   bpfmesh  wrk -> service address -> nginx      (wrk in the bench cgroup; the
#            kernel rewrites connect(), the bytes then go straight to nginx)
#   haproxy  wrk -> HAProxy -> nginx              (HAProxy 1 thread, http mode,
#            keep-alive to nginx, as a sidecar proxy does)
# Runs alternate (direct bpfmesh haproxy, direct bpfmesh haproxy, ...) so that
# drift in the machine hits all three alike; medians over the rounds.
#
# Environment: BENCH_ROUNDS (5), BENCH_DURATION (seconds per run, 3),
# BENCH_CONNECTIONS (wrk -c, 16), BENCH_THREADS (wrk -t, 1),
# BENCH_HAPROXY_MODE (http | tcp, default http).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-3}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-1}
HAPROXY_MODE=${BENCH_HAPROXY_MODE:-http}
VIP=127.100.200.1
TARGETS="direct bpfmesh haproxy"

bench_init http_overhead
for v in ROUNDS DURATION CONNS THREADS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
[[ $HAPROXY_MODE =~ ^(http|tcp)$ ]] || die "BENCH_HAPROXY_MODE must be http or tcp"
need wrk:wrk nginx:nginx-light haproxy:haproxy curl:curl ss:iproute2 jq:jq
ulimit -n "$(ulimit -Hn)" 2>/dev/null

NGINX_PORT=$(free_port 18400 18499)
HAPROXY_PORT=$(free_port 18400 18499 "$NGINX_PORT")
TOKEN=bpfmesh-bench-$$

nginx_start "$NGINX_PORT" "$TOKEN"

# ---- HAProxy ----
cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode $HAPROXY_MODE
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend nginx
backend nginx
    server nginx 127.0.0.1:$NGINX_PORT
EOF
haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
bg $!

# ---- bpfmesh: one service in front of nginx ----
bench_cgroup
mkdir "$TMP/config"
cat >"$TMP/config/bench.yaml" <<EOF
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: nginx}
spec:
  addresses: ["$VIP"]
  ports: [{name: http, port: 80, targetPort: $NGINX_PORT}]
  endpoints: [{address: "127.0.0.1"}]
EOF
agent_start "$TMP/config"

url_of() {
	case $1 in
	direct) echo "http://127.0.0.1:$NGINX_PORT/" ;;
	bpfmesh) echo "http://$VIP:80/" ;;
	haproxy) echo "http://127.0.0.1:$HAPROXY_PORT/" ;;
	esac
}

# The bpfmesh path runs in the bench cgroup; the others outside it. Each in
# the background and waited for, so that Ctrl-C is handled at once.
run_on() { # TARGET CMD...
	local target=$1
	shift
	if [ "$target" = bpfmesh ]; then
		in_cgroup "$CG" "$@" &
	else
		"$@" &
	fi
	wait $!
}

# Every path must answer nginx's token, or we would measure something else
# (an untranslated 127.100.200.1:80 would reach whatever listens on port 80).
for target in $TARGETS; do
	for ((i = 0; i < 50; i++)); do
		body=$(run_on "$target" curl -s -m 2 "$(url_of "$target")") && [ "$body" = "$TOKEN" ] && break
		sleep 0.1
	done
	if [ "$body" != "$TOKEN" ]; then
		tail -n 3 "$TMP/haproxy.log" "$TMP/nginx/logs/error.log" >&2
		die "$target: $(url_of "$target") did not answer nginx's token (got: '${body:0:80}')"
	fi
done

# wrk's numbers in plain units: req/s, p50 and p99 in microseconds, errors.
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

MODES="keep-alive close"
total=$((ROUNDS * 2 * 3 * DURATION + 6))
echo "http_overhead: nginx (1 worker) on loopback; wrk -t$THREADS -c$CONNS, $ROUNDS rounds x ${DURATION}s" \
	"per path and mode (~${total}s); HAProxy $HAPROXY_MODE mode, 1 thread"
: >"$TMP/results"
for mode in $MODES; do
	hdr=()
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	# a discarded 1 s run per path first: connections, caches and CPU clocks warm
	for target in $TARGETS; do
		run_on "$target" wrk -t"$THREADS" -c"$CONNS" -d1s "${hdr[@]}" "$(url_of "$target")" \
			>/dev/null 2>&1
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		for target in $TARGETS; do
			run_on "$target" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${hdr[@]}" \
				"$(url_of "$target")" >"$TMP/wrk.out" 2>&1 ||
				die "wrk failed: $(tail -n 3 "$TMP/wrk.out")"
			read -r rps p50 p99 err < <(parse_wrk <"$TMP/wrk.out")
			echo "$mode $target $rps $p50 $p99 $err" >>"$TMP/results"
			printf '  round %d/%d %-10s %-8s %10.0f req/s  p50 %7.0f us  p99 %7.0f us%s\n' \
				"$r" "$ROUNDS" "$mode" "$target" "$rps" "$p50" "$p99" \
				"$([ "$err" != 0 ] && echo "  ($err errors)")"
		done
	done
done

col() { # MODE TARGET FIELD(3 rps, 4 p50, 5 p99, 6 errors)
	awk -v m="$1" -v t="$2" -v f="$3" '$1 == m && $2 == t { print $f }' "$TMP/results"
}

echo
echo "http_overhead: medians of $ROUNDS runs; ratios against direct (req/s: higher is better," \
	"latency: lower is better)"
{
	printf 'MODE\tPATH\tREQ/S\tP50\tP99\tREQ/S vs direct\tP50 vs direct\tP99 vs direct\tERRORS\n'
	for mode in $MODES; do
		d_rps=$(col "$mode" direct 3 | median)
		d_p50=$(col "$mode" direct 4 | median)
		d_p99=$(col "$mode" direct 5 | median)
		for target in $TARGETS; do
			rps=$(col "$mode" "$target" 3 | median)
			p50=$(col "$mode" "$target" 4 | median)
			p99=$(col "$mode" "$target" 5 | median)
			errs=$(col "$mode" "$target" 6 | awk '{ s += $1 } END { print s + 0 }')
			printf '%s\t%s\t%.0f\t%.0f us\t%.0f us\t%s\t%s\t%s\t%s\n' "$mode" "$target" \
				"$rps" "$p50" "$p99" "$(ratio "$rps" "$d_rps")" "$(ratio "$p50" "$d_p50")" \
				"$(ratio "$p99" "$d_p99")" "$errs"
		done
	done
} | table

# Proof that the bpfmesh runs went through the kernel's load balancer.
sel=$(curl -sf "http://$AGENT_LISTEN/api/v1/services" |
	jq '[.services[].endpoints[].selected] | add // 0')
echo "  bpfmesh: the kernel sent ${sel:-?} connections from the service address to nginx"
