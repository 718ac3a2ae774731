#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The tc guard: a client in another network namespace that connects straight
# to an endpoint's address (no cgroup hook on its path) cannot open new
# connections to an ejected endpoint: its SYNs are dropped on the endpoint's
# host-side interface. Established flows go on.
# Topology: the test namespace is the "host" (the agent runs there, with the
# interfaces it guards); a pod namespace and a client namespace hang off it.
AGENT_NETNS=1
. "$(dirname "$0")/lib.sh"
setup_base
POD="bmt-$ID-pod"; CLI="bmt-$ID-cli"; EXTRA_NS=("$POD" "$CLI")
HOSTIF="bmp$ID"
ip netns add "$POD"; ip netns add "$CLI"
ip link add "$HOSTIF" netns "$NS" type veth peer name eth0 netns "$POD"
ip link add "bmc$ID" netns "$NS" type veth peer name eth0 netns "$CLI"
ip -n "$NS" addr add 10.80.1.1/24 dev "$HOSTIF"; ip -n "$NS" link set "$HOSTIF" up
ip -n "$NS" addr add 10.80.2.1/24 dev "bmc$ID"; ip -n "$NS" link set "bmc$ID" up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward=1
for n in "$POD:10.80.1" "$CLI:10.80.2"; do
	ns=${n%%:*}; net=${n#*:}
	ip -n "$ns" addr add "$net.2/24" dev eth0
	ip -n "$ns" link set eth0 up; ip -n "$ns" link set lo up
	ip -n "$ns" route add default via "$net.1"
done
( exec nsenter --net="/run/netns/$POD" "$E2E/echosrv" pod -t 10.80.1.2:8080 > "$TMP/pod.out" 2>&1 ) &
POD_PID=$!; PIDS+=($POD_PID)
wait_for "the pod's echosrv listens" 30 grep -q ready "$TMP/pod.out"
start_echo local -t 127.0.0.1:8080
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 8080}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "10.80.1.2"}, {address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection: {consecutiveConnectFailures: 1, baseEjectionTime: 60s, maxEjectionPercent: 50}
YAML
start_agent
# no Workload names an interface yet: the interface programs are not loaded
tc_state() { # PROGRAM: its state in /api/v1/status
	api_curl -sf "http://$API/api/v1/status" | python3 -c '
import json, sys
print([p["state"] for p in json.load(sys.stdin)["attachments"]["programs"] if p["name"] == sys.argv[1]][0])' "$1"
}
for p in bm_tc_guard bm_http_tc_in bm_http_tc_out; do
	expect_eq "$p before any interface is named" "not loaded: no Workload names an interface yet" \
		"$(tc_state "$p")"
done
grep -q "loaded the interface programs" "$TMP/agent.log" && fail "interface programs loaded at start" ||
	pass "interface programs not loaded at start"
# a reload that names one loads them, then attaches
cat > "$CONF/.pod.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web-pod}
spec:
  service: web
  cgroup: bpfmesh-test-$ID
  ports: [8080]
  interfaces: [$HOSTIF]
YAML
mv "$CONF/.pod.yaml" "$CONF/pod.yaml"
wait_log "loaded the interface programs"
wait_log "HTTP capture attached to $HOSTIF"
expect_eq "bm_tc_guard once a Workload names an interface" attached "$(tc_state bm_tc_guard)"
in_cli() { nsenter --net="/run/netns/$CLI" "$@"; }

out=$(in_cli "$E2E/lbclient" -w 500 -n 5 10.80.1.2 8080)
expect_eq "healthy: direct connects from the client namespace" 5 "$(field "$out" x pod)"

# an established flow from the client namespace, held across the ejection
# (fd 9 keeps the fifo open, so neither side blocks on opening it)
mkfifo "$TMP/go"; exec 9<>"$TMP/go"
in_cli timeout 20 bash -c 'exec 3<>/dev/tcp/10.80.1.2/8080; read -r l <&3; echo "first $l";
	read -r _; echo ping >&3; read -r l <&3; echo "after $l"' < "$TMP/go" > "$TMP/flow.out" 2>&1 &
FLOW=$!; PIDS+=($FLOW)
wait_for "the held flow is established" 30 grep -q '^first pod$' "$TMP/flow.out"

# the pod stops accepting (without dying): one refused connect through the
# service address ejects it
kill -USR1 "$POD_PID"
wait_for "the pod closed its listener" 30 grep -q '^closed$' "$TMP/pod.out"
out=$(in_cg "$E2E/lbclient" -n 4 127.100.0.10 80)
expect_eq "through the VIP: one refused connect" 1 "$(errcount "$out" ECONNREFUSED)"
expect_eq "pod endpoint" ejected "$(ep_json web 10.80.1.2 health)"
kill -USR2 "$POD_PID"     # accepting again, but still ejected for 60 s
wait_for "the pod listens again" 30 grep -q '^open$' "$TMP/pod.out"

out=$(in_cli "$E2E/lbclient" -w 500 -n 3 10.80.1.2 8080)
expect_eq "ejected: direct SYNs from the client namespace dropped (timeouts)" 3 "$(errcount "$out" ETIMEDOUT)"
expect_range "ejected: SYNs dropped by the tc guard" 3 20 "$(refusal tcEjected)"
out=$(in_cli "$E2E/lbclient" -w 500 -n 3 10.80.2.1 1)
expect_eq "other destinations are not touched (refused, not dropped)" 3 "$(errcount "$out" ECONNREFUSED)"

echo go >&9
wait "$FLOW"
flow=$(cat "$TMP/flow.out")
log "established flow: $(echo "$flow" | tr '\n' ' ')"
echo "$flow" | grep -q "^after pod$" && pass "established flow kept working after the ejection" \
	|| fail "established flow: $flow"
finish
