#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# HTTP outlier detection in the kernel: an endpoint that answers 502 (a
# gateway error, and a 5xx) is ejected after consecutiveGatewayErrors of
# them, counted from the responses on the wire, while a healthy endpoint's
# 200s end any run; a 5xx endpoint is ejected after consecutive5xxErrors.
. "$(dirname "$0")/lib.sh"
setup_base
service_yaml web 127.100.0.10 80 18080 roundRobin 127.0.0.1 127.0.0.2 > "$CONF/svc.yaml"
cat >> "$CONF/svc.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection:
    consecutiveGatewayErrors: 3
    consecutive5xxErrors: 10
    interval: 1s
    baseEjectionTime: 30s
    maxEjectionPercent: 50
YAML
# 127.0.0.2 serves every request with 502: its own upstream refuses
for i in 1 2; do
	up=(); [ "$i" = 2 ] && up=(--upstream 127.0.0.1:9 --timeout-ms 200)
	( exec nsenter --net="/run/netns/$NS" "$E2E/httpsvc" --name "ep$i" --listen "127.0.0.$i:18080" "${up[@]}" ) \
		> "$TMP/ep$i.out" 2>&1 &
	PIDS+=($!)
done
start_agent
sleep 0.2
# a new connection per request, so round robin alternates the endpoints
for _ in $(seq 20); do
	in_cg curl -s -o /dev/null -w '%{http_code}\n' http://127.100.0.10/
done > "$TMP/codes"
expect_eq "502s before the ejection (consecutiveGatewayErrors)" 3 "$(grep -c '^502$' "$TMP/codes")"
expect_eq "200s" 17 "$(grep -c '^200$' "$TMP/codes")"
expect_eq "ep2 health" ejected "$(ep_json web 127.0.0.2 health)"
expect_eq "ep2 reason" "consecutive gateway errors" "$(ep_json web 127.0.0.2 reason)"
expect_eq "ep2 5xx responses counted" 3 "$(ep_json web 127.0.0.2 http5xx)"
expect_eq "ep1 health" healthy "$(ep_json web 127.0.0.1 health)"
wait_log "endpoint 127.0.0.2:18080 of default/web:80/TCP/v4 ejected: consecutive gateway errors"
finish
