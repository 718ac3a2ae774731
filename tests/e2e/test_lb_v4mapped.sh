#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# IPv4 service addresses dialled from AF_INET6 sockets as ::ffff:VIP (what
# gRPC C-core and Java do by default): TCP and UDP (unconnected and
# connected) are balanced to the v4 endpoints, getpeername()/recvfrom() show
# ::ffff:VIP back, access policy, bulkhead and rate limit apply; a real
# python3-grpcio client reaches a service address. A v6 service address with
# only v4 endpoints is refused by validation.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's python, where python3-grpcio is installed
if ! $PY -c "import grpc" 2>/dev/null; then
	fail "python3-grpcio is not installed (make deps installs it)"
	finish
fi
setup_base
mkdir -p "$CG/client"
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  addresses: ["127.100.0.10"]
  ports:
  - {name: tcp, port: 80, targetPort: 18080}
  - {name: udp, port: 53, targetPort: 18053, protocol: UDP}
  - {name: grpc, port: 81, targetPort: 18090}
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}, {address: "127.0.0.3"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: denied}
spec:
  addresses: ["127.100.0.11"]
  ports: [{name: tcp, port: 80, targetPort: 18080}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: client}
spec: {service: echo, cgroup: bpfmesh-test-$ID/client}
---
apiVersion: bpfmesh.io/v1alpha1
kind: AccessPolicy
metadata: {name: no-client}
spec: {service: denied, action: DENY, from: [client]}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: pool}
spec:
  addresses: ["127.100.0.12"]
  ports: [{name: tcp, port: 80, targetPort: 18080}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: pool}
spec: {service: pool, connectionPool: {tcp: {maxConnections: 3}}}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: rate}
spec:
  addresses: ["127.100.0.13"]
  ports: [{name: tcp, port: 80, targetPort: 18080}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: rate}
spec: {service: rate, rateLimit: {connectionsPerSecond: 1, burst: 4}}
YAML
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080" -u "127.0.0.$i:18053"; done
for i in 1 2 3; do
	( exec nsenter --net="/run/netns/$NS" $PY "$ROOT/tests/e2e/grpc_echo.py" server "g$i" \
		"127.0.0.$i:18090" > "$TMP/grpc-$i.out" 2>&1 ) &
	PIDS+=($!)
