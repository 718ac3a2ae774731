#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Resilience4j circuit breaker in the kernel: half the calls failing over a
# window of 10 opens it; OPEN refuses every connect() at once; after
# waitDurationInOpenState, HALF_OPEN lets 2 trial calls through, which close
# it when they succeed. The OPEN checks run right after the opening and
# well within its 3 s, however busy the machine.
. "$(dirname "$0")/lib.sh"
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  circuitBreaker:
    failureRateThreshold: 50
    slidingWindowSize: 10
    minimumNumberOfCalls: 10
    waitDurationInOpenState: 3s
    permittedNumberOfCallsInHalfOpenState: 2
YAML
start_echo ep1 -t 127.0.0.1:18080
start_agent     # ep2 is not running: every second call fails

# the window, then at once 30 more calls while OPEN
out=$(in_cg "$E2E/lbclient" -n 10 127.100.0.10 80)
open_out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.10 80)
expect_eq "window of 10: ep2's calls failed" 5 "$(field "$out" failed)"
expect_eq "window of 10: ep1's calls served" 5 "$(served "$out" ep1)"
expect_eq "breaker" OPEN "$(svc_json web 's["breaker"]["state"]')"
wait_log "circuit breaker of default/web:80/TCP/v4 OPEN: failure rate 50.00%; refusing for 3.0s"
out=$open_out
expect_eq "OPEN: every connect refused" 30 "$(errcount "$out" ECONNREFUSED)"
# at once: the median refusal in microseconds; the slowest one, which may
# include a preemption on a busy machine, far from any connect timeout
expect_range "OPEN: median refusal (us)" 0 500 "$(field "$out" median_fail_us)"
expect_range "OPEN: slowest refusal (ms)" 0 250 "$(field_ms "$out" max_fail_us)"
expect_eq "OPEN: refusals counted as breakerOpen" 30 "$(refusal breakerOpen)"
expect_eq "OPEN: nothing reached ep1" 5 "$(ep_json web 127.0.0.1 selected)"

start_echo ep2 -t 127.0.0.2:18080
sleep 3.1   # waitDurationInOpenState, counted from before the opening
out=$(in_cg "$E2E/lbclient" -n 2 127.100.0.10 80)
expect_eq "HALF_OPEN: the 2 trial calls pass" 0 "$(field "$out" failed)"
expect_eq "HALF_OPEN: the 2 trial calls served" 2 "$(served "$out")"
expect_eq "breaker after 2 good trials" CLOSED "$(svc_json web 's["breaker"]["state"]')"
wait_log "circuit breaker of default/web:80/TCP/v4 HALF_OPEN: 2 trial call(s) allowed"
wait_log "circuit breaker of default/web:80/TCP/v4 CLOSED: trial failure rate 0.00%"
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "CLOSED again: failed" 0 "$(field "$out" failed)"
expect_eq "CLOSED again: served" 20 "$(served "$out")"
finish
