#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Outlier ejection in the kernel: a dead endpoint costs at most
# consecutiveConnectFailures failed connects, then is never chosen; it comes
# back through half-open once revived; with every endpoint dead, connect()
# fails at once with ECONNREFUSED.
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
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}, {address: "127.0.0.3"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection:
    consecutiveConnectFailures: 2
    interval: 1s
    baseEjectionTime: 3s
    maxEjectionPercent: 100
YAML
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
EP2=${PIDS[1]}
start_agent

out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.10 80)
expect_eq "all healthy: failed" 0 "$(field "$out" failed)"
expect_eq "all healthy: served" 30 "$(served "$out")"

stop_pid "$EP2"
out=$(in_cg "$E2E/lbclient" -n 90 127.100.0.10 80)
expect_eq "ep2 dead: failed connects (consecutiveConnectFailures)" 2 "$(field "$out" failed)"
expect_eq "ep2 dead: the rest served by ep1 and ep3" 88 "$(served "$out" ep1 ep3)"
expect_eq "ep2 dead: failures were ECONNREFUSED" 2 "$(errcount "$out" ECONNREFUSED)"
expect_eq "ep2 dead: connects reaching ep2 after ejection (refused counter)" 2 "$(ep_json web 127.0.0.2 connectRefused)"
expect_eq "ep2 health" ejected "$(ep_json web 127.0.0.2 health)"
expect_eq "endpoints healthy" 2 "$(svc_json web 's["endpointsHealthy"]')"
wait_log "endpoint 127.0.0.2:18080 of default/web:80/TCP/v4 ejected: consecutive connect failures; ejection #1 for 3.0s"
"$BIN" services --agent "$API" > "$TMP/services.out"
grep -q "ejected x1" "$TMP/services.out" && pass "bpfmesh services shows the ejection" || fail "services: $(cat "$TMP/services.out")"

# revived: after baseEjectionTime one trial connection goes through
start_echo ep2 -t 127.0.0.2:18080
sleep 3.1
out=$(in_cg "$E2E/lbclient" -n 60 127.100.0.10 80)
expect_eq "revived: failed" 0 "$(field "$out" failed)"
expect_eq "revived: served" 60 "$(served "$out")"
expect_range "revived: ep2 serves again" 15 25 "$(field "$out" x ep2)"
expect_eq "ep2 health after the trial" healthy "$(ep_json web 127.0.0.2 health)"
wait_log "endpoint 127.0.0.2:18080 of default/web:80/TCP/v4 restored: half-open trial connection succeeded"

# every endpoint dead: each costs its 2 failures, then the kernel refuses;
# 20 connects, then at once 50 more, all within the 3 s of the ejections
for p in "${PIDS[@]}"; do stop_pid "$p"; done
PIDS=()
refused_sum() { svc_json web 'sum(e["connectRefused"] for e in s["endpoints"])'; }
r0=$(refused_sum); k0=$(refusal allEjected)
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
out50=$(in_cg "$E2E/lbclient" -n 50 127.100.0.10 80)
expect_eq "all dead: every connect failed" 20 "$(errcount "$out" ECONNREFUSED)"
expect_eq "all dead: connects that reached a dead endpoint (2 each)" 6 "$(( $(refused_sum) - r0 ))"
out=$out50
expect_eq "all ejected: refused" 50 "$(errcount "$out" ECONNREFUSED)"
# at once: the median refusal in microseconds; the slowest one, which may
# include a preemption on a busy machine, far from any connect timeout
expect_range "all ejected: median refusal (us)" 0 500 "$(field "$out" median_fail_us)"
expect_range "all ejected: slowest refusal (ms)" 0 250 "$(field_ms "$out" max_fail_us)"
expect_eq "all dead, then all ejected: the 14 + 50 others refused by the kernel" 64 "$(( $(refusal allEjected) - k0 ))"
finish