done
start_agent
in_client() { ( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }

out=$(in_cg "$E2E/lbclient" -M -n 300 127.100.0.10 80)
expect_eq "v4-mapped tcp failed" 0 "$(field "$out" failed)"
expect_eq "v4-mapped tcp getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "v4-mapped tcp ep$i" 50 150 "$(field "$out" x "ep$i")"; done

out=$(in_cg "$E2E/lbclient" -M -u -n 300 127.100.0.10 53)
expect_eq "v4-mapped udp failed" 0 "$(field "$out" failed)"
expect_eq "v4-mapped udp recvfrom source mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "v4-mapped udp ep$i" 50 150 "$(field "$out" x "ep$i")"; done

out=$(in_cg "$E2E/lbclient" -M -U -n 150 127.100.0.10 53)
expect_eq "v4-mapped connected udp failed" 0 "$(field "$out" failed)"
expect_eq "v4-mapped connected udp getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "v4-mapped connected udp ep$i" 20 80 "$(field "$out" x "ep$i")"; done

# held sockets ask again later: the per-socket state still answers
out=$(echo | in_cg "$E2E/lbclient" -M -k -n 5 127.100.0.10 80)
expect_eq "v4-mapped held tcp getpeername mismatches" 0 "$(field "$out" held_mismatch)"
out=$(echo | in_cg "$E2E/lbclient" -M -u -k -n 5 127.100.0.10 53)
expect_eq "v4-mapped held udp recvfrom mismatches" 0 "$(field "$out" held_mismatch)"

# outside the cgroup nothing is translated: the VIP is plain loopback
out=$(in_ns "$E2E/lbclient" -M -n 5 127.100.0.10 80)
expect_eq "v4-mapped outside the cgroup: refused by loopback" 5 "$(errcount "$out" ECONNREFUSED)"

# access policy: the denied workload gets EPERM, the others get through
out=$(in_client "$E2E/lbclient" -M -n 5 127.100.0.11 80)
expect_eq "v4-mapped access denied (EPERM)" 5 "$(errcount "$out" EPERM)"
out=$(in_cg "$E2E/lbclient" -M -n 5 127.100.0.11 80)
expect_eq "v4-mapped access for another workload" 5 "$(field "$out" x ep1)"

# bulkhead: slots are taken and given back by v4-mapped sockets too
exec 7> >(in_cg "$E2E/lbclient" -M -k -n 5 127.100.0.12 80 > "$TMP/held.out")
for _ in $(seq 100); do grep -q peer_mismatch "$TMP/held.out" 2>/dev/null && break; sleep 0.05; done
out=$(cat "$TMP/held.out")
expect_eq "v4-mapped bulkhead: held connections" 3 "$(field "$out" x ep1)"
expect_eq "v4-mapped bulkhead: refused" 2 "$(errcount "$out" ECONNREFUSED)"
expect_eq "v4-mapped bulkhead: slots in use" 3 "$(svc_json pool 's["poolConnections"]')"
exec 7>&-
sleep 0.3
expect_eq "v4-mapped bulkhead: slots back after close" 0 "$(svc_json pool 's["poolConnections"]')"

out=$(in_cg "$E2E/lbclient" -M -n 10 127.100.0.13 80)
expect_range "v4-mapped rate limit: admitted" 4 5 "$(field "$out" x ep1)"

# a real gRPC C-core client: first straight to an endpoint, then through the service
for i in 1 2 3; do
	for _ in $(seq 100); do grep -q ready "$TMP/grpc-$i.out" 2>/dev/null && break; sleep 0.1; done
done
# grpc_echo.py prints lbclient's "endpoint NAME N" and "failed N" lines, and
# "failed" last: gfield OUTPUT KEY or gfield OUTPUT x NAME, as field does
gfield() {
	if ! echo "$1" | grep -q '^failed [0-9]'; then echo "no-grpc-output"; return; fi
	if [ $# -eq 3 ]; then
		echo "$1" | awk -v n="$3" '$1 == "endpoint" && $2 == n { print $3; f=1 } END { if (!f) print 0 }'
	else
		echo "$1" | awk -v k="$2" '$1 == k { print $2 }'
	fi
}
out=$(in_cg $PY "$ROOT/tests/e2e/grpc_echo.py" client 127.0.0.1:18090 3)
expect_eq "grpc straight to the endpoint" 3 "$(gfield "$out" x g1)"
out=$(in_cg $PY "$ROOT/tests/e2e/grpc_echo.py" client 127.100.0.10:81 30)
expect_eq "grpc through the service address: failed" 0 "$(gfield "$out" failed)"
[ "$(field "$out" failed)" = 0 ] || log "$(echo "$out" | grep first_error)"
for i in 1 2 3; do expect_range "grpc through the service address: g$i" 1 28 "$(gfield "$out" x "g$i")"; done

# validation: a v6 address of a service whose endpoints are all v4
mkdir -p "$TMP/bad"
cat > "$TMP/bad/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: v6only}
spec:
  addresses: ["127.100.0.20", "fd00:bbbb::20"]
  ports: [{name: tcp, port: 80}]
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}]
YAML
out=$("$BIN" validate "$TMP/bad" 2>&1)
expect_eq "validate refuses a v6 address with only v4 endpoints (exit)" 1 "$?"
expect_eq "validate names file:line:col" 1 \
	"$(echo "$out" | grep -c "svc.yaml:5:31: spec.addresses\[1\]: fd00:bbbb::20 is an IPv6 address but every endpoint is IPv4")"
finish
