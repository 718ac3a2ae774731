#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# IPv6 service addresses (in the test's namespace, where a missed translation
# has no route anywhere), TCP and UDP, with getpeername/recvfrom showing the
# service address; a dual-stack service keeps each family to its endpoints.
. "$(dirname "$0")/lib.sh"
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: v6}
spec:
  addresses: ["fd00:bbbb::10", "127.100.0.10"]
  ports:
  - {name: tcp, port: 80, targetPort: 18080}
  - {name: udp, port: 53, targetPort: 18053, protocol: UDP}
  loadBalancer: {policy: roundRobin}
  endpoints:
  - {address: "::1"}
  - {address: "127.0.0.1"}
YAML
start_echo v6ep -t "[::1]:18080" -u "[::1]:18053"
start_echo v4ep -t "127.0.0.1:18080"
start_agent

out=$(in_cg "$E2E/lbclient" -n 100 fd00:bbbb::10 80)
expect_eq "v6 tcp failed" 0 "$(field "$out" failed)"
expect_eq "v6 tcp to the v6 endpoint" 100 "$(field "$out" x v6ep)"
expect_eq "v6 getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
out=$(in_cg "$E2E/lbclient" -u -n 100 fd00:bbbb::10 53)
expect_eq "v6 udp answered" 100 "$(field "$out" x v6ep)"
expect_eq "v6 recvfrom source mismatches" 0 "$(field "$out" peer_mismatch)"
out=$(in_cg "$E2E/lbclient" -n 50 127.100.0.10 80)
expect_eq "v4 address of the same service to the v4 endpoint" 50 "$(field "$out" x v4ep)"
finish
