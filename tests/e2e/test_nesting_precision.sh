#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Nesting only with evidence, measured: a threaded server (httpsvc, a thread
# per connection) and an event-loop server (Node.js, the plain http module,
# no SDK) each serve N requests /p/i, 20 at a time, and call an upstream
# (httpsvc, through its service address) with the same path for each. A
# bpfmesh CLIENT span of a server is right when its parent is that server's
# SERVER span of the same path. Precision (right / nested) must be at least
# 99% on both; recall (right / calls) is reported, and must be high on the
# threaded server, where every call has its thread's evidence, and on the
# event loop serving one request at a time (50 more, sequential); with
# several requests in flight on its one thread, a call gets no parent
# rather than a wrong one. A third server (poolsrv.py, a thread per
# connection) makes its calls over a pool of 2 keep-alive connections, so
# each pooled connection carries call after call from one thread after
# another: thread records must follow a socket for its whole life (the
# kernel moves a busy socket's thread state to the socket's own storage
# after its first few calls), one at a time (a connection, so a thread,
# per request) and 4 at a time.
. "$(dirname "$0")/lib.sh"
NODE_DIR=$ROOT/tests/e2e/otel-node
N=${N:-200}
N_SEQ=50
PAR=20
if ! command -v node >/dev/null; then
	log "SKIP: no Node.js (make deps installs it)"
	exit 0
fi
setup_base
RECV_PORT=$((API_PORT + 1))
N_POOL=60
for w in threaded loop pooled up client; do mkdir -p "$CG/$w"; done
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: threaded}
spec:
  addresses: ["127.100.3.1"]
  ports: [{name: http, port: 80, targetPort: 18301}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: loop}
spec:
  addresses: ["127.100.3.2"]
  ports: [{name: http, port: 80, targetPort: 18302}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: up}
spec:
  addresses: ["127.100.3.3"]
  ports: [{name: http, port: 80, targetPort: 18303}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: pooled}
spec:
  addresses: ["127.100.3.4"]
  ports: [{name: http, port: 80, targetPort: 18304}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 2s}
  sampling: {ratio: 1.0}
YAML
for w in threaded loop pooled up; do
	cat >> "$CONF/svc.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: $w}
spec: {service: $w, cgroup: bpfmesh-test-$ID/$w}
YAML
done
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
in_group() { # CGROUP CMD...: in the test's namespace and that workload's cgroup
	local g=$1; shift
	( echo $BASHPID > "$CG/$g/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" )
}
in_group up "$E2E/httpsvc" --name up --listen 127.0.0.1:18303 --delay-ms 5 > "$TMP/up.out" 2>&1 &
PIDS+=($!)
in_group threaded "$E2E/httpsvc" --name threaded --listen 127.0.0.1:18301 \
	--upstream 127.100.3.3:80 > "$TMP/threaded.out" 2>&1 &
PIDS+=($!)
in_group loop node "$NODE_DIR/service.js" --name loop --port 18302 \
	--upstream 127.100.3.3:80 > "$TMP/loop.out" 2>&1 &
PIDS+=($!)
in_group pooled python3 "$ROOT/tests/e2e/poolsrv.py" 18304 127.100.3.3 80 2 \
	> "$TMP/pooled.out" 2>&1 &
PIDS+=($!)
start_agent
ready() { grep -q ready "$TMP/up.out" && grep -q ready "$TMP/threaded.out" &&
	grep -q ready "$TMP/loop.out" && grep -q ready "$TMP/pooled.out"; }
wait_for "the four services listen" 30 ready

# load ADDRESS NAME PREFIX COUNT PAR: COUNT requests PREFIXi, PAR at a time
# (one curl, which keeps PAR connections)
load() {
	local args=() i
	for i in $(seq "$4"); do args+=(-o /dev/null "http://$1$3$i"); done
	in_group client curl -s -Z --parallel-max "$5" -w '%{http_code}\n' "${args[@]}" \
		> "$TMP/$2.codes" 2> "$TMP/$2.err"
	expect_eq "$2: requests $3* answered 200" "$4" "$(grep -c '^200$' "$TMP/$2.codes")"
}
load 127.100.3.1 threaded /p/ "$N" "$PAR"
load 127.100.3.2 loop /p/ "$N" "$PAR"
load 127.100.3.2 loop /s/ "$N_SEQ" 1
# a curl, so a connection and a server thread, per request (one curl for
# all would reuse a connection the server closed and send again: a second
# SERVER span of the same path)
for i in $(seq "$N_POOL"); do
	in_group client curl -s -o /dev/null -w '%{http_code}\n' "http://127.100.3.4/s/$i"
done > "$TMP/pooled.codes"
expect_eq "pooled: requests /s/* answered 200" "$N_POOL" "$(grep -c '^200$' "$TMP/pooled.codes")"
load 127.100.3.4 pooled /p/ "$N_POOL" 4
# spans_of KIND SERVICE PREFIX: bpfmesh's spans of that kind (2 SERVER, 3
# CLIENT) received so far
spans_of() { grep '"scope":{"name":"bpfmesh"' "$TMP/spans.jsonl" | grep "\"kind\":$1" |
	grep "\"service.name\":\"$2\"" | grep -c "\"url.path\":\"$3"; }
# both kinds: a SERVER span ends after the calls it made, so the last
# requests' SERVER spans come after every CLIENT span; a call whose parent
# has not arrived yet would count as nested wrong
all_in() { [ "$(spans_of 3 "$1" "$2")" -ge "$3" ] && [ "$(spans_of 2 "$1" "$2")" -ge "$3" ]; }
for _ in $(seq 120); do
	all_in threaded /p/ "$N" && all_in loop /p/ "$N" && all_in loop /s/ "$N_SEQ" &&
		all_in pooled /s/ "$N_POOL" && all_in pooled /p/ "$N_POOL" && break
	sleep 0.25
done
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# check NAME SERVICE PREFIX COUNT HOW MIN_RECALL: precision at least 99%,
# recall at least MIN_RECALL
check() {
	local f="$TMP/$1.fig" p r
	python3 "$NODE_DIR/traces.py" "$TMP/spans.jsonl" nesting "$2" "$3" > "$f"
	log "$1 ($5): $(tr '\n' ' ' < "$f")"
	expect_eq "$1: CLIENT spans of its calls" "$4" "$(val calls "$f")"
	p=$(val precision_pct "$f") r=$(val recall_pct "$f")
	if at_least "$p" 99; then pass "$1: nesting precision $p% (at least 99%)"; else
		fail "$1: nesting precision $p%, expected at least 99%"; fi
	if at_least "$r" "$6"; then pass "$1: nesting recall $r% (at least $6%)"; else
		fail "$1: nesting recall $r%, expected at least $6%"; fi
}
check threaded threaded /p/ "$N" "$PAR at a time" 90
# with several requests in flight on its one thread, a call gets no parent
check loop-concurrent loop /p/ "$N" "$PAR at a time" 0
check loop-sequential loop /s/ "$N_SEQ" "one at a time" 90
check pooled-sequential pooled /s/ "$N_POOL" "one at a time, 2 pooled connections" 90
check pooled-concurrent pooled /p/ "$N_POOL" "4 at a time, 2 pooled connections" 90
finish
