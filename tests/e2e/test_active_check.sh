#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Active health checks: unhealthyThreshold failed probes eject an endpoint in
# the kernel before any client meets it, healthyThreshold good probes bring
# it back; an HTTP check wants a 2xx status line.
AGENT_NETNS=1   # the probes must reach the endpoints in the test's namespace
. "$(dirname "$0")/lib.sh"
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: tcp}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: t, port: 80, targetPort: 18080}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: tcp}
spec:
  service: tcp
  healthCheck: {tcp: {}, interval: 100ms, timeout: 100ms, unhealthyThreshold: 2, healthyThreshold: 2}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.11"]
  ports: [{name: http, port: 80, targetPort: 18081}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "127.0.0.3"}, {address: "127.0.0.4"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  healthCheck: {http: {path: /healthz}, interval: 100ms, timeout: 200ms, unhealthyThreshold: 2}
YAML
start_echo ep1 -t 127.0.0.1:18080
EP1=${PIDS[-1]}
start_echo ep2 -t 127.0.0.2:18080
# web: a real HTTP service, and an endpoint that speaks no HTTP
( exec nsenter --net="/run/netns/$NS" "$E2E/httpsvc" --name http-ok --listen 127.0.0.3:18081 > "$TMP/httpsvc.out" 2>&1 ) &
PIDS+=($!)
wait_for "httpsvc http-ok listens" 30 grep -q ready "$TMP/httpsvc.out"
start_echo not-http -t 127.0.0.4:18081
start_agent
# the first probes (100 ms apart): the endpoint that speaks no HTTP fails
# its two, and by then every endpoint has been probed twice
not_http_ejected() { [ "$(ep_json web 127.0.0.4 health)" = ejected ]; }
wait_for "the non-HTTP endpoint ejected by its probes" 30 not_http_ejected

out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "tcp checks pass: ep1" 10 "$(field "$out" x ep1)"
expect_eq "tcp checks pass: ep2" 10 "$(field "$out" x ep2)"
expect_eq "http check: the non-HTTP endpoint" ejected "$(ep_json web 127.0.0.4 health)"
expect_eq "http check: the HTTP endpoint" healthy "$(ep_json web 127.0.0.3 health)"
expect_eq "http check: ejection reason" "active health check failed" "$(ep_json web 127.0.0.4 reason)"

kill -USR1 "$EP1"            # ep1 stops accepting
wait_log "endpoint 127.0.0.1:18080 ejected: active health check failed 2 times"
expect_eq "ep1 after failed probes" ejected "$(ep_json tcp 127.0.0.1 health)"
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "clients never meet the ejected endpoint: failed" 0 "$(field "$out" failed)"
expect_eq "clients never meet the ejected endpoint: ep2" 20 "$(field "$out" x ep2)"

kill -USR2 "$EP1"            # accepting again
wait_log "endpoint 127.0.0.1:18080 restored: active health check passed 2 times"
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "restored: ep1" 10 "$(field "$out" x ep1)"
expect_eq "restored: ep2" 10 "$(field "$out" x ep2)"
finish
