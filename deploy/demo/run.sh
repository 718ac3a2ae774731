#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deploy/demo/run.sh: the demo shop (`make demo`). Runs the topology of
# deploy/examples/shop.yaml on this host, sends load through the mesh, shows
# how the kernel spread the connections, and removes everything again.
#
#   - a child cgroup bpfmesh-demo-PID under the cgroup v2 mount (never the
#     root) with one sub-cgroup per service and one for the load generator;
#   - a private pin directory /sys/fs/bpf/bpfmesh-demo-PID;
#   - the agent (itself outside the cgroup) attached to that cgroup only, with
#     deploy/examples as config, its Workload cgroups renamed to this run's;
#   - one httpsvc per endpoint of every service; the gateway calls the user,
#     order and product services through their service addresses;
#   - curl, inside the cgroup, sends DEMO_REQUESTS requests to the gateway's
#     service address 127.100.0.1:80, each on a new connection.
#
# Environment: DEMO_REQUESTS (300), DEMO_CONCURRENCY (4), DEMO_LISTEN (the
# agent's API address; default 127.0.0.1:9440, or the next free port),
# DEMO_HOLD=1 (keep running until Ctrl-C), DEMO_CONFIG (another config dir).
# Every exit path, Ctrl-C included, stops the processes, detaches the
# programs and removes the pins and the cgroups.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BPFMESH=$ROOT/build/bpfmesh
HTTPSVC=$ROOT/build/tests/e2e/httpsvc
REQUESTS=${DEMO_REQUESTS:-300}
CONCURRENCY=${DEMO_CONCURRENCY:-4}
CONFIG_SRC=${DEMO_CONFIG:-$ROOT/deploy/examples}
RUN=bpfmesh-demo-$$

# What the gateway asks each service for, as SERVICE:PATH.
GATEWAY_CALLS="user-service:/api/v1/users/42 order-service:/api/v1/orders/7 product-service:/api/v1/products/3"

CG='' PIN='' TMP='' AGENT_PID='' LISTEN='' HOLDING=0
APP_PIDS=()

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

# TSV on stdin as an indented table with aligned columns.
table() {
	awk -F'\t' '
	{
		for (i = 1; i <= NF; i++) {
			cell[NR, i] = $i
			if (length($i) > w[i])
				w[i] = length($i)
		}
		if (NF > nf)
			nf = NF
	}
	END {
		for (r = 1; r <= NR; r++) {
			line = "   "
			for (i = 1; i <= nf; i++)
				line = line " " sprintf(i < nf ? "%-" w[i] "s " : "%s", cell[r, i])
			print line
		}
	}'
}

# ---- teardown: once, on every exit ----

