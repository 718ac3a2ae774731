#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Where an HTTP/1 response's span ends: at its last byte on the wire. The
# kernel reads no framing, it follows a response's bytes by sequence number
# and stamps the latest; the agent knows from the head how many bytes (or
# that chunks end with "0\r\n\r\n") and ends the span when the kernel's
# count says they passed: told by the next record on the socket, by the
# close, or, on a connection that went quiet, read from the kernel's
# per-socket state at the span builder's tick (bpf/http.h, agent/trace/
# spanbuild.c). bodysrv.py writes each response's last bytes N ms after its
# head and prints when (wall clock, as spans) it read the request and sent
# those last bytes: a span must end between the start and the return of
# that send (a little after it for a CLIENT span), and last N ms or more.
# Cases:
#   1. Content-Length body, its second half 150 ms after the head, on a
#      keep-alive connection that then stays quiet: the span ends at the
#      last byte and is exported while the connection is still open (the
#      tick's poll; not the close, not the 5 s response timeout)
#   2. the same with a chunked body whose terminator comes alone, 150 ms late
#   3. a next request after the response on the same connection
#   4. that next request pipelined with the first, in one segment
#   5. a response cut by a close (Content-Length 100000, 10000 bytes, its
#      last byte 50 ms after the head, the close 300 ms after that): ERROR
#      ending at the last byte, not at the close
#   6. an HTTP/1.0 response delimited by the close, last byte 80 ms after
#      the head, the close 300 ms later: not an error, ends at the last byte
. "$(dirname "$0")/lib.sh"
setup_base
# the receiver on a port the kernel picks (ephemeral, so no other test's
# API port, which lib.sh picks below that range)
"$E2E/otlp_receiver" --port 0 > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
wait_for "the OTLP receiver listens" 30 grep -q "listening on" "$TMP/receiver.err"
RECV_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/receiver.err" | head -1)
SRV="$ROOT/tests/e2e/bodysrv.py"
mkdir -p "$CG/api" "$CG/client"
cat > "$CONF/api.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: api}
spec:
  addresses: ["127.100.3.1"]
  ports: [{name: http, port: 80, targetPort: 18120}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: api}
spec: {service: api, cgroup: bpfmesh-test-$ID/api}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: client}
spec:
  addresses: ["127.100.3.2"]
  ports: [{name: http, port: 80, targetPort: 18121}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: client}
spec: {service: client, cgroup: bpfmesh-test-$ID/client}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", compression: gzip, timeout: 2s}
  sampling: {ratio: 1.0}
