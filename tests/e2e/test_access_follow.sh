#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# AccessPolicy follows the cgroups it names: a workload's cgroup removed and
# made again (a service restart does it) is denied again within
# milliseconds, and so is one made after the policy was applied. A cgroup
# deeper than the kernel's walk reaches is warned about.
. "$(dirname "$0")/lib.sh"
setup_base
mkdir -p "$CG/intruder" "$CG/other"
{
	service_yaml web 127.100.0.10 80 18080 - 127.0.0.1
	for w in intruder late deep; do
		path=bpfmesh-test-$ID/$w
		[ $w = deep ] && path=bpfmesh-test-$ID/d/d/d/d/d/d/d/d/d/d/d/d/d/d/deep
		cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: $w}
spec: {service: web, cgroup: $path}
YAML
	done
	cat <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: AccessPolicy
metadata: {name: deny}
spec: {service: web, action: DENY, from: [intruder, late, deep]}
YAML
} > "$CONF/web.yaml"
mkdir -p "$CG/d/d/d/d/d/d/d/d/d/d/d/d/d/d/deep"
in_wl() { local w=$1; shift; ( echo $BASHPID > "$CG/$w/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }
start_echo ep1 -t 127.0.0.1:18080
start_agent

out=$(in_wl intruder "$E2E/lbclient" -n 5 127.100.0.10 80)
expect_eq "intruder denied" 5 "$(errcount "$out" EPERM)"
out=$(in_wl other "$E2E/lbclient" -n 5 127.100.0.10 80)
expect_eq "other allowed: connects" 5 "$(field "$out" total)"

# denied_within WORKLOAD: ms from now until a connect from a fresh process
# in WORKLOAD's cgroup gets EPERM (polling; -1 after 5 s)
denied_within() {
	local t0 now out
	t0=$(date +%s%N)
	for _ in $(seq 500); do
		out=$(in_wl "$1" "$E2E/lbclient" -n 1 127.100.0.10 80)
		now=$(date +%s%N)
		if [ "$(errcount "$out" EPERM)" = 1 ]; then echo $(((now - t0) / 1000000)); return; fi
		[ $(((now - t0) / 1000000)) -gt 5000 ] && break
	done
	echo -1
}

# the cgroup made again: new id, same path
rmdir "$CG/intruder"
mkdir "$CG/intruder"
ms=$(denied_within intruder)
log "remade cgroup denied after $ms ms"
expect_range "remade cgroup denied within (ms)" 0 1000 "$ms"

# a cgroup the policy names that did not exist when it was applied
mkdir "$CG/late"
ms=$(denied_within late)
log "late cgroup denied after $ms ms"
expect_range "cgroup made after the apply denied within (ms)" 0 1000 "$ms"

# removing it again does not disturb anyone else
rmdir "$CG/late"
out=$(in_wl other "$E2E/lbclient" -n 5 127.100.0.10 80)
expect_eq "other still allowed: connects" 5 "$(field "$out" total)"

grep -q "workload deep's cgroup .* is 16 levels deep; the kernel checks 16 levels" "$TMP/agent.log" &&
	pass "a cgroup too deep for the kernel's walk is warned about" ||
	fail "no warning about the 16-level cgroup: $(grep -i deep "$TMP/agent.log" | head -3)"
finish
