#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Endpoints in other network namespaces, reached over veth pairs the way pods
# are: the client's namespace routes to two "pod" namespaces.
. "$(dirname "$0")/lib.sh"
setup_base
POD1="bmt-$ID-p1"; POD2="bmt-$ID-p2"; EXTRA_NS=("$POD1" "$POD2")
for p in 1 2; do
	ns="bmt-$ID-p$p"
	ip netns add "$ns"
	ip link add "bmv$ID$p" netns "$NS" type veth peer name eth0 netns "$ns"
	ip -n "$NS" addr add "10.77.$p.1/24" dev "bmv$ID$p"
	ip -n "$NS" link set "bmv$ID$p" up
	ip -n "$ns" addr add "10.77.$p.2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" route add default via "10.77.$p.1"
	( exec nsenter --net="/run/netns/$ns" "$E2E/echosrv" "pod$p" -t "10.77.$p.2:8080" > "$TMP/pod$p.out" 2>&1 ) &
	PIDS+=($!)
done
pods_ready() { grep -q ready "$TMP/pod1.out" && grep -q ready "$TMP/pod2.out"; }
wait_for "the pods' echosrv listen" 30 pods_ready
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: pods}
spec:
  addresses: ["127.100.0.20"]
  ports: [{name: http, port: 80, targetPort: 8080}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "10.77.1.2"}, {address: "10.77.2.2"}]
YAML
start_agent
out=$(in_cg "$E2E/lbclient" -n 200 127.100.0.20 80)
expect_eq "failed" 0 "$(field "$out" failed)"
expect_eq "pod1" 100 "$(field "$out" x pod1)"
expect_eq "pod2" 100 "$(field "$out" x pod2)"
expect_eq "getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
finish
