#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# HTTP outlier detection in the kernel, from the responses on the wire: an
# endpoint that answers 502 (a gateway error, and a 5xx) is ejected after
# consecutiveGatewayErrors of them while a healthy endpoint's 200s end any
# run; an endpoint that answers 500 (a 5xx, not a gateway error) is ejected
# after consecutive5xxErrors; any status that is not a 5xx (404 here) ends
# both runs, so an endpoint whose errors never run long enough stays in.
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
---
YAML
# five: one endpoint that answers the status its path names
service_yaml five 127.100.0.12 80 18090 - 127.0.0.5 >> "$CONF/svc.yaml"
cat >> "$CONF/svc.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: five}
spec:
  service: five
  outlierDetection:
    consecutiveGatewayErrors: 2
    consecutive5xxErrors: 3
    interval: 1s
    baseEjectionTime: 30s
    maxEjectionPercent: 100
YAML
# 127.0.0.2 serves every request with 502: its own upstream refuses
for i in 1 2; do
	up=(); [ "$i" = 2 ] && up=(--upstream 127.0.0.1:9 --timeout-ms 200)
	( exec nsenter --net="/run/netns/$NS" "$E2E/httpsvc" --name "ep$i" --listen "127.0.0.$i:18080" "${up[@]}" ) \
		> "$TMP/ep$i.out" 2>&1 &
	PIDS+=($!)
done
httpsvc_ready() { grep -q ready "$TMP/ep1.out" && grep -q ready "$TMP/ep2.out"; }
wait_for "the two httpsvc endpoints listen" 30 httpsvc_ready
start_status ep5 127.0.0.5 18090
start_agent
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

# five: a 404 after each run of errors ends both runs: 4 5xx (2 of them
# gateway errors) in all, never 3 in a row, never 2 gateway errors in a row
get() { in_cg curl -s -o /dev/null -w '%{http_code}\n' "http://127.100.0.12/status/$1"; }
for s in 502 500 404 502 500 404; do get "$s"; done > "$TMP/five.codes"
expect_eq "five: answers as asked" "502 500 404 502 500 404" "$(echo $(cat "$TMP/five.codes"))"
expect_eq "five: 5xx responses counted" 4 "$(ep_json five 127.0.0.5 http5xx)"
expect_eq "five: 404s ended the runs: health" healthy "$(ep_json five 127.0.0.5 health)"
# three 500s in a row: consecutive5xxErrors (500 is no gateway error)
for s in 500 500 500; do get "$s"; done > "$TMP/five.codes"
expect_eq "five: three 500s answered" "500 500 500" "$(echo $(cat "$TMP/five.codes"))"
expect_eq "five: health after 3 consecutive 500s" ejected "$(ep_json five 127.0.0.5 health)"
expect_eq "five: reason" "consecutive 5xx responses" "$(ep_json five 127.0.0.5 reason)"
wait_log "endpoint 127.0.0.5:18090 of default/five:80/TCP/v4 ejected: consecutive 5xx responses"
out=$(in_cg "$E2E/lbclient" -n 3 127.100.0.12 80)
expect_eq "five: its only endpoint ejected, connects refused" 3 "$(errcount "$out" ECONNREFUSED)"
finish
