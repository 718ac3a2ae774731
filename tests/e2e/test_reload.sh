#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A reload that adds one endpoint and removes another while connections keep
# coming: zero failed connections, the new endpoint gets traffic, the removed
# one none. An invalid config then changes nothing.
. "$(dirname "$0")/lib.sh"
setup_base
write_conf() { # endpoint last octets...
	{
		cat <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  loadBalancer: {policy: roundRobin}
  endpoints:
YAML
		for o in "$@"; do echo "  - {address: \"127.0.0.$o\"}"; done
	} > "$CONF/web.yaml.tmp"
	mv "$CONF/web.yaml.tmp" "$CONF/web.yaml"
}
write_conf 1 2 3
for i in 1 2 3 4; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
start_agent

# long enough for both reloads to land in it, even on a busy machine
in_cg "$E2E/lbclient" -T 6 127.100.0.10 80 > "$TMP/during.out" &
PIDS+=($!)
sleep 0.7
write_conf 1 2 3 4      # add ep4
wait_log "config applied" 2
sleep 0.7
write_conf 2 3 4        # remove ep1
wait_log "config applied" 3
wait "${PIDS[-1]}"
out=$(cat "$TMP/during.out")
log "during reloads: $(echo "$out" | tr '\n' ' ')"
expect_eq "failed connections during reloads" 0 "$(field "$out" failed)"
expect_range "ep4 got traffic after being added" 1 1000000 "$(field "$out" x ep4)"

out=$(in_cg "$E2E/lbclient" -n 300 127.100.0.10 80)
expect_eq "after removal: ep1" 0 "$(field "$out" x ep1)"
for i in 2 3 4; do expect_eq "after removal: ep$i" 100 "$(field "$out" x "ep$i")"; done

# invalid config: rejected with file:line:col, previous one stays in force
cat > "$CONF/bad.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: bad}
spec:
  addresses: ["127.100.0.300"]
  ports: [{name: http, port: 80}]
YAML
wait_log "config rejected"
grep -q "bad.yaml:5:" "$TMP/agent.log" && pass "rejection names bad.yaml:5" || fail "rejection without file:line: $(grep rejected "$TMP/agent.log")"
out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.10 80)
expect_eq "previous config still balances" 30 "$(( $(field "$out" x ep2) + $(field "$out" x ep3) + $(field "$out" x ep4) ))"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$API/readyz")
expect_eq "readyz stays 200 with the previous config in force" 200 "$code"
"$BIN" validate "$CONF" > "$TMP/validate.out" 2>&1; rc=$?
expect_eq "validate exit code" 1 "$rc"
grep -q 'bad.yaml:5:[0-9]*: spec.addresses\[0\]: "127.100.0.300" is not an IPv4 or IPv6 address' "$TMP/validate.out" \
	&& pass "validate message" || fail "validate message: $(cat "$TMP/validate.out")"
rm "$CONF/bad.yaml"
finish
