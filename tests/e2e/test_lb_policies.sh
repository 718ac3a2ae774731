#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Spread per loadBalancer.policy: weighted random, weighted round robin,
# least connections (from sockops' live counts) and maglev (source affinity).
. "$(dirname "$0")/lib.sh"
setup_base
svc() { # NAME VIP POLICY W1 W2 W3
	cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: $1}
spec:
  addresses: ["$2"]
  ports: [{name: tcp, port: 80, targetPort: 18080}]
  loadBalancer: {policy: $3}
  endpoints:
  - {address: "127.0.0.1", weight: $4}
  - {address: "127.0.0.2", weight: $5}
  - {address: "127.0.0.3", weight: $6}
YAML
}
{
	svc random 127.100.0.1 random 1 1 2
	svc rr 127.100.0.2 roundRobin 1 1 2
	svc lc 127.100.0.3 leastConnections 1 1 1
	svc maglev 127.100.0.4 maglev 1 1 1
} > "$CONF/svc.yaml"
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
start_agent

# weighted random: 1:1:2 of 800
out=$(in_cg "$E2E/lbclient" -n 800 127.100.0.1 80)
expect_eq "random failed" 0 "$(field "$out" failed)"
expect_range "random ep1 (weight 1 of 4)" 140 260 "$(field "$out" x ep1)"
expect_range "random ep2 (weight 1 of 4)" 140 260 "$(field "$out" x ep2)"
expect_range "random ep3 (weight 2 of 4)" 330 470 "$(field "$out" x ep3)"

# weighted round robin is exact: 400 connections -> 100/100/200
out=$(in_cg "$E2E/lbclient" -n 400 127.100.0.2 80)
expect_eq "roundRobin ep1" 100 "$(field "$out" x ep1)"
expect_eq "roundRobin ep2" 100 "$(field "$out" x ep2)"
expect_eq "roundRobin ep3" 200 "$(field "$out" x ep3)"

# least connections: 30 connections held open arrive 10/10/10, because each
# new one goes to the endpoint with the fewest established
exec 7> >(in_cg "$E2E/lbclient" -k -n 30 127.100.0.3 80 > "$TMP/lc.out")
wait_client "$TMP/lc.out"
out=$(cat "$TMP/lc.out")
for i in 1 2 3; do expect_eq "leastConnections held ep$i" 10 "$(field "$out" x "ep$i")"; done
active=$(curl -sf "http://$API/api/v1/services/lc" | grep -o '"connectionsActive":[0-9]*' | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')
expect_eq "sockops active counts while held" "10 10 10" "$active"
# closing the held ones: sockops counts them down
exec 7>&-
lc_active() { curl -sf "http://$API/api/v1/services/lc" | grep -o '"connectionsActive":[0-9]*' | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//'; }
lc_idle() { [ "$(lc_active)" = "0 0 0" ]; }
wait_for "sockops active counts back to 0" 30 lc_idle
expect_eq "sockops active counts after close" "0 0 0" "$(lc_active)"

# maglev: a client's source address always maps to the same endpoint, and
# 250 sources spread over the three
a=$(in_cg "$E2E/lbclient" -S -v -n 250 127.100.0.4 80 | grep '^conn' | awk '{print $3, $4}')
b=$(in_cg "$E2E/lbclient" -S -v -n 250 127.100.0.4 80 | grep '^conn' | awk '{print $3, $4}')
expect_eq "maglev same source -> same endpoint (differences)" 0 "$(diff <(echo "$a") <(echo "$b") | grep -c '^<')"
for i in 1 2 3; do expect_range "maglev sources on ep$i" 50 120 "$(echo "$a" | grep -c " ep$i$")"; done
finish
