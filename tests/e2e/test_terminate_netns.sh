#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# terminateConnections in every network namespace of the attached cgroup
# (README: "bpf_sock_destroy from socket iterators, in every network
# namespace of the attached cgroup"): clients of the cgroup in three
# namespaces hold connections to both endpoints (the same loopback address
# is a server of its own in each namespace); an ejection destroys the
# connections to the ejected endpoint in all three, and taking the other
# endpoint out of the config destroys its connections in all three; no
# other connection is touched.
. "$(dirname "$0")/lib.sh"
setup_base
conf() { # endpoints...
	service_yaml web 127.100.0.10 80 18080 roundRobin "$@" > "$CONF/svc.yaml.tmp"
	cat >> "$CONF/svc.yaml.tmp" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection: {consecutiveConnectFailures: 1, baseEjectionTime: 60s, maxEjectionPercent: 50, terminateConnections: true}
YAML
	mv "$CONF/svc.yaml.tmp" "$CONF/svc.yaml"
}
conf 127.0.0.1 127.0.0.2 127.0.0.3
C1="bmt-$ID-c1" C2="bmt-$ID-c2"; EXTRA_NS=("$C1" "$C2")
ALL_NS=("$NS" "$C1" "$C2")
start_echo_in() { # NETNS NAME ARGS...
	local ns=$1 name=$2; shift 2
	( exec nsenter --net="/run/netns/$ns" "$E2E/echosrv" "$name" "$@" > "$TMP/echo-$ns-$name.out" 2>&1 ) &
	PIDS+=($!)
}
for ns in "$C1" "$C2"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
for ns in "${ALL_NS[@]}"; do
	for i in 1 2 3; do start_echo_in "$ns" "ep$i" -t "127.0.0.$i:18080"; done
done
echo_ready() { [ "$(cat "$TMP"/echo-*.out 2>/dev/null | grep -c ready)" -ge 9 ]; }
wait_for "the endpoints listen in the three namespaces" 30 echo_ready
start_agent

# 6 connections held from the cgroup in each namespace (round robin: 2 to
# each endpoint), one namespace after the other
fd=7
for ns in "${ALL_NS[@]}"; do
	eval "exec $fd> >( ( echo \$BASHPID > \"$CG/cgroup.procs\" && exec nsenter --net=\"/run/netns/$ns\" \
		\"$E2E/lbclient\" -k -n 6 127.100.0.10 80 ) > \"$TMP/held-$ns.out\" )"
	wait_client "$TMP/held-$ns.out"
	expect_eq "$ns: 6 connections held" 6 "$(served "$(cat "$TMP/held-$ns.out")")"
	fd=$((fd + 1))
done
# conns NETNS EP: established client connections to EP:18080 there
conns() { nsenter --net="/run/netns/$1" ss -Htn state established dst "$2:18080" | wc -l; }
counts() { local ns; for ns in "${ALL_NS[@]}"; do printf '%s ' "$(conns "$ns" "$1")"; done; }
expect_eq "held to ep1 in each namespace" "2 2 2 " "$(counts 127.0.0.1)"
expect_eq "held to ep2 in each namespace" "2 2 2 " "$(counts 127.0.0.2)"
expect_eq "held to ep3 in each namespace" "2 2 2 " "$(counts 127.0.0.3)"

# ep1 of the test's namespace refuses: one refused connect ejects ep1
kill -USR1 "${PIDS[0]}"
wait_for "ep1 closed its listener" 30 grep -q '^closed$' "$TMP/echo-$NS-ep1.out"
out=$(in_cg "$E2E/lbclient" -n 3 127.100.0.10 80)
expect_eq "the refused connect that ejects ep1" 1 "$(errcount "$out" ECONNREFUSED)"
# the agent's own namespace is searched too: 3 + 1
wait_log "terminated 6 connection(s) to ejected endpoint 127.0.0.1:18080 in 4 network namespace(s)"
ep1_gone() { [ "$(counts 127.0.0.1)" = "0 0 0 " ]; }
wait_for "connections to ep1 gone in every namespace" 10 ep1_gone
expect_eq "after the ejection: to ep1 in each namespace" "0 0 0 " "$(counts 127.0.0.1)"
expect_eq "after the ejection: to ep2 untouched" "2 2 2 " "$(counts 127.0.0.2)"
expect_eq "after the ejection: to ep3 untouched" "2 2 2 " "$(counts 127.0.0.3)"

# ep2 taken out of the config
conf 127.0.0.1 127.0.0.3
wait_log "terminated 6 connection(s) to 1 removed endpoint(s) in 4 network namespace(s)"
ep2_gone() { [ "$(counts 127.0.0.2)" = "0 0 0 " ]; }
wait_for "connections to ep2 gone in every namespace" 10 ep2_gone
expect_eq "after the removal: to ep2 in each namespace" "0 0 0 " "$(counts 127.0.0.2)"
expect_eq "after the removal: to ep3 untouched" "2 2 2 " "$(counts 127.0.0.3)"
exec 7>&- 8>&- 9>&-
finish
