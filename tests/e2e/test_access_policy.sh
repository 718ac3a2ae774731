#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# AccessPolicy in the kernel: connect() to a service fails with EPERM for a
# workload a DENY policy names (its whole cgroup subtree), and, once the
# service has an ALLOW policy, for every workload it does not name. A new
# configuration changes who may connect without touching open connections.
. "$(dirname "$0")/lib.sh"
setup_base
for w in frontend frontend/worker intruder other; do mkdir -p "$CG/$w"; done
svc_yaml() {
	service_yaml web 127.100.0.10 80 18080 - 127.0.0.1
	cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: frontend}
spec: {service: web, cgroup: bpfmesh-test-$ID/frontend}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: intruder}
spec: {service: web, cgroup: bpfmesh-test-$ID/intruder}
YAML
}
policy_yaml() { # ACTION WORKLOAD
	cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: AccessPolicy
metadata: {name: web-$(echo "$1" | tr A-Z a-z)}
spec: {service: web, action: $1, from: [$2]}
YAML
}
# in_wl WORKLOAD CMD...: run in that workload's cgroup and the namespace
in_wl() { local w=$1; shift; ( echo $BASHPID > "$CG/$w/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }
{ svc_yaml; policy_yaml DENY intruder; } > "$CONF/web.yaml"
start_echo ep1 -t 127.0.0.1:18080
start_agent

out=$(in_wl intruder "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "DENY: intruder's connects failed" 10 "$(field "$out" failed)"
expect_eq "DENY: with EPERM" 10 "$(errcount "$out" EPERM)"
out=$(in_wl frontend/worker "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "DENY: frontend's child cgroup: failed" 0 "$(field "$out" failed)"
expect_eq "DENY: frontend's child cgroup connects" 10 "$(served "$out" ep1)"
out=$(in_wl other "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "DENY: a workload no policy names: failed" 0 "$(field "$out" failed)"
expect_eq "DENY: a workload no policy names connects" 10 "$(served "$out" ep1)"
expect_eq "refusals counted" 10 "$(refusal accessDenied)"

# ALLOW frontend only: everyone else is refused
{ svc_yaml; policy_yaml ALLOW frontend; } > "$CONF/web.yaml.new" && mv "$CONF/web.yaml.new" "$CONF/web.yaml"
wait_log "config applied" 2
out=$(in_wl other "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "ALLOW: a workload not named is refused" 10 "$(errcount "$out" EPERM)"
out=$(in_wl intruder "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "ALLOW: intruder is refused" 10 "$(errcount "$out" EPERM)"
out=$(in_wl frontend "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "ALLOW: frontend: failed" 0 "$(field "$out" failed)"
expect_eq "ALLOW: frontend connects" 10 "$(served "$out" ep1)"
out=$(in_wl frontend/worker "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "ALLOW: frontend's child cgroup: failed" 0 "$(field "$out" failed)"
expect_eq "ALLOW: frontend's child cgroup connects" 10 "$(served "$out" ep1)"

# ALLOW and DENY of the same workload: DENY wins
{ svc_yaml; policy_yaml ALLOW frontend; policy_yaml DENY frontend; } > "$CONF/web.yaml.new" &&
	mv "$CONF/web.yaml.new" "$CONF/web.yaml"
wait_log "config applied" 3
out=$(in_wl frontend "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "DENY wins over ALLOW" 10 "$(errcount "$out" EPERM)"

# no policy left: everyone connects again
svc_yaml > "$CONF/web.yaml.new" && mv "$CONF/web.yaml.new" "$CONF/web.yaml"
wait_log "config applied" 4
out=$(in_wl intruder "$E2E/lbclient" -n 10 127.100.0.10 80)
expect_eq "policies removed: intruder: failed" 0 "$(field "$out" failed)"
expect_eq "policies removed: intruder connects" 10 "$(served "$out" ep1)"
entries=$(bpftool -j map dump pinned "$PINS/maps/lb_access" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_eq "lb_access emptied" 0 "$entries"
finish