YAML
( echo $BASHPID > "$CG/api/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	python3 "$SRV" serve 18120 ) > "$TMP/api.out" 2>&1 &
PIDS+=($!)
start_agent || finish
wait_for "the service listens" 30 grep -q ready "$TMP/api.out"

# client OUT ARGS...: bodysrv.py's client in the client cgroup, one
# connection to the api service
client() {
	local out=$1; shift
	( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
		python3 "$SRV" client 127.100.3.1 80 "$@" ) > "$out" 2>&1
}
# spans_of PATH: how many spans (SERVER and CLIENT) of url.path PATH arrived
spans_of() { grep -c "\"url.path\":\"$1\"" "$TMP/spans.jsonl"; }

# quiet CASE PATH QUERY: a client asks for PATH?QUERY, reads the response
# and holds the connection open (up to 4 s, less than the agent's 5 s
# response timeout) until both spans of PATH arrived; writes whether they
# came before it closed the connection to $TMP/arrived-CASE
HOLD=4
quiet() {
	local case=$1 path=$2 query=$3 out="$TMP/client-$1.out" closed arrived=no cpid
	client "$out" --hold "$HOLD" --release "$TMP/release-$case" "$path?$query" &
	cpid=$!
	for _ in $(seq 400); do
		# closed first: spans seen after it was not yet closed came before the close
		closed=$(grep -c '"closed"' "$out" 2> /dev/null)
		closed=${closed:-0}
		if [ "$(spans_of "$path")" -ge 2 ]; then
			[ "$closed" -eq 0 ] && arrived=yes
			break
		fi
		[ "$closed" -gt 0 ] && break
		sleep 0.05
	done
	touch "$TMP/release-$case"
	# (a subshell: its verdict goes out in a file)
	wait "$cpid"
	echo "$arrived" > "$TMP/arrived-$case"
}
quiet 1 /cl-split/quiet "ms=150" &
q1=$!
quiet 2 /chunked-split/quiet "ms=150" &
q2=$!
wait "$q1" "$q2"
expect_eq "case 1: spans of the quiet Content-Length response exported before the close" \
	yes "$(cat "$TMP/arrived-1")"
expect_eq "case 2: spans of the quiet chunked response exported before the close" \
	yes "$(cat "$TMP/arrived-2")"
client "$TMP/client-3.out" "/cl-split/next?ms=100" /small/next
client "$TMP/client-4.out" --pipeline "/cl-split/pipe?ms=100" /small/pipe
client "$TMP/client-5.out" "/cut/c?ms=50&after=300"
client "$TMP/client-6.out" "/legacy/l?ms=80&after=300"
for c in 1 2 3 4 5 6; do sed "s/^/  client $c: /" "$TMP/client-$c.out"; done
sed 's/^/  server: /' "$TMP/api.out"
expect_eq "responses read whole by the clients (all but the cut one)" 7 \
	"$(cat "$TMP/client-"[12346].out | grep -c '"status": 200, "bytes": [0-9]*, "complete": true')"
expect_eq "the cut response read cut" 1 "$(grep -c '"bytes": 10000, "complete": false' "$TMP/client-5.out")"
# 8 responses, a SERVER and a CLIENT span each
for _ in $(seq 300); do
	[ "$(grep -c '"url.path"' "$TMP/spans.jsonl")" -ge 16 ] && break
	sleep 0.05
done
# one line per span: case.side.what value, times in microseconds: dur its
# duration, start and end relative to when the server read the request and
# when the send of the response's last byte started and returned
python3 - "$TMP/spans.jsonl" "$TMP/api.out" > "$TMP/check.out" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
srv = {}
for l in open(sys.argv[2]):
    if l.startswith("{"):
        r = json.loads(l)
        srv[r["path"]] = r
cases = {"1": ["/cl-split/quiet"], "2": ["/chunked-split/quiet"],
         "3": ["/cl-split/next", "/small/next"], "4": ["/cl-split/pipe", "/small/pipe"],
         "5": ["/cut/c"], "6": ["/legacy/l"]}
for case, paths in cases.items():
    for i, path in enumerate(paths):
        key = "%s.%d" % (case, i)
        r = srv.get(path)
        print(key + ".own", int(r["ms"] * 1000) if r else "missing")
        for side, kind, svc in (("server", 2, "api"), ("client", 3, "client")):
            got = [s for s in spans if s["kind"] == kind and
                   s["attributes"].get("url.path") == path and
                   s["resource"].get("service.name") == svc]
            print(key + "." + side + ".count", len(got))
            if not got:
                continue
            s = got[0]
            print(key + "." + side + ".dur", (s["end_unix_ns"] - s["start_unix_ns"]) // 1000)
            print(key + "." + side + ".start", s["start_unix_ns"] // 1000)
            print(key + "." + side + ".end", s["end_unix_ns"] // 1000)
            if r:
                print(key + "." + side + ".start_vs_read", (s["start_unix_ns"] - r["read_ns"]) // 1000)
                print(key + "." + side + ".end_vs_send", (s["end_unix_ns"] - r["send_ns"]) // 1000)
                print(key + "." + side + ".end_vs_sent", (s["end_unix_ns"] - r["sent_ns"]) // 1000)
            print(key + "." + side + ".status", s["status_code"])
            print(key + "." + side + ".etype", s["attributes"].get("error.type") or "-")
            print(key + "." + side + ".code", s["attributes"].get("http.response.status_code", "-"))
PY
sed 's/^/  /' "$TMP/check.out"
val() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }' "$TMP/check.out"; }
num() { local v; v=$(val "$1"); case "$v" in '' | *[!0-9-]*) echo -999999999 ;; *) echo "$v" ;; esac; }

# ends KEY SIDE WHAT MIN_MS SLACK_MS: a span that ends at its response's
# last byte. The server sent that byte MIN_MS or more after the head, so the
# span lasts at least that long (ending at the head: ~0 ms). The kernel
# stamped it after the server's send of it started and, for the SERVER
# span, before that send returned; the client's read of it (its CLIENT
# span's end) comes soon after. SLACK_MS is what a busy machine may add:
# a tick would end the span up to 100 ms late, a close 300 ms or more. The
# span starts when the request arrived, at the latest when the server read
# it (spans and the server stamp the same clock, CLOCK_REALTIME: 2 ms for
# the agent's conversion).
ends() {
	local key=$1 side=$2 what=$3 min=$4 slack=$5 k="$1.$2" own
	own=$(num "$key.own")
	expect_eq "$what: ${side^^} spans" 1 "$(val "$k.count")"
	expect_range "$what: ${side^^} span duration (us, >= $min ms; the server's own $own us)" \
		$((min * 1000)) 100000000 "$(num "$k.dur")"
	expect_range "$what: ${side^^} span end after the send of the last byte started (us)" \
		-2000 100000000 "$(num "$k.end_vs_send")"
	expect_range "$what: ${side^^} span end after that send returned (us, <= $slack ms)" \
		-100000000 $((slack * 1000)) "$(num "$k.end_vs_sent")"
	expect_range "$what: ${side^^} span start after the server read the request (us)" \
		-100000000 2000 "$(num "$k.start_vs_read")"
}
exact() { ends "$1" server "$2" "$3" 20; }
client_ok() { ends "$1" client "$2" "$3" 40; }

exact 1.0 "case 1 (quiet, Content-Length)" 150
client_ok 1.0 "case 1 (quiet, Content-Length)" 150
exact 2.0 "case 2 (quiet, chunked, terminator alone)" 150
client_ok 2.0 "case 2 (quiet, chunked, terminator alone)" 150
exact 3.0 "case 3 (next request)" 100
client_ok 3.0 "case 3 (next request)" 100
exact 3.1 "case 3 (the next request's)" 0
exact 4.0 "case 4 (pipelined)" 100
client_ok 4.0 "case 4 (pipelined)" 100
# the second shares the first's segment, so it starts with it and waited
# for the first's response
exact 4.1 "case 4 (the pipelined second's)" 100
expect_eq "case 4: the second SERVER span ends after the first" yes \
	"$( [ "$(num 4.1.server.end)" -ge "$(num 4.0.server.end)" ] &&
		[ "$(num 4.1.server.start)" -ge "$(num 4.0.server.start)" ] && echo yes || echo no)"
for s in server client; do
	expect_eq "case 5 (cut): ${s^^} span status ERROR" 2 "$(val "5.0.$s.status")"
	expect_eq "case 5 (cut): ${s^^} span error.type" response_incomplete "$(val "5.0.$s.etype")"
done
exact 5.0 "case 5 (cut, close 300 ms after its last byte)" 50
client_ok 5.0 "case 5 (cut, close 300 ms after its last byte)" 50
for s in server client; do
	expect_eq "case 6 (close-delimited): ${s^^} span status not ERROR" 0 "$(val "6.0.$s.status")"
	expect_eq "case 6 (close-delimited): ${s^^} http.response.status_code" 200 "$(val "6.0.$s.code")"
done
exact 6.0 "case 6 (close-delimited, close 300 ms after its last byte)" 80
client_ok 6.0 "case 6 (close-delimited, close 300 ms after its last byte)" 80
finish
