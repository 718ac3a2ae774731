#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# OTLP over TLS and mTLS (README: "exported over OTLP/HTTP protobuf (gzip,
# TLS/mTLS, ...)"), against the test receiver speaking HTTPS with
# certificates from a CA that openssl makes here. One agent, its Telemetry
# rewritten between the steps:
#  - TLS with Telemetry.otlp.tls.caFile: spans delivered;
#  - a caFile of another CA: the receiver's certificate is refused, nothing
#    delivered, the failures counted;
#  - mTLS (the receiver asks for a client certificate of our CA) with
#    certFile and keyFile: spans delivered, the receiver saw our certificate;
#  - mTLS without a client certificate: the receiver refuses the handshake,
#    nothing delivered, the failures counted.
. "$(dirname "$0")/lib.sh"
setup_base
TLS_PORT=$((API_PORT + 1)) MTLS_PORT=$((API_PORT + 2))
PKI="$TMP/pki"
mkdir -p "$PKI" "$CG/web" "$CG/client"

# the test's PKI: a CA, the receiver's certificate for 127.0.0.1, a client
# certificate, and an unrelated CA (P-256 keys: quick to make)
pki() {
	cd "$PKI" || return 1
	key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
	ca() { # NAME CN
		key "$1" && openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -out "$1.crt" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
	}
	cert() { # NAME CN EXT
		key "$1" && openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" &&
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
				-extfile <(printf '%s\n' "$3") -out "$1.crt" 2>/dev/null
	}
	ca ca "bpfmesh test CA $ID" && ca other "another CA $ID" &&
		cert server 127.0.0.1 "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth" &&
		cert client bpfmesh-agent "extendedKeyUsage=clientAuth"
}
( pki ) > "$TMP/pki.log" 2>&1 || { fail "openssl could not make the test PKI: $(cat "$TMP/pki.log")"; finish; }
for f in ca other server client; do [ -s "$PKI/$f.crt" ] || fail "no $f.crt"; done
openssl verify -CAfile "$PKI/ca.crt" "$PKI/server.crt" "$PKI/client.crt" > /dev/null &&
	pass "test PKI: both certificates verify against the test CA" || fail "test PKI does not verify"

telemetry() { # PORT TLS-FIELDS
	cat > "$CONF/telemetry.yaml.tmp" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp:
    endpoint: "https://127.0.0.1:$1"
    timeout: 2s
    tls: {$2}
  sampling: {ratio: 1.0}
YAML
	mv "$CONF/telemetry.yaml.tmp" "$CONF/telemetry.yaml"
}
service_yaml web 127.100.1.1 80 18110 - 127.0.0.1 > "$CONF/web.yaml"
cat >> "$CONF/web.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web}
spec: {service: web, cgroup: bpfmesh-test-$ID/web}
YAML
telemetry "$TLS_PORT" "caFile: $PKI/ca.crt"
"$E2E/otlp_receiver" --port "$TLS_PORT" --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key" \
	> "$TMP/tls.jsonl" 2> "$TMP/tls.err" &
PIDS+=($!)
"$E2E/otlp_receiver" --port "$MTLS_PORT" --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key" \
	--tls-client-ca "$PKI/ca.crt" > "$TMP/mtls.jsonl" 2> "$TMP/mtls.err" &
PIDS+=($!)
( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18110 ) > "$TMP/web.out" 2>&1 &
PIDS+=($!)
receivers_ready() { grep -q ready "$TMP/tls.jsonl" && grep -q ready "$TMP/mtls.jsonl" && grep -q ready "$TMP/web.out"; }
wait_for "the receivers and the service listen" 30 receivers_ready
start_agent
applied=1

# requests PREFIX: 3 requests to web, paths /PREFIX/1..3
requests() {
	local i
	for i in 1 2 3; do
		( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
			curl -s -o /dev/null -w '%{http_code}\n' "http://127.100.1.1/$1/$i" )
	done > "$TMP/codes"
	expect_eq "$1: requests answered" 3 "$(grep -c '^200$' "$TMP/codes")"
}
# spans FILE PREFIX: web's SERVER spans of those requests the receiver printed
spans() { grep '"kind":2' "$1" | grep -c "\"url.path\":\"/$2/"; }
otlp() { api_curl -sf "http://$API/api/v1/config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tracing"]["otlp"][sys.argv[1]])' "$1"; }
reconfigure() { # PORT TLS-FIELDS
	telemetry "$@"
	applied=$((applied + 1))
	wait_log "config applied" "$applied"
}
has_spans() { [ "$(spans "$1" "$2")" -ge 3 ]; }
failed_more() { [ "$(otlp requestsFailed)" -gt "$1" ]; }

# 1. TLS: the receiver's certificate verified with caFile
requests tls
wait_for "TLS: spans at the receiver" 30 has_spans "$TMP/tls.jsonl" tls
expect_eq "TLS: web's SERVER spans delivered" 3 "$(spans "$TMP/tls.jsonl" tls)"
grep -q "TLS handshake done (no client certificate)" "$TMP/tls.err" &&
	pass "TLS: the receiver did the handshake" || fail "TLS: receiver: $(cat "$TMP/tls.err")"

# 2. a caFile of another CA: the receiver's certificate is refused
reconfigure "$TLS_PORT" "caFile: $PKI/other.crt"
f0=$(otlp requestsFailed)
requests wrongca
wait_for "wrong CA: failed deliveries counted" 30 failed_more "$f0"
expect_eq "wrong CA: spans delivered" 0 "$(spans "$TMP/tls.jsonl" wrongca)"
grep -q "TLS handshake failed" "$TMP/tls.err" && pass "wrong CA: the handshake failed" ||
	fail "wrong CA: receiver: $(cat "$TMP/tls.err")"

# 3. mTLS: our client certificate, asked for and verified by the receiver
reconfigure "$MTLS_PORT" "caFile: $PKI/ca.crt, certFile: $PKI/client.crt, keyFile: $PKI/client.key"
requests mtls
wait_for "mTLS: spans at the receiver" 30 has_spans "$TMP/mtls.jsonl" mtls
expect_eq "mTLS: web's SERVER spans delivered" 3 "$(spans "$TMP/mtls.jsonl" mtls)"
grep -q "TLS handshake done (client certificate: .*CN *= *bpfmesh-agent" "$TMP/mtls.err" &&
	pass "mTLS: the receiver verified the agent's certificate" || fail "mTLS: receiver: $(cat "$TMP/mtls.err")"

# 4. mTLS without a client certificate: the receiver refuses the handshake
nocert0=$(grep -c "TLS handshake failed" "$TMP/mtls.err")
reconfigure "$MTLS_PORT" "caFile: $PKI/ca.crt"
f0=$(otlp requestsFailed)
requests nocert
wait_for "mTLS without a certificate: failed deliveries counted" 30 failed_more "$f0"
expect_eq "mTLS without a certificate: spans delivered" 0 "$(spans "$TMP/mtls.jsonl" nocert)"
expect_range "mTLS without a certificate: handshakes the receiver refused" $((nocert0 + 1)) 100000 \
	"$(grep -c "TLS handshake failed" "$TMP/mtls.err")"
finish
