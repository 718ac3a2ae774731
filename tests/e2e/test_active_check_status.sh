#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The HTTP health check wants a 2xx (README: "active health checks
# (healthCheck, TCP or HTTP 2xx)"): endpoints whose check path answers 200
# or 204 stay in, those answering 301, 404 or 503 are ejected by their
# probes before any client meets them, and one that turns to 200 comes back.
AGENT_NETNS=1   # the probes must reach the endpoints in the test's namespace
. "$(dirname "$0")/lib.sh"
setup_base
EPS=(127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.15)
CODES=(200 204 301 404 503)
service_yaml web 127.100.0.10 80 18080 roundRobin "${EPS[@]}" > "$CONF/svc.yaml"
cat >> "$CONF/svc.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  healthCheck: {http: {path: /healthz}, interval: 100ms, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 2}
  outlierDetection: {maxEjectionPercent: 100}
YAML
# each endpoint answers every request (its /healthz too) with its code
for i in 0 1 2 3 4; do start_status "s${CODES[$i]}" "${EPS[$i]}" 18080 "${CODES[$i]}"; done
S503=${PIDS[-1]}
start_agent
health() { ep_json web "$1" health; }
three_out() { [ "$(health 127.0.0.13)$(health 127.0.0.14)$(health 127.0.0.15)" = ejectedejectedejected ]; }
wait_for "the three non-2xx endpoints ejected by their probes" 30 three_out
for i in 0 1 2 3 4; do
	want=healthy; [ "${CODES[$i]}" -ge 300 ] && want=ejected
	expect_eq "check answered ${CODES[$i]}: ${EPS[$i]}" "$want" "$(health "${EPS[$i]}")"
done
for e in 127.0.0.13 127.0.0.14 127.0.0.15; do
	expect_eq "$e: reason" "active health check failed" "$(ep_json web "$e" reason)"
done
expect_range "the 503 endpoint was probed (requests it answered)" 2 100000 "$(grep -c ' /healthz 503$' "$TMP/status-s503.out")"

# clients meet only the 2xx endpoints (each answers its own code; curl: the
# endpoints speak HTTP, not first)
for _ in $(seq 20); do in_cg curl -s -o /dev/null --max-time 5 -w '%{http_code}\n' http://127.100.0.10/; done > "$TMP/codes"
expect_eq "requests answered 200 or 204" 20 "$(grep -c '^20[04]$' "$TMP/codes")"
expect_range "requests the 204 endpoint answered" 1 19 "$(grep -c '^204$' "$TMP/codes")"
expect_eq "requests that reached an ejected endpoint" 0 "$(grep -vc '^20[04]$' "$TMP/codes")"

# the 503 endpoint now answers 200: healthyThreshold probes bring it back
stop_pid "$S503"
start_status s503-fixed 127.0.0.15 18080 200
wait_log "endpoint 127.0.0.15:18080 restored: active health check passed 2 times"
expect_eq "the fixed endpoint" healthy "$(health 127.0.0.15)"
expect_eq "still ejected: 301" ejected "$(health 127.0.0.13)"
finish
