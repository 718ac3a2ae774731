#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# agent/kube against tests/e2e/fake_kube.py, driven by build/tests/e2e/kubewatch:
# the first list (paged), changes converge (a pod entering and leaving the
# node's field selector too), a watch answered 410 relists and converges
# (ERROR event and HTTP 410), dropped streams reconnect, 500s and a stopped
# API server keep the last objects and converge once it serves again (one
# log line per resource when the outage starts and one when it ends), a CRD
# installed later is found, a rotated token is picked up, and TLS with the
# kubeconfig's -data forms (CA, client certificate) works. "Converge" means
# kubewatch's objects equal a LIST from the server, resourceVersions included.
# Needs no BPF and no root; no network but 127.0.0.1.
. "$(dirname "$0")/lib.sh"

FAKE="$ROOT/tests/e2e/fake_kube.py"
KW="$E2E/kubewatch"
OUT="$TMP/objects"
STATUS="$TMP/status"
KWLOG="$TMP/kubewatch.log"
RESOURCES=('v1|services|Service|ns' 'discovery.k8s.io/v1|endpointslices|EndpointSlice|ns'
	'v1|pods|Pod|ns|spec.nodeName=node-1' 'v1|namespaces|Namespace|cluster'
	'bpfmesh.io/v1alpha1|trafficpolicies|TrafficPolicy|ns')
[ -x "$KW" ] || { echo "[$TEST_NAME] build/tests/e2e/kubewatch missing: make all"; exit 1; }

# start_fake NAME ARGS...: sets API_PORT_K and CTL for that server
start_fake() {
	local name=$1; shift
	rm -f "$TMP/$name.ready"
	python3 "$FAKE" --ready-file "$TMP/$name.ready" --bookmark-interval 1 "$@" \
		> "$TMP/$name.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 400); do [ -s "$TMP/$name.ready" ] && break; sleep 0.05; done
	read -r API_PORT_K CTL_PORT < "$TMP/$name.ready" || { fail "$name did not start"; cat "$TMP/$name.log"; finish; }
	CTL="http://127.0.0.1:$CTL_PORT"
}
ctl() { curl -sf -X POST "$CTL/$1" -d "${2:-{\}}" >/dev/null || fail "control $1 failed"; }
apply() { ctl apply "$1"; }
delete() { ctl delete "$1"; }

start_kw() { # KUBECONFIG
	"$KW" --kubeconfig "$1" --out "$OUT" --status "$STATUS" --backoff-ms 100 --backoff-max-ms 800 \
		--absent-ms 1500 --watch-timeout 4 --page-limit 2 "${RESOURCES[@]}" >> "$KWLOG" 2>&1 &
	KW_PID=$!
	PIDS+=($KW_PID)
}

