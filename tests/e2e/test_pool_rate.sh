#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# connectionPool.tcp.maxConnections is a bulkhead: connections beyond it are
# refused at once and slots come back when sockets close. rateLimit is a
# token bucket per service.
. "$(dirname "$0")/lib.sh"
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: pool}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: pool}
spec:
  service: pool
  connectionPool: {tcp: {maxConnections: 5}}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: rate}
spec:
  addresses: ["127.100.0.11"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: rate}
spec:
  service: rate
  rateLimit: {connectionsPerSecond: 20, burst: 5}
YAML
start_echo ep1 -t 127.0.0.1:18080
start_agent

exec 7> >(in_cg "$E2E/lbclient" -k -n 8 127.100.0.10 80 > "$TMP/held.out")
for _ in $(seq 100); do grep -q peer_mismatch "$TMP/held.out" 2>/dev/null && break; sleep 0.05; done
out=$(cat "$TMP/held.out")
expect_eq "bulkhead: held connections that got through" 5 "$(field "$out" x ep1)"
expect_eq "bulkhead: refused beyond maxConnections" 3 "$(errcount "$out" ECONNREFUSED)"
expect_eq "bulkhead: slots in use" 5 "$(svc_json pool 's["poolConnections"]')"
expect_eq "bulkhead: refusals counted" 3 "$(refusal bulkhead)"
exec 7>&-
sleep 0.3
expect_eq "bulkhead: slots back after close" 0 "$(svc_json pool 's["poolConnections"]')"
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "bulkhead: sequential connections all pass" 0 "$(field "$out" failed)"

# 40 connects as fast as possible: the burst of 5 plus what 20/s refills
out=$(in_cg "$E2E/lbclient" -n 40 127.100.0.11 80)
expect_range "rate limit: admitted" 5 7 "$(field "$out" x ep1)"
expect_eq "rate limit: refused" "$(( 40 - $(field "$out" x ep1) ))" "$(errcount "$out" ECONNREFUSED)"
sleep 0.5     # refills 10, capped at the burst of 5
out=$(in_cg "$E2E/lbclient" -n 10 127.100.0.11 80)
expect_range "rate limit: after 0.5s the burst is back" 5 6 "$(field "$out" x ep1)"
finish
