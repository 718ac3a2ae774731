#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A fresh machine has no bpffs at /sys/fs/bpf: the agent mounts it itself.
# Everything runs in private mount namespaces (unshare -m) where bpffs,
# tracefs and debugfs are unmounted, so the host's mounts never change. The
# agent mounts bpffs (and says so once), needs no tracefs (its tracepoints
# are tp_btf), pins under a 0700 root-owned directory and balances. When it
# stops, its namespace and the bpffs in it go, and so do its links.
# `bpfmesh detach` where no bpffs is mounted has nothing to do and says so.
. "$(dirname "$0")/lib.sh"
setup_base
service_yaml web 127.100.9.20 80 18091 - 127.0.0.1 > "$CONF/svc.yaml"
start_echo ep1 -t 127.0.0.1:18091

# a shell script that unmounts them all (stacked mounts too), then runs "$@"
BARE='for m in /sys/fs/bpf /sys/kernel/debug/tracing /sys/kernel/tracing /sys/kernel/debug; do
	while grep -qs " $m " /proc/self/mounts; do umount "$m" 2>/dev/null || umount -l "$m" || exit 99; done
done
exec "$@"'
bare() { unshare -m --propagation private sh -c "$BARE" sh "$@"; }

host_bpffs=$(grep -c ' /sys/fs/bpf bpf ' /proc/mounts)
( exec unshare -m --propagation private sh -c "$BARE" sh "$BIN" agent --config "$CONF" \
	--cgroup "$CG" --bpffs "$PINS" --listen "$API" >> "$TMP/agent.log" 2>&1 ) &
AGENT_PID=$!
wait_ready || finish

mounts=$(nsenter -t "$AGENT_PID" -m cat /proc/self/mounts)
expect_eq "bpffs mounted at /sys/fs/bpf in the agent's namespace" 1 \
	"$(echo "$mounts" | grep -c ' /sys/fs/bpf bpf ')"
expect_eq "no tracefs mounted (tp_btf needs none)" 0 "$(echo "$mounts" | grep -c ' tracefs ')"
expect_eq "the log says so, once" 1 "$(grep -c 'mounted bpffs at /sys/fs/bpf' "$TMP/agent.log")"
expect_eq "pin directory: owner root, mode 700" "0 700" \
	"$(nsenter -t "$AGENT_PID" -m stat -c '%u %a' "$PINS")"
out=$(in_cg "$E2E/lbclient" -n 10 127.100.9.20 80)
expect_eq "balanced through the agent's programs" 10 "$(field "$out" x ep1)"
expect_eq "the host's bpffs mounts" "$host_bpffs" "$(grep -c ' /sys/fs/bpf bpf ' /proc/mounts)"
[ -e "$PINS" ] && fail "pins appeared on the host's bpffs" || pass "the host's bpffs is untouched"

stop_pid "$AGENT_PID"
AGENT_PID=""
for _ in $(seq 40); do
	[ -z "$(bpftool cgroup show "$CG" 2>/dev/null | grep bm_)" ] && break
	sleep 0.05
done
expect_eq "links gone with the agent's bpffs" 0 "$(bpftool cgroup show "$CG" 2>/dev/null | grep -c bm_)"

# detach with no bpffs: nothing to do, exit 0, and no mount either
out=$(bare sh -c '"$0" detach --bpffs "$1"; rc=$?
	echo "mounted: $(grep -c " /sys/fs/bpf " /proc/self/mounts)"; exit $rc' "$BIN" "$PINS" 2>&1)
expect_eq "detach without bpffs: exit status" 0 "$?"
echo "$out" | grep -q "bpffs is not mounted at /sys/fs/bpf: nothing to detach" &&
	pass "detach says there is nothing to detach" || fail "detach said: $out"
echo "$out" | grep -q "mounted: 0" && pass "detach mounted nothing" || fail "detach: $out"
finish