# the objects kubewatch holds: "Kind ns/name rv" sorted
held() { [ -s "$OUT" ] && tail -n +2 "$OUT" | awk '{ print $1, $2, $3 }' | sort; }
# what the server holds for the same resources, by its own LIST
truth() {
	python3 - "http://127.0.0.1:$API_PORT_K" "$(cat "$TMP/server-token" 2>/dev/null)" "${RESOURCES[@]}" <<'EOF'
import json, sys, urllib.parse, urllib.request
base, token, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
out = []
for spec in specs:
    f = spec.split("|")
    gv, plural, kind = f[0], f[1], f[2]
    url = base + ("/apis/" if "/" in gv else "/api/") + gv + "/" + plural
    if len(f) > 4:
        url += "?fieldSelector=" + urllib.parse.quote(f[4])
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    try:
        items = json.load(urllib.request.urlopen(req, timeout=5))["items"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            continue
        sys.exit(1)  # failing on purpose, or stopped: no truth now
    except OSError:
        sys.exit(1)
    for o in items:
        md = o["metadata"]
        out.append(f'{kind} {md.get("namespace") or "-"}/{md["name"]} {md["resourceVersion"]}')
print("\n".join(sorted(out)))
EOF
}
# converge WHAT [SECONDS]: kubewatch's objects equal the server's
converge() {
	local want got
	for _ in $(seq $((${2:-10} * 10))); do
		want=$(truth); got=$(held)
		[ -n "$want" ] && [ "$want" = "$got" ] && { pass "$1: $(echo "$got" | wc -l) objects converge"; return 0; }
		sleep 0.1
	done
	fail "$1: objects do not converge"; diff <(echo "$want") <(echo "$got") | head -20
	return 1
}
# st RESOURCE FIELD: a field of kubewatch's status line for RESOURCE
st() { awk -v r="$1" -v f="$2" '$1 == r { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$STATUS" 2>/dev/null; }
wait_st() { # RESOURCE FIELD VALUE WHAT
	for _ in $(seq 100); do [ "$(st "$1" "$2")" = "$3" ] && { pass "$4"; return 0; }; sleep 0.1; done
	fail "$4: $1 $2 is '$(st "$1" "$2")', expected $3"
}
requests() { curl -sf "$CTL/state" | python3 -c 'import json,sys; [print(r["verb"], r["code"], r["url"]) for r in json.load(sys.stdin)["requests"]]' 2>/dev/null; }
log_count() { grep -c -- "$1" "$KWLOG"; }

svc() { # NS NAME [IP]
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"labels\":{\"app\":\"$2\"}},\"spec\":{\"clusterIP\":\"${3:-10.0.0.1}\",\"ports\":[{\"port\":80}]}}"
}
slice() { # NS NAME SERVICE READY
	echo "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"labels\":{\"kubernetes.io/service-name\":\"$3\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.1.0.1\"],\"conditions\":{\"ready\":$4}}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}"
}
pod() { # NS NAME NODE
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"uid\":\"u-$2\"},\"spec\":{\"nodeName\":\"$3\"},\"status\":{\"phase\":\"Running\"}}"
}

# ---- plain HTTP with a rotating token ------------------------------------------
echo tok-1 > "$TMP/server-token"
echo tok-1 > "$TMP/client-token"
start_fake api --token-file "$TMP/server-token" --history 40 --rv0-paginates
cat > "$TMP/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {cluster: fake, user: agent}
clusters:
- name: fake
  cluster: {server: "http://127.0.0.1:$API_PORT_K/"}
users:
- name: agent
  user: {tokenFile: client-token}
EOF
apply '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}'
apply '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"staging"}}'
apply "$(svc prod web)"
apply "$(svc staging web 10.0.0.2)"
apply "$(svc prod db 10.0.0.3)"
apply "$(slice prod web-abc web true)"
apply "$(slice staging web-def web true)"
apply "$(pod prod web-1 node-1)"
apply "$(pod prod web-2 node-1)"
apply "$(pod prod web-3 node-2)"
start_kw "$TMP/kubeconfig"

log "the first list"
converge "first list"
for r in services endpointslices.discovery.k8s.io pods namespaces; do
	wait_st "$r" synced 1 "$r synced"
done
wait_st trafficpolicies.bpfmesh.io absent 1 "a CRD not installed is absent, not an error"
expect_eq "errors after the first list" 0 "$(st services errors)"
requests | grep -q "LIST 200 /api/v1/services?continue=" && pass "the first list is paged (limit 2, continue)" ||
	fail "no continue request: $(requests | grep services)"
requests | grep -q "^LIST 200 /api/v1/pods?resourceVersion=0&limit=2&fieldSelector=spec.nodeName%3Dnode-1" &&
	pass "pods listed from resourceVersion 0 with the node's field selector" || fail "pods list: $(requests | grep pods | head -2)"
line=$(grep '^Pod prod/web-1 ' "$OUT")
[[ "$line" == *'"kind":"Pod"'* && "$line" == *'"apiVersion":"v1"'* && "$line" != *managedFields* ]] &&
	pass "objects carry kind and apiVersion, not managedFields" || fail "object text: $line"
grep -q '^Pod prod/web-3 ' "$OUT" && fail "a pod of another node is held" || pass "a pod of another node is not held"

log "changes"
apply "$(svc prod cache 10.0.0.4)"
apply "$(slice prod web-abc web false)"
delete '{"apiVersion":"v1","kind":"Pod","namespace":"prod","name":"web-2"}'
apply "$(pod prod web-3 node-1)" # enters the field selector: ADDED
apply "$(pod prod web-1 node-2)" # leaves it: DELETED
converge "added, modified, deleted, into and out of the selector"
grep -q '"ready":false' "$OUT" && pass "the modified slice's content" || fail "slice not modified"

log "410: the watch's version compacted away while it was cut off"
lists_before=$(st services lists)
ctl stop
apply "$(svc prod late 10.0.0.5)"
ctl compact
ctl start
converge "relist after an ERROR 410 event"
watch_410() { requests | grep -q "WATCH 410 /api/v1/services"; }
wait_for "a services watch answered 410" 15 watch_410 && pass "the server answered 410"
requests | grep -Eq "^LIST 200 /api/v1/services\?resourceVersion=[1-9][0-9]*$" &&
	pass "the relist asks for not older than the last version (no limit)" ||
	fail "no relist from the last version: $(requests | grep 'LIST.*services' | tail -3)"
listed_again() { [ "$(st services lists)" -gt "$lists_before" ]; }
wait_for "services listed again" 15 listed_again && pass "services listed again"
n410=$(requests | grep -c "^WATCH 410 ")
ctl gone '{"count": 5, "mode": "http"}'
apply "$(svc prod later 10.0.0.6)"
ctl drop
converge "relist after HTTP 410"
# the change may have come through a watch before the drop: then the
# converge above passed before any watch came back (and met the 410s)
more_410() { [ "$(requests | grep -c "^WATCH 410 ")" -gt "$n410" ]; }
wait_for "watches answered HTTP 410 after the drop" 15 more_410 && pass "watches were answered HTTP 410"

log "dropped connections"
errors_before=$(st services errors)
warns_before=$(grep -c " warn " "$KWLOG")
# a drop cuts only the watches open at that moment: after the 410s above the
# services watch may still be reconnecting, so each drop waits for it
watching_services() { curl -sf "$CTL/state" | grep -q '"watching": \[[^]]*"services"'; }
for i in 1 2 3; do
	wait_for "a services watch is open" 15 watching_services || break
	ctl drop
	apply "$(svc prod drop-$i 10.0.1.$i)"
done
converge "after three dropped streams"
# the status file follows the objects by up to 200 ms
more_errors() { [ "$(st services errors)" -gt "$errors_before" ]; }
wait_for "broken streams counted as errors" 15 more_errors && pass "broken streams are counted as errors"
expect_eq "warnings for streams that reconnect at once" "$warns_before" "$(grep -c " warn " "$KWLOG")"

log "500s"
held_before=$(held | wc -l)
# the services watch must be open for the drop to send it into the 500s
# window, not still in its backoff from the drops above
wait_for "a services watch is open" 15 watching_services
ctl fail '{"code": 500, "seconds": 3}'
ctl drop
sleep 1.5
expect_eq "objects held during the 500s" "$held_before" "$(held | wc -l)"
wait_st services failing 1 "the 500s are an outage"
apply "$(svc prod after-500 10.0.2.1)"
converge "after the 500s" 15
wait_st services failing 0 "the outage is over"
wait_for "errors counted" 15 more_errors && pass "errors counted ($(st services errors))"

log "the API server stopped"
ALL="services endpointslices.discovery.k8s.io pods namespaces trafficpolicies.bpfmesh.io"
for r in $ALL; do wait_st "$r" failing 0 "$r answered before the stop"; done
starts=$(log_count "stay in force until the API server answers")
ends=$(log_count "answers again")
held_before=$(held | md5sum)
ctl stop
sleep 3
expect_eq "objects survive the outage ($(held | wc -l))" "$held_before" "$(held | md5sum)"
wait_st pods failing 1 "pods: failing while the server is down"
apply "$(svc prod while-down 10.0.3.1)"
delete '{"apiVersion":"v1","kind":"Pod","namespace":"prod","name":"web-3"}'
sleep 2
ctl start
converge "after the API server came back" 15
for r in $ALL; do wait_st "$r" failing 0 "$r recovered"; done
new_starts=$(($(log_count "stay in force until the API server answers") - starts))
new_ends=$(($(log_count "answers again") - ends))
expect_eq "one outage line per resource when it started" 5 "$new_starts"
expect_eq "one line per resource when it ended" 5 "$new_ends"

log "a CRD installed while running"
ctl crds '{"installed": true}'
apply '{"apiVersion":"bpfmesh.io/v1alpha1","kind":"TrafficPolicy","metadata":{"name":"web","namespace":"prod"},"spec":{"service":"prod/web"}}'
converge "the TrafficPolicy appears"
wait_st trafficpolicies.bpfmesh.io absent 0 "the CRD is no longer absent"
# removed: the first 404 keeps the objects (an API server starting answers
# 404 for custom resources for a while); the second, a recheck later, empties
ctl crds '{"installed": false}'
sleep 0.4
grep -q '^TrafficPolicy prod/web ' "$OUT" && pass "a first 404 keeps the custom resources" ||
	fail "the custom resources went at the first 404"
wait_st trafficpolicies.bpfmesh.io absent 1 "a second 404 makes the resource absent"
grep -q '^TrafficPolicy ' "$OUT" && fail "custom resources kept after the CRD went" ||
	pass "the CRD's objects are gone"
ctl crds '{"installed": true}'
apply '{"apiVersion":"bpfmesh.io/v1alpha1","kind":"TrafficPolicy","metadata":{"name":"web","namespace":"prod"},"spec":{"service":"prod/web"}}'
converge "the CRD installed again"

log "token rotation"
# the kubelet's way: a new file renamed into place
echo tok-2 > "$TMP/client-token.new" && mv "$TMP/client-token.new" "$TMP/client-token"
echo tok-2 > "$TMP/server-token"
ctl drop
apply "$(svc prod rotated 10.0.4.1)"
converge "with the rotated token"
# rotated on the server first: 401s until the client's file follows
echo tok-3 > "$TMP/server-token"
ctl drop
sleep 1.5
requests | grep -q "401" && pass "the old token is refused (401)" || fail "no 401 seen"
wait_st services failing 1 "401s are an outage"
echo tok-3 > "$TMP/client-token.new" && mv "$TMP/client-token.new" "$TMP/client-token"
apply "$(svc prod rotated-again 10.0.4.2)"
converge "after the token file followed" 15
grep -q "tok-" "$KWLOG" && fail "a token appears in the log" || pass "no token in the log"

stop_pid "$KW_PID"

log "a list whose continue token expired starts over from the latest state"
ctl gone '{"count": 1, "mode": "continue"}'
rm -f "$OUT" "$STATUS"
start_kw "$TMP/kubeconfig"
converge "a new client after an expired continue token"
requests | grep -q "^LIST 410 /api/v1/.*continue=" && pass "the continuation was answered 410" ||
	fail "no 410 on a continuation"
requests | grep -Eq "^LIST 200 /api/v1/[a-z]+\?limit=2" && pass "listed again without resourceVersion (the latest), paged" ||
	fail "no list of the latest: $(requests | grep LIST | tail -4)"
stop_pid "$KW_PID"

# ---- TLS: CA and client certificate as kubeconfig -data -------------------------
log "TLS with certificate-authority-data and client-certificate-data"
if command -v openssl >/dev/null; then
	(
		cd "$TMP" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj "/CN=fake-ca" 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
		printf "subjectAltName=IP:127.0.0.1\n" > srv.ext
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 -extfile srv.ext 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj "/CN=bpfmesh/O=system:nodes" 2>/dev/null
		openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 1 2>/dev/null
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 1 -subj "/CN=other" 2>/dev/null
	) || fail "openssl could not make the certificates"
	rm -f "$TMP/server-token"
	start_fake tls --tls-cert "$TMP/srv.crt" --tls-key "$TMP/srv.key" --client-ca "$TMP/ca.crt" \
		--token-file "$TMP/no-such-token"
	tls_kubeconfig() { # CA-FILE
		cat <<EOF
apiVersion: v1
kind: Config
current-context: tls
contexts:
- {name: tls, context: {cluster: fake, user: agent}}
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$API_PORT_K
    certificate-authority-data: $(base64 -w0 "$1")
users:
- name: agent
  user:
    client-certificate-data: $(base64 -w0 "$TMP/cli.crt")
    client-key-data: $(base64 -w0 "$TMP/cli.key")
EOF
	}
	tls_kubeconfig "$TMP/ca.crt" > "$TMP/kubeconfig-tls"
	apply "$(svc prod tls 10.0.5.1)"
	rm -f "$OUT" "$STATUS"
	start_kw "$TMP/kubeconfig-tls"
	# truth() reads over plain HTTP: ask over TLS with curl instead
	want=$(printf 'Service prod/tls\n')
	for _ in $(seq 100); do
		grep -q '^Service prod/tls ' "$OUT" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^Service prod/tls ' "$OUT" 2>/dev/null && pass "listed over TLS with a client certificate from -data" ||
		{ fail "nothing over TLS"; tail -5 "$KWLOG"; }
	apply "$(svc prod tls-2 10.0.5.2)"
	for _ in $(seq 100); do grep -q '^Service prod/tls-2 ' "$OUT" && break; sleep 0.1; done
	grep -q '^Service prod/tls-2 ' "$OUT" && pass "watched over TLS" || fail "no watch event over TLS"
	stop_pid "$KW_PID"
	# a CA that did not sign the server: refused, with a reason
	tls_kubeconfig "$TMP/other.crt" > "$TMP/kubeconfig-bad"
	rm -f "$OUT" "$STATUS"
	start_kw "$TMP/kubeconfig-bad"
	wait_st services failing 1 "a server the CA did not sign is refused"
	grep -q "services: list: .*[Cc]ertificate" "$KWLOG" && pass "the log says the certificate is the problem" ||
		fail "no certificate error in the log: $(grep services "$KWLOG" | tail -2)"
	stop_pid "$KW_PID"
else
	log "openssl missing: TLS not tested"
fi

finish
