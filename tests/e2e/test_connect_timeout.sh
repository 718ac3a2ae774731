#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An endpoint that never answers SYN (its namespace drops every packet): the
# connect gives up after connectionPool.tcp.connectTimeout, the endpoint is
# ejected on that timeout, and the next connects go to the healthy endpoint.
. "$(dirname "$0")/lib.sh"
setup_base
POD="bmt-$ID-p1"; EXTRA_NS=("$POD")
ip netns add "$POD"
ip link add "bmv${ID}" netns "$NS" type veth peer name eth0 netns "$POD"
ip -n "$NS" addr add 10.78.1.1/24 dev "bmv${ID}"
ip -n "$NS" link set "bmv${ID}" up
ip -n "$POD" addr add 10.78.1.2/24 dev eth0
ip -n "$POD" link set eth0 up
# the black hole: frames for 10.78.1.2 go to a MAC nobody has, so the pod
# drops them (PACKET_OTHERHOST) and no SYN is ever answered
ip -n "$NS" neigh replace 10.78.1.2 lladdr 02:00:00:00:be:ef dev "bmv${ID}" nud permanent
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "10.78.1.2"}, {address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  connectionPool: {tcp: {connectTimeout: 300ms}}
  outlierDetection: {consecutiveConnectFailures: 1, baseEjectionTime: 30s}
YAML
start_echo ep1 -t 127.0.0.1:18080
start_agent

out=$(in_cg "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "one connect timed out" 1 "$(errcount "$out" ETIMEDOUT)"
# lbclient's own clock, never its start-up: the attempt ends at the 300 ms
# connectTimeout (the kernel's own first SYN retransmission alone would
# come at 1 s, its give-up minutes later), allowing for a late wake-up
expect_range "it gave up after connectTimeout (ms)" 250 900 "$(field_ms "$out" max_fail_us)"
expect_eq "the other 9 went to the healthy endpoint" 9 "$(field "$out" x ep1)"
# no SYN of theirs waited: 9 more timeouts would be 2.7 s
expect_range "the 9 others took (ms)" 0 600 \
	"$(( ($(field "$out" elapsed_us) - $(field "$out" max_fail_us)) / 1000 ))"
expect_eq "black-holed endpoint" ejected "$(ep_json web 10.78.1.2 health)"
expect_eq "its timeouts counted" 1 "$(ep_json web 10.78.1.2 connectTimeouts)"
finish
