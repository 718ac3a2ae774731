# SPDX-License-Identifier: Apache-2.0
# lib.sh: shared setup for the end-to-end tests. Every test gets its own
# cgroup (under the cgroup v2 mount, never the root), its own bpffs pin dir,
# its own network namespace for servers and clients, and a trap that removes
# all of it on every exit path.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/${BUILD:-build}/bpfmesh
E2E=$ROOT/${BUILD:-build}/tests/e2e
TEST_NAME=$(basename "$0" .sh)
ID="$$"
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CG="$CGROOT/bpfmesh-test-$ID"
PINS="/sys/fs/bpf/bpfmesh-test-$ID"
NS="bmt-$ID"
TMP=$(mktemp -d /tmp/bpfmesh-e2e.XXXXXX)
CONF="$TMP/conf"
# the API port: below the ephemeral range (32768-60999 by default), where no
# outgoing connection takes it, and not bound by another test running now
API_PORT=""
for k in $(seq 0 50); do
	p=$((20000 + (ID + k * 997) % 12000))
	if [ -z "$(ss -Hltnu "sport = :$p" 2>/dev/null)" ]; then API_PORT=$p; break; fi
done
API_PORT=${API_PORT:-$((20000 + ID % 12000))}
API="127.0.0.1:$API_PORT"
AGENT_PID=""
PIDS=()
FAILS=0

log() { echo "[$TEST_NAME] $*"; }

fail() {
	echo "[$TEST_NAME] FAIL: $*"
	FAILS=$((FAILS + 1))
}

pass() { echo "[$TEST_NAME] ok: $*"; }

# expect_eq WHAT EXPECTED GOT
expect_eq() {
	if [ "$2" == "$3" ]; then pass "$1 = $3"; else fail "$1: expected $2, got $3"; fi
}

