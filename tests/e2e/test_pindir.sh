#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The pin directory is trusted only when it deserves it. Agent A runs on
# $PINS and cgroup $CG/a; then an unprivileged user (nobody) prepares traps
# in /sys/fs/bpf (mode 1777): a pin directory of its own holding a symlink to
# A's link, a directory of its own above a root-owned pin directory, a
# symlink in place of the pin directory. Root-owned directories holding
# symlinks, a group- or world-writable and a non-root-owned pin directory
# follow. An agent (on $CG/b) and `bpfmesh detach` must refuse every one of
# them with an error naming the path, and never detach A's programs or
# delete what they do not own. A second agent on A's pin directory, and
# detach while A runs, are refused and name A's pid; `detach --force` is
# not.
#
# It runs in a private mount namespace with a bpffs of its own at
# /sys/fs/bpf, mode 1777 as on many hosts: the traps need a world-writable
# bpffs whatever the host's mode (systemd mounts it 0700), nobody's files
# never land in the host's, and what is pinned goes with the namespace.
if [ "${BPFMESH_PINDIR_NS:-}" != 1 ]; then
	BPFMESH_PINDIR_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
mount -t bpf -o mode=1777 bpf /sys/fs/bpf || { echo "[test_pindir] cannot mount a bpffs"; exit 1; }
. "$(dirname "$0")/lib.sh"
setup_base
mkdir -p "$CG/a" "$CG/b"
service_yaml web 127.100.9.10 80 18090 roundRobin 127.0.0.1 127.0.0.2 > "$CONF/svc.yaml"
start_echo ep1 -t 127.0.0.1:18090
start_echo ep2 -t 127.0.0.2:18090
start_agent --cgroup "$CG/a" || finish
A_PID=$AGENT_PID

EVIL=/sys/fs/bpf/bpfmesh-test-$ID-evil
EXTRA_PINS+=("$EVIL" "$EVIL-parent" "$EVIL-link" "$PINS-rootlink" "$PINS-rootmap" "$PINS-open"
	"$PINS-nobody" "$PINS-group")
nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }

