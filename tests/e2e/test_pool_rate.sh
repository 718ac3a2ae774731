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
wait_client "$TMP/held.out"
out=$(cat "$TMP/held.out")
expect_eq "bulkhead: held connections that got through" 5 "$(field "$out" x ep1)"
expect_eq "bulkhead: refused beyond maxConnections" 3 "$(errcount "$out" ECONNREFUSED)"
expect_eq "bulkhead: slots in use" 5 "$(svc_json pool 's["poolConnections"]')"
expect_eq "bulkhead: refusals counted" 3 "$(refusal bulkhead)"
exec 7>&-
pool_free() { [ "$(svc_json pool 's["poolConnections"]')" = 0 ]; }
wait_for "bulkhead: slots back after close" 10 pool_free
expect_eq "bulkhead: slots back after close" 0 "$(svc_json pool 's["poolConnections"]')"
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "bulkhead: sequential connections all pass" 0 "$(field "$out" failed)"
expect_eq "bulkhead: sequential connections served" 20 "$(served "$out" ep1)"

# rate_check WHAT OUTPUT: the bucket admits its burst of 5, then 20 per
# second between the client's first and last attempts (lbclient's span_us,
# its own clock, however slow a busy machine made the loop): exactly, but
# for a token the two clocks may split differently
rate_check() {
	local what=$1 out=$2 span lo hi
	span=$(field "$out" span_us)
	lo=$(awk -v us="$span" 'BEGIN { n = 5 + int(20 * us / 1e6) - 1; print n < 5 ? 5 : n }')
	hi=$(awk -v us="$span" 'BEGIN { print 5 + int(20 * us / 1e6 + 0.999999) }')
	log "$what: $(field "$out" total) attempts over $span us"
	expect_range "$what: admitted" "$lo" "$hi" "$(served "$out" ep1)"
	expect_eq "$what: the rest refused" "$(field "$out" total)" \
		"$(( $(served "$out" ep1) + $(errcount "$out" ECONNREFUSED) ))"
}
# half a second of connects as fast as the client goes: the burst, then
# what 20/s refills
out=$(in_cg "$E2E/lbclient" -T 0.5 127.100.0.11 80)
rate_check "rate limit" "$out"
expect_eq "rate limit: refusals counted" "$(errcount "$out" ECONNREFUSED)" "$(refusal rateLimited)"
sleep 0.5     # refills 10, capped at the burst of 5
out=$(in_cg "$E2E/lbclient" -n 10 127.100.0.11 80)
rate_check "rate limit after 0.5s: the burst is back" "$out"
finish
