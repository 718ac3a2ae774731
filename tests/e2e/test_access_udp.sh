#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# AccessPolicy over UDP (README: "a connect() (or UDP sendmsg) to the service
# fails with EPERM"): a denied workload's unconnected sendto() (the sendmsg4
# and sendmsg6 hooks) and its connect() of a UDP socket fail with EPERM and
# are counted under accessDenied; an allowed workload's datagrams are
# answered through the service address, v4 and v6.
. "$(dirname "$0")/lib.sh"
setup_base
for w in allowed denied; do mkdir -p "$CG/$w"; done
cat > "$CONF/dns.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: dns}
spec:
  addresses: ["127.100.0.53", "fd00:bbbb::53"]
  ports: [{name: dns, port: 53, targetPort: 18053, protocol: UDP}]
  endpoints: [{address: "127.0.0.1"}, {address: "::1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: denied}
spec: {service: dns, cgroup: bpfmesh-test-$ID/denied}
---
apiVersion: bpfmesh.io/v1alpha1
kind: AccessPolicy
metadata: {name: dns-deny}
spec: {service: dns, action: DENY, from: [denied]}
YAML
start_echo dns4 -u 127.0.0.1:18053
start_echo dns6 -u "[::1]:18053"
start_agent
# in_wl WORKLOAD CMD...: run in that workload's cgroup and the namespace
in_wl() { local w=$1; shift; ( echo $BASHPID > "$CG/$w/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }

out=$(in_wl denied "$E2E/lbclient" -u -n 10 127.100.0.53 53)
expect_eq "denied: v4 sendto() refused with EPERM" 10 "$(errcount "$out" EPERM)"
expect_eq "denied: v4 datagrams answered" 0 "$(served "$out")"
out=$(in_wl denied "$E2E/lbclient" -u -n 10 fd00:bbbb::53 53)
expect_eq "denied: v6 sendto() refused with EPERM" 10 "$(errcount "$out" EPERM)"
out=$(in_wl denied "$E2E/lbclient" -U -n 10 127.100.0.53 53)
expect_eq "denied: connect() of a UDP socket refused with EPERM" 10 "$(errcount "$out" EPERM)"
expect_eq "refusals counted under accessDenied" 30 "$(refusal accessDenied)"

out=$(in_wl allowed "$E2E/lbclient" -u -n 10 127.100.0.53 53)
expect_eq "allowed: v4 datagrams answered by the v4 endpoint" 10 "$(served "$out" dns4)"
expect_eq "allowed: answers from the service address" 0 "$(field "$out" peer_mismatch)"
out=$(in_wl allowed "$E2E/lbclient" -u -n 10 fd00:bbbb::53 53)
expect_eq "allowed: v6 datagrams answered by the v6 endpoint" 10 "$(served "$out" dns6)"
out=$(in_wl allowed "$E2E/lbclient" -U -n 10 127.100.0.53 53)
expect_eq "allowed: connected UDP answered" 10 "$(served "$out" dns4)"
expect_eq "no further refusals" 30 "$(refusal accessDenied)"
finish