stop_pid() { # PID SECONDS: TERM, then KILL after SECONDS
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	local rc=$? pid dir
	trap - EXIT INT TERM
	set +e
	if [ "$rc" != 0 ] && [ -n "$TMP" ] && [ -s "$TMP/agent.log" ]; then
		echo "demo: agent log (last lines):" >&2
		tail -n 15 "$TMP/agent.log" >&2
	fi
	echo "demo: cleaning up" >&2
	for pid in "${APP_PIDS[@]}"; do
		stop_pid "$pid" 3
	done
	# whatever is still in the demo's cgroups (a curl, a stray child)
	if [ -n "$CG" ] && [ -d "$CG" ] && [ -e "$CG/cgroup.kill" ]; then
		echo 1 >"$CG/cgroup.kill" 2>/dev/null
		sleep 0.2
	fi
	[ -n "$AGENT_PID" ] && stop_pid "$AGENT_PID" 5
	if [ -n "$PIN" ] && [ -x "$BPFMESH" ]; then
		"$BPFMESH" detach --bpffs "$PIN" ${CG:+--cgroup "$CG"} >/dev/null 2>&1 ||
			echo "demo: bpfmesh detach --bpffs $PIN failed" >&2
	fi
	[ -n "$PIN" ] && [ -e "$PIN" ] && rm -rf "$PIN"
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# deepest first; a process that survived moves to the parent cgroup
		while read -r dir; do
			while read -r pid; do
				echo "$pid" >"$(dirname "$CG")/cgroup.procs" 2>/dev/null
			done <"$dir/cgroup.procs"
			rmdir "$dir" 2>/dev/null || echo "demo: could not remove cgroup $dir" >&2
		done < <(find "$CG" -depth -type d)
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
# Ctrl-C is the way to end DEMO_HOLD=1: a normal exit then.
trap 'if [ "$HOLDING" = 1 ]; then exit 0; else exit 130; fi' INT
trap 'exit 143' TERM

# ---- checks ----

[ "$(id -u)" = 0 ] || die "needs root (cgroup attachment, bpffs pins)"
if [ ! -x "$BPFMESH" ] || [ ! -x "$HTTPSVC" ]; then
	die "build first: make (missing $BPFMESH or $HTTPSVC)"
fi
for tool in curl jq ss; do
	command -v "$tool" >/dev/null && continue
	if [ "$tool" = ss ]; then pkg=iproute2; else pkg=$tool; fi
	echo "demo: installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null ||
		die "$tool is missing and apt-get install $pkg failed"
done
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || die "no cgroup v2 mount in /proc/mounts"
# no bpffs at /sys/fs/bpf (a fresh VM): the agent mounts it
[[ $REQUESTS =~ ^[1-9][0-9]*$ ]] || die "DEMO_REQUESTS must be a positive number"
[[ $CONCURRENCY =~ ^[1-9][0-9]*$ ]] || die "DEMO_CONCURRENCY must be a positive number"

port_busy() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

if [ -n "${DEMO_LISTEN:-}" ]; then
	LISTEN=$DEMO_LISTEN
else
	for p in $(seq 9440 9499); do
		port_busy "$p" && continue
		LISTEN=127.0.0.1:$p
		break
	done
	[ -n "$LISTEN" ] || die "no free port in 9440-9499 for the agent's API; set DEMO_LISTEN"
fi
API=http://$LISTEN

# ---- set up ----

TMP=$(mktemp -d /tmp/bpfmesh-demo.XXXXXX)
CG=$CGROOT/$RUN
PIN=/sys/fs/bpf/$RUN
mkdir "$CG" "$CG/shop" "$CG/client" || die "cannot create cgroup $CG"

# The Workloads name cgroups under bpfmesh-demo/; this run's are under $RUN/.
mkdir "$TMP/config"
for f in "$CONFIG_SRC"/*.yaml "$CONFIG_SRC"/*.yml; do
	[ -e "$f" ] || continue
	sed "s#\(cgroup: *[\"']\{0,1\}\)bpfmesh-demo/#\1$RUN/#" "$f" >"$TMP/config/$(basename "$f")"
done
"$BPFMESH" validate "$TMP/config" >/dev/null || die "the configuration in $CONFIG_SRC is not valid"

say "agent: cgroup $CG, pins $PIN, API $API"
"$BPFMESH" agent --config "$TMP/config" --cgroup "$CG" --bpffs "$PIN" --listen "$LISTEN" \
	>"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
for ((i = 0; i < 100; i++)); do
	curl -sf -o /dev/null "$API/readyz" && break
	kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited"
	sleep 0.1
done
curl -sf -o /dev/null "$API/readyz" || die "the agent is not ready after 10 s"
SERVICES=$(curl -sf "$API/api/v1/services") || die "GET $API/api/v1/services failed"

# Moves the calling (sub)shell into the cgroup directory $1 and execs "$@":
# run it as `in_cgroup ... &` or `(in_cgroup ...)`, never bare. Exec'ing keeps
# the command a direct child of this script, so it is waited for.
in_cgroup() {
	echo "$BASHPID" >"$1/cgroup.procs" || exit 1
	shift
	exec "$@"
}

# One httpsvc per endpoint of SERVICE, named SERVICE-1, SERVICE-2, ... in
# config order, in the cgroup its Workload names.
start_replicas() { # SERVICE [httpsvc options...]
	local svc=$1 i=0 addr port name
	shift
	mkdir -p "$CG/shop/$svc"
	while read -r addr port; do
		i=$((i + 1))
		name=$svc-$i
		port_busy "$port" && die "port $port for $name is in use (another demo running?)"
		in_cgroup "$CG/shop/$svc" "$HTTPSVC" --name "$name" --listen "$addr:$port" "$@" \
			>"$TMP/$name.log" 2>&1 &
		APP_PIDS+=($!)
		printf '%s\t%s:%s\n' "$name" "$addr" "$port" >>"$TMP/replicas"
	done < <(jq -r --arg s "$svc" \
		'.services[] | select(.name == $s) | .endpoints[] | "\(.address) \(.port)"' <<<"$SERVICES")
	[ "$i" -gt 0 ] || die "service $svc has no endpoints in the configuration"
}

vip_of() { # SERVICE -> ADDRESS:PORT
	jq -r --arg s "$1" '.services[] | select(.name == $s) |
		"\(.addresses[0]):\(.ports[0].port)"' <<<"$SERVICES"
}

say "starting the shop"
upstreams=()
for call in $GATEWAY_CALLS; do
	svc=${call%%:*}
	vip=$(vip_of "$svc")
	[ -n "$vip" ] || die "service $svc is not in the configuration"
	start_replicas "$svc"
	upstreams+=(--upstream "$vip${call#*:}")
done
GATEWAY=$(vip_of api-gateway)
[ -n "$GATEWAY" ] || die "service api-gateway is not in the configuration"
start_replicas api-gateway "${upstreams[@]}"

for ((i = 0; i < 50; i++)); do
	ready=0
	for log in "$TMP"/*-[0-9]*.log; do
		grep -qs '^ready' "$log" && ready=$((ready + 1))
	done
	[ "$ready" = "${#APP_PIDS[@]}" ] && break
	sleep 0.1
done
[ "$ready" = "${#APP_PIDS[@]}" ] || {
	tail -n 3 "$TMP"/*-[0-9]*.log >&2
	die "not every replica started"
}
table <"$TMP/replicas"

# ---- load ----

say "one request through the gateway's service address $GATEWAY, from the demo cgroup"
(in_cgroup "$CG/client" curl -sS -m 5 "http://$GATEWAY/api/v1/checkout/0") >"$TMP/first" ||
	die "GET http://$GATEWAY/api/v1/checkout/0 failed"
jq . "$TMP/first" 2>/dev/null | sed 's/^/    /' || cat "$TMP/first"

say "load: $REQUESTS requests, $CONCURRENCY at a time, a new connection each"
t0=$(date +%s%N)
# in the background and waited for, so that a TERM is handled at once
in_cgroup "$CG/client" curl -sS --no-progress-meter -m 10 --parallel \
	--parallel-max "$CONCURRENCY" -H 'Connection: close' -w 'status=%{http_code}\n' \
	"http://$GATEWAY/api/v1/checkout/[1-$REQUESTS]" >"$TMP/load" 2>"$TMP/load.err" &
APP_PIDS+=($!)
wait $!
t1=$(date +%s%N)
ok=$(grep -c '^status=200$' "$TMP/load")
printf '    %d/%d answered 200 in %s s' "$ok" "$REQUESTS" \
	"$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e9 }')"
if [ "$ok" != "$REQUESTS" ]; then
	printf ' (others: %s)' "$(grep '^status=' "$TMP/load" | grep -v '=200$' | sort | uniq -c |
		tr -s ' \n' ' ')"
fi
echo
[ -s "$TMP/load.err" ] && sed 's/^/    curl: /' "$TMP/load.err" | sort | uniq -c | head -n 5

# ---- report ----

say "bpfmesh services --agent $LISTEN"
"$BPFMESH" services --agent "$LISTEN"

# Who answered, as the client and the gateway saw it (the replies' "service").
cat "$TMP/first" "$TMP/load" | grep '^{' | jq -r '.service, (.upstreams[].service // empty)' | sort | uniq -c |
	awk '{ print $2, $1 }' >"$TMP/answered"

say "connections per endpoint: kernel counters; ANSWERED counts the replies seen"
curl -sf "$API/api/v1/services" | jq -r '.services[] | .name as $s | .policy as $p |
	([.endpoints[].weight] | add) as $w | ([.endpoints[].connectionsOpened] | add) as $t |
	.endpoints | to_entries[] |
	[$s, $p, "\($s)-\(.key + 1)", "\(.value.address):\(.value.port)", .value.weight,
	 .value.selected, .value.connectionsOpened,
	 (if $t > 0 then .value.connectionsOpened * 100 / $t else 0 end),
	 (.value.weight * 100 / $w)] | @tsv' >"$TMP/summary" ||
	die "GET $API/api/v1/services failed"
{
	printf 'SERVICE\tPOLICY\tREPLICA\tENDPOINT\tWEIGHT\tSELECTED\tCONNECTIONS\tSHARE\tEXPECTED\tANSWERED\n'
	while IFS=$'\t' read -r svc pol rep ep w sel conns share exp; do
		ans=$(awk -v r="$rep" '$1 == r { print $2 }' "$TMP/answered")
		if [ "$pol" = leastConnections ]; then
			exp="fewest open"
		else
			exp=$(printf '%.0f%%' "$exp")
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\n' "$svc" "$pol" "$rep" "$ep" \
			"$w" "$sel" "$conns" "$share" "$exp" "${ans:-0}"
	done <"$TMP/summary"
} | table

if [ "${DEMO_HOLD:-0}" = 1 ]; then
	HOLDING=1
	say "holding; Ctrl-C tears everything down. Meanwhile, from another shell:"
	echo "    $BPFMESH services --agent $LISTEN"
	echo "    bash -c 'echo \$\$ > $CG/client/cgroup.procs; exec curl -s http://$GATEWAY/api/v1/checkout/1'"
	while kill -0 "$AGENT_PID" 2>/dev/null; do
		sleep 1
	done
	HOLDING=0
	die "the agent exited"
fi
say "done"