# expect_range WHAT MIN MAX GOT
expect_range() {
	if [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		pass "$1 = $4 (in $2..$3)"
	else
		fail "$1: expected $2..$3, got $4"
	fi
}

cleanup() {
	local rc=$?
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
	sleep 0.1
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
	wait 2>/dev/null
	"$BIN" detach --bpffs "$PINS" --cgroup "$CG" >/dev/null 2>&1
	if [ -d "$CG" ]; then
		for p in $(cat $(find "$CG" -name cgroup.procs) 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		sleep 0.05
		# children first
		find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	for c in "${EXTRA_CG[@]:-}"; do
		[ -n "$c" ] && [ -d "$c" ] || continue
		for p in $(cat $(find "$c" -name cgroup.procs) 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		sleep 0.05
		find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$c" ] && echo "[$TEST_NAME] cleanup left $c"
	done
	ip netns del "$NS" 2>/dev/null
	for n in "${EXTRA_NS[@]:-}"; do [ -n "$n" ] && ip netns del "$n" 2>/dev/null; done
	# unlinking a pin releases its link: nothing stays attached once the
	# processes that held the links are gone
	for p in "${EXTRA_PINS[@]:-}"; do
		[ -n "$p" ] || continue
		rm -rf "$p"
		[ -e "$p" ] || [ -L "$p" ] && echo "[$TEST_NAME] cleanup left $p"
	done
	rm -rf "$TMP" "$PINS"
	if [ -e "$PINS" ] || [ -d "$CG" ]; then echo "[$TEST_NAME] cleanup left $PINS or $CG"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
EXTRA_NS=()
EXTRA_CG=() # cgroups a test made outside $CG (e.g. pods the agent does not attach to)
EXTRA_PINS=() # pin directories (or paths on bpffs) a test made besides $PINS

setup_base() {
	[ -n "$CGROOT" ] || { echo "no cgroup2 mount"; exit 1; }
	mkdir -p "$CG" "$CONF"
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}

# in_ns CMD...: run in the test's network namespace (nsenter keeps /sys, so
# bpffs and cgroupfs stay visible, unlike `ip netns exec`).
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

# in_cg CMD...: run inside the test cgroup and network namespace.
in_cg() { ( echo $BASHPID > "$CG/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }

# start_echo NAME ARGS...: an echosrv endpoint in the namespace.
start_echo() {
	local name=$1; shift
	# exec all the way down, so $! is echosrv itself and a kill reaches it
	( exec nsenter --net="/run/netns/$NS" "$E2E/echosrv" "$name" "$@" > "$TMP/echo-$name.out" 2>&1 ) &
	PIDS+=($!)
	for _ in $(seq 200); do grep -q ready "$TMP/echo-$name.out" 2>/dev/null && return 0; sleep 0.05; done
	fail "echosrv $name did not start: $(cat "$TMP/echo-$name.out")"
	return 1
}

# start_status NAME ADDR PORT [STATUS]: a statussrv.py endpoint in the
# namespace (GET /status/NNN answers NNN, any other path STATUS)
start_status() {
	local name=$1; shift
	( exec nsenter --net="/run/netns/$NS" python3 "$ROOT/tests/e2e/statussrv.py" "$name" "$@" \
		> "$TMP/status-$name.out" 2>&1 ) &
	PIDS+=($!)
	for _ in $(seq 200); do grep -q ready "$TMP/status-$name.out" 2>/dev/null && return 0; sleep 0.05; done
	fail "statussrv $name did not start: $(cat "$TMP/status-$name.out")"
	return 1
}

# AGENT_NETNS=1: the agent runs in the test's namespace (where the test's
# interfaces are, for the tc guard); the API is then reached there too.
AGENT_NETNS=${AGENT_NETNS:-0}
agent_ns() { if [ "$AGENT_NETNS" = 1 ]; then nsenter --net="/run/netns/$NS" "$@"; else "$@"; fi; }
api_curl() { agent_ns curl "$@"; }

start_agent() {
	( exec $( [ "$AGENT_NETNS" = 1 ] && echo nsenter --net="/run/netns/$NS" ) \
		"$BIN" agent --config "$CONF" --cgroup "$CG" --bpffs "$PINS" --listen "$API" "$@" \
		>> "$TMP/agent.log" 2>&1 ) &
	AGENT_PID=$!
	wait_ready
}

# wait_ready: until /readyz answers 200. Loading and verifying the programs
# takes seconds, over 10 on a machine busy with other builds and tests.
wait_ready() {
	local end=$((SECONDS + ${READY_TIMEOUT:-60}))
	while [ "$SECONDS" -lt "$end" ]; do
		if api_curl -sf "http://$API/readyz" >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then break; fi
		sleep 0.1
	done
	fail "agent not ready; log:"; cat "$TMP/agent.log"
	return 1
}

# wait_log PATTERN: until the agent log has PATTERN N times (default 1)
wait_log() {
	local want=${2:-1}
	for _ in $(seq 400); do
		[ "$(grep -c -- "$1" "$TMP/agent.log")" -ge "$want" ] && return 0
		sleep 0.05
	done
	fail "agent log never showed '$1' x$want"; tail -5 "$TMP/agent.log"
	return 1
}

# field OUTPUT KEY, field OUTPUT x NAME: a number from lbclient's output (a
# key, or how many connections endpoint NAME served: 0 when none). Output
# without lbclient's closing lines (the client never ran or died) or without
# KEY prints a word instead, which no expected number matches: a check never
# passes on a client that did not run.
field() {
	if ! lbclient_ran "$1"; then echo "no-lbclient-output"; return; fi
	if [ $# -eq 3 ]; then
		echo "$1" | awk -v n="$3" '$1 == "endpoint" && $2 == n { print $3; f=1 } END { if (!f) print 0 }'
	else
		echo "$1" | awk -v k="$2" '$1 == k { print $2; f=1 } END { if (!f) print "no-" k "-in-output" }'
	fi
}

# lbclient_ran OUTPUT: lbclient ran to its end (its last line is printed last)
lbclient_ran() { echo "$1" | grep -q '^peer_mismatch [0-9]'; }

# field_ms OUTPUT KEY: a microsecond figure of lbclient's in milliseconds
field_ms() {
	local us
	us=$(field "$1" "$2")
	case "$us" in *[!0-9]*|"") echo "$us" ;; *) echo $((us / 1000)) ;; esac
}

# wait_client FILE: until the lbclient writing FILE has printed its results
# (held connections: it then waits on stdin); up to 60 s on a busy machine
wait_client() {
	for _ in $(seq 600); do grep -q '^peer_mismatch [0-9]' "$1" 2>/dev/null && return 0; sleep 0.1; done
	fail "lbclient writing $(basename "$1") never finished: $(cat "$1" 2>/dev/null)"
	return 1
}

# wait_for WHAT SECONDS CMD...: poll CMD (every 50 ms) until it succeeds,
# for at most SECONDS of wall time (however long each try takes)
wait_for() {
	local what=$1 secs=$2 end=$((SECONDS + $2)); shift 2
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && { fail "$what: not within $secs s"; return 1; }
		sleep 0.05
	done
}

# served OUTPUT [NAME...]: connections (or UDP answers) that succeeded, all
# endpoints or those named, summed
served() {
	if ! lbclient_ran "$1"; then echo "no-lbclient-output"; return; fi
	local out=$1; shift
	echo "$out" | awk -v names=" $* " '$1 == "endpoint" && (names == "  " || index(names, " " $2 " ")) { s += $3 }
		END { print s + 0 }'
}

finish() {
	if [ "$FAILS" -eq 0 ]; then echo "[$TEST_NAME] PASS"; exit 0; fi
	echo "[$TEST_NAME] FAILED ($FAILS checks)"; echo "--- agent log"; tail -30 "$TMP/agent.log"
	exit 1
}

# ep_json SERVICE ADDRESS KEY: a field of one endpoint from the API
ep_json() {
	api_curl -sf "http://$API/api/v1/services/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
for e in s["endpoints"]:
    if e["address"] == sys.argv[1]:
        print(e[sys.argv[2]])' "$2" "$3"
}

# svc_json SERVICE EXPR: a Python expression over the service object `s`
svc_json() {
	api_curl -sf "http://$API/api/v1/services/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$2"
}

# refusal NAME: the kernel's refusal counter from the API
refusal() {
	api_curl -sf "http://$API/api/v1/services" | python3 -c '
import json, sys
print(json.load(sys.stdin)["refusals"][sys.argv[1]])' "$1"
}

# stop_pid PID: end one process started by the test
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# errcount OUTPUT ERRNO-NAME: lbclient's failures with that errno (0: none)
errcount() {
	if ! lbclient_ran "$1"; then echo "no-lbclient-output"; return; fi
	echo "$1" | awk -v e="$2" '$1 == "error" && $2 == e { print $3; f=1 } END { if (!f) print 0 }'
}

# service_yaml NAME ADDRESS PORT TARGETPORT POLICY [ENDPOINT...]: one Service
# document (POLICY "-" leaves loadBalancer out; no ENDPOINT: none)
service_yaml() {
	local name=$1 addr=$2 port=$3 target=$4 policy=$5 eps="" e
	shift 5
	for e in "$@"; do eps="$eps${eps:+, }{address: \"$e\"}"; done
	echo "apiVersion: bpfmesh.io/v1alpha1"
	echo "kind: Service"
	echo "metadata: {name: $name}"
	echo "spec:"
	echo "  addresses: [\"$addr\"]"
	echo "  ports: [{name: http, port: $port, targetPort: $target}]"
	[ "$policy" != - ] && echo "  loadBalancer: {policy: $policy}"
	echo "  endpoints: [$eps]"
}
