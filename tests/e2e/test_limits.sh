#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A configuration larger than the maps is refused whole with a message that
# names the limit and the flag that raises it; the smaller one stays in force.
. "$(dirname "$0")/lib.sh"
setup_base
gen() { # N endpoints
	cat <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: big}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  loadBalancer: {policy: roundRobin}
  endpoints:
YAML
	for i in $(seq "$1"); do echo "  - {address: \"127.0.1.$i\"}"; done
}
gen 2 > "$CONF/svc.yaml"
start_echo ep1 -t 127.0.1.1:18080
start_echo ep2 -t 127.0.1.2:18080
start_agent --max-endpoints 4
gen 6 > "$CONF/svc.yaml.tmp"; mv "$CONF/svc.yaml.tmp" "$CONF/svc.yaml"
wait_log "config not applied"
grep -q "map lb_backends is full: 6 endpoints needed, the limit is 4; raise it with --max-endpoints" "$TMP/agent.log" \
	&& pass "full map message" || fail "full map message: $(grep 'not applied' "$TMP/agent.log")"
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.10 80)
expect_eq "previous endpoints still serve: ep1" 10 "$(field "$out" x ep1)"
expect_eq "previous endpoints still serve: ep2" 10 "$(field "$out" x ep2)"
finish
