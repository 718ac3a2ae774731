#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# TCP and UDP through a service address to 3 endpoints; getpeername() and
# recvfrom() show the service address; a service with no endpoints refuses
# at once.
. "$(dirname "$0")/lib.sh"
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  addresses: ["127.100.0.10"]
  ports:
  - {name: tcp, port: 80, targetPort: 18080, protocol: TCP}
  - {name: udp, port: 53, targetPort: 18053, protocol: UDP}
  endpoints:
  - {address: "127.0.0.1"}
  - {address: "127.0.0.2"}
  - {address: "127.0.0.3"}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: empty}
spec:
  addresses: ["127.100.0.11"]
  ports: [{name: tcp, port: 80}]
YAML
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080" -u "127.0.0.$i:18053"; done
start_agent

out=$(in_cg "$E2E/lbclient" -n 300 127.100.0.10 80)
expect_eq "tcp failed" 0 "$(field "$out" failed)"
expect_eq "tcp served" 300 "$(served "$out")"
expect_eq "tcp getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "tcp ep$i" 50 150 "$(field "$out" x "ep$i")"; done

out=$(in_cg "$E2E/lbclient" -u -n 300 127.100.0.10 53)
expect_eq "udp failed" 0 "$(field "$out" failed)"
expect_eq "udp answered" 300 "$(served "$out")"
expect_eq "udp recvfrom source mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "udp ep$i" 50 150 "$(field "$out" x "ep$i")"; done

out=$(in_cg "$E2E/lbclient" -U -n 150 127.100.0.10 53)
expect_eq "connected udp failed" 0 "$(field "$out" failed)"
expect_eq "connected udp answered" 150 "$(served "$out")"
expect_eq "connected udp getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "connected udp ep$i" 20 80 "$(field "$out" x "ep$i")"; done

# outside the cgroup nothing is translated: the VIP is plain loopback
out=$(in_ns "$E2E/lbclient" -n 5 127.100.0.10 80)
expect_eq "outside the cgroup: refused by loopback" 5 "$(field "$out" failed)"

# no endpoints: ECONNREFUSED at once, from the kernel
out=$(in_cg "$E2E/lbclient" -n 20 127.100.0.11 80)
expect_eq "empty service refused" 20 "$(errcount "$out" ECONNREFUSED)"
# at once: the median refusal in microseconds; the slowest one, which may
# include a preemption on a busy machine, far from any connect timeout
expect_range "empty service median refusal (us)" 0 1000 "$(field "$out" median_fail_us)"
expect_range "empty service slowest refusal (ms)" 0 250 "$(field_ms "$out" max_fail_us)"
expect_eq "empty service refusals counted by the kernel" 20 "$(refusal noEndpoint)"

# the API counts what the kernel chose
sel=$(curl -sf "http://$API/api/v1/services/echo" | grep -o '"selected":[0-9]*' | cut -d: -f2 | awk "{s+=\$1} END {print s}")
expect_eq "API selected total (300 tcp + 300 udp + 150 connected udp, per port)" 750 "$sel"
finish