# bm_ programs attached to a cgroup, by name
progs_on() { bpftool cgroup show "$1" 2>/dev/null | awk '$NF ~ /^bm_/ { print $NF }' | sort | tr '\n' ' '; }
A_PROGS=$(progs_on "$CG/a")
[ -n "$A_PROGS" ] && pass "agent A attached to $CG/a: $A_PROGS" || fail "agent A attached nothing"
A_LINK=$(bpftool -j link show pinned "$PINS/links/bm_connect4" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# A still balances from its cgroup, with the same links
a_intact() {
	local out
	expect_eq "$1: A's programs on $CG/a" "$A_PROGS" "$(progs_on "$CG/a")"
	expect_eq "$1: nothing attached to $CG/b" "" "$(progs_on "$CG/b")"
	out=$( (echo $BASHPID > "$CG/a/cgroup.procs" &&
		exec nsenter --net="/run/netns/$NS" "$E2E/lbclient" -n 20 127.100.9.10 80))
	expect_eq "$1: A balances (ep1)" 10 "$(field "$out" x ep1)"
	expect_eq "$1: A's bm_connect4 link" "$A_LINK" "$(bpftool -j link show pinned \
		"$PINS/links/bm_connect4" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
}

# refused WHAT PATTERN CMD...: CMD exits 1 at once (an agent that starts
# would be ended after 10 s, status 124) with PATTERN in its output
refused() {
	local what=$1 pat=$2 rc
	shift 2
	timeout 10 "$@" > "$TMP/refused.out" 2>&1
	rc=$?
	expect_eq "$what: exit status" 1 "$rc"
	if grep -q -- "$pat" "$TMP/refused.out"; then
		pass "$what: says '$pat'"
	else
		fail "$what: no '$pat' in: $(tail -n 3 "$TMP/refused.out")"
	fi
}
B_PORT=$(( API_PORT + 1 ))
agent_b() { refused "$1" "$2" "$BIN" agent --config "$CONF" --cgroup "$CG/b" --bpffs "$3" \
	--listen "127.0.0.1:$B_PORT"; }

# --- nobody's pin directory, with a symlink to A's link and one to A's map
nobody sh -c "mkdir -m 0755 $EVIL $EVIL/links $EVIL/maps &&
	ln -s $PINS/links/bm_connect4 $EVIL/links/bm_connect4 &&
	ln -s $PINS/maps/lb_services $EVIL/maps/lb_services" ||
	fail "nobody could not prepare $EVIL"
agent_b "agent on nobody's pin directory" "$EVIL is owned by uid 65534" "$EVIL"
grep -q "mode 0755" "$TMP/refused.out" && pass "the error gives the mode" ||
	fail "no mode in: $(cat "$TMP/refused.out")"
refused "detach of nobody's pin directory" "$EVIL is owned by uid 65534" \
	"$BIN" detach --bpffs "$EVIL" --cgroup "$CG/b"
[ -L "$EVIL/links/bm_connect4" ] && [ -L "$EVIL/maps/lb_services" ] &&
	pass "nobody's files are left alone" || fail "nobody's files were removed"
a_intact "after nobody's pin directory"

# --- a root-owned pin directory under a directory nobody owns (nobody could
# swap it for another between the check and the use)
nobody mkdir -m 0755 "$EVIL-parent"
mkdir -m 0700 "$EVIL-parent/pins"
agent_b "agent under nobody's directory" "$EVIL-parent is owned by uid 65534" "$EVIL-parent/pins"
a_intact "after nobody's parent directory"

# --- the pin directory is nobody's symlink to A's
nobody ln -s "$PINS" "$EVIL-link"
agent_b "agent on a symlinked pin directory" "$EVIL-link is a symbolic link" "$EVIL-link"
refused "detach of a symlinked pin directory" "$EVIL-link is a symbolic link" \
	"$BIN" detach --bpffs "$EVIL-link"
[ -L "$EVIL-link" ] && pass "the symlink is left alone" || fail "the symlink was removed"
a_intact "after the symlinked pin directory"

# --- symlinks inside root-owned pin directories are never followed
mkdir -m 0700 "$PINS-rootlink" "$PINS-rootlink/links" "$PINS-rootmap" "$PINS-rootmap/maps"
ln -s "$PINS/links/bm_connect4" "$PINS-rootlink/links/bm_connect4"
ln -s "$PINS/maps/lb_services" "$PINS-rootmap/maps/lb_services"
agent_b "agent with a symlinked link pin" "$PINS-rootlink/links/bm_connect4 is a symbolic link" \
	"$PINS-rootlink"
agent_b "agent with a symlinked map pin" "$PINS-rootmap/maps/lb_services is a symbolic link" \
	"$PINS-rootmap"
"$BIN" detach --bpffs "$PINS-rootlink" > "$TMP/detach.out" 2>&1
expect_eq "detach that leaves a symlink: exit status" 1 "$?"
grep -q "bm_connect4 is a symbolic link" "$TMP/detach.out" && pass "detach names the symlink" ||
	fail "detach said: $(cat "$TMP/detach.out")"
[ -L "$PINS-rootlink/links/bm_connect4" ] && pass "detach leaves the symlink" ||
	fail "detach removed the symlink"
a_intact "after symlinks in root-owned pin directories"

# --- pin directories that others may write to, or that others own
mkdir -m 0700 "$PINS-open" "$PINS-nobody" "$PINS-group"
chmod 1777 "$PINS-open"
chmod 0770 "$PINS-group"
chown 65534:65534 "$PINS-nobody"
agent_b "agent on a world-writable pin directory" "$PINS-open is writable by its group or others (mode 1777)" \
	"$PINS-open"
agent_b "agent on a group-writable pin directory" "$PINS-group is writable by its group or others (mode 0770)" \
	"$PINS-group"
agent_b "agent on a pin directory owned by nobody" "$PINS-nobody is owned by uid 65534" \
	"$PINS-nobody"
made=$(find "$PINS-open" "$PINS-group" "$PINS-nobody" -mindepth 1)
expect_eq "what the refused agents created" "" "$made"

# --- a second agent on A's pin directory
agent_b "second agent on A's pin directory" "held by pid $A_PID" "$PINS"
curl -sf "http://$API/readyz" > /dev/null && pass "A still ready" || fail "A not ready"
expect_eq "A still serves its service" web \
	"$(curl -sf "http://$API/api/v1/services" | python3 -c 'import json,sys; print(",".join(s["name"] for s in json.load(sys.stdin)["services"]))')"
a_intact "after a second agent"

# --- detach while A runs
refused "detach while A runs" "held by pid $A_PID" "$BIN" detach --bpffs "$PINS" --cgroup "$CG/a"
grep -q -- "--force" "$TMP/refused.out" && pass "the refusal names --force" ||
	fail "no --force in: $(cat "$TMP/refused.out")"
a_intact "after a refused detach"
"$BIN" detach --help | grep -q -- "--force" && pass "detach --help documents --force" ||
	fail "detach --help has no --force"
"$BIN" detach --force --bpffs "$PINS" --cgroup "$CG/a" > "$TMP/detach.out" 2>&1
expect_eq "detach --force while A runs: exit status" 0 "$?"
expect_eq "detach --force: programs left on $CG/a" "" "$(progs_on "$CG/a")"
[ -e "$PINS" ] && fail "detach --force left $PINS: $(ls -AR "$PINS")" || pass "detach --force removed $PINS"
kill -0 "$A_PID" 2>/dev/null && pass "A was not killed by detach" || fail "A died"
finish
