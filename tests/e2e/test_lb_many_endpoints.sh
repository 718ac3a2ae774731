#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Services of 300 endpoints, past the 256 that least connections compares
# per connect: every endpoint is reached, by random and by leastConnections.
# With 299 of them ejected by active health checks, the one left (the last
# of the list) takes every connection: the kernel's fallback scan walks the
# whole list. With all 300 up, leastConnections spreads 300 held
# connections evenly, the last 100 endpoints of the list included.
AGENT_NETNS=1 # the probes must reach the endpoints in the test's namespace
. "$(dirname "$0")/lib.sh"
setup_base

N=300
addr() { echo "127.0.$((1 + ($1 - 1) / 250)).$((1 + ($1 - 1) % 250))"; } # 1..N
eps=""
for i in $(seq $N); do eps="$eps${eps:+, }{address: \"$(addr "$i")\"}"; done
service() { # NAME ADDRESS TARGET-PORT POLICY
	cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: $1}
spec:
  addresses: ["$2"]
  ports: [{port: 80, targetPort: $3}]
  loadBalancer: {policy: $4}
  endpoints: [$eps]
YAML
}
health() { # SERVICE
	cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: $1}
spec:
  service: $1
  healthCheck: {tcp: {}, interval: 300ms, timeout: 200ms, unhealthyThreshold: 1, healthyThreshold: 1}
YAML
}
{
	service one-left 127.100.0.20 18090 random
	health one-left
	service one-left-lc 127.100.0.21 18090 leastConnections
	health one-left-lc
	service all-up-lc 127.100.0.22 18091 leastConnections
} > "$CONF/svc.yaml"

# only the last endpoint listens on 18090; on 18091 all do, in three groups
start_echo last -t "$(addr $N):18090"
for g in 1 2 3; do
	args=()
	for i in $(seq $(((g - 1) * 100 + 1)) $((g * 100))); do args+=(-t "$(addr "$i"):18091"); done
	start_echo "group$g" "${args[@]}"
done
start_agent

ejected() { # SERVICE: how many of its endpoints are ejected
	api_curl -sf "http://$API/api/v1/services/$1" |
		python3 -c 'import json,sys; print(sum(e["health"] == "ejected" for e in json.load(sys.stdin)["endpoints"]))'
}
for s in one-left one-left-lc; do
	all_but_one() { [ "$(ejected "$1")" = $((N - 1)) ]; }
	wait_for "$s: 299 endpoints ejected by their probes" 60 all_but_one "$s" ||
		api_curl -sf "http://$API/api/v1/services/$s" | python3 -c 'import collections,json,sys; print(collections.Counter(e["health"] for e in json.load(sys.stdin)["endpoints"]))'
	expect_eq "$s: the last endpoint is healthy" healthy "$(ep_json "$s" "$(addr $N)" health)"
done

log "299 of 300 ejected: every connection finds the last"
out=$(in_cg "$E2E/lbclient" -n 100 127.100.0.20 80)
expect_eq "random: served by the last endpoint" 100 "$(field "$out" x last)"
expect_eq "random: failed" 0 "$(field "$out" failed)"
out=$(in_cg "$E2E/lbclient" -n 100 127.100.0.21 80)
expect_eq "leastConnections: served by the last endpoint" 100 "$(field "$out" x last)"
expect_eq "leastConnections: failed" 0 "$(field "$out" failed)"

log "all 300 up: 300 held connections by least connections"
out=$(in_cg "$E2E/lbclient" -k -n $N 127.100.0.22 80 < /dev/null)
expect_eq "held connections failed" 0 "$(field "$out" failed)"
for g in 1 2 3; do
	n=$(field "$out" x "group$g")
	# one each, were the choice exact; a window of 256 of 300 leaves some
	# slack, never a group of the list out
	expect_range "group $g (endpoints $(((g - 1) * 100 + 1))-$((g * 100))) connections" 80 120 "$n"
done

finish
