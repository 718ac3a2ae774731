#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bpfmesh validate on what `kubectl get -o yaml` writes: what the agent would
# leave out is listed with its place and reason, a name defined twice is a
# warning, neither fails the check; an error does. No root, no BPF.
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/v"
cat > "$TMP/v/a.yaml" <<'YAML'
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop, uid: 1f2e, resourceVersion: "41"}
  spec: {clusterIP: 10.96.0.5, ports: [{port: 80}]}
- apiVersion: v1
  kind: Service
  metadata: {name: db, namespace: shop}
  spec: {clusterIP: None, ports: [{port: 5432}]}
- apiVersion: v1
  kind: Service
  metadata: {name: mail, namespace: shop}
  spec: {type: ExternalName, externalName: mail.example.com}
YAML
cat > "$TMP/v/b.yaml" <<'YAML'
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  addresses: ["10.96.0.5"]
  ports: [{port: 80}]
YAML
out=$("$BIN" validate "$TMP/v" 2>"$TMP/err"); rc=$?
expect_eq "exit status with skipped objects and a warning" 0 "$rc"
grep -q "^$TMP/v/a.yaml:8:3: skipped Service shop/db: headless" <<<"$out" &&
	pass "the headless Service is named with its place and reason" || fail "no headless line: $out"
grep -q "^$TMP/v/a.yaml:12:3: skipped Service shop/mail: type ExternalName" <<<"$out" &&
	pass "the ExternalName Service too" || fail "no ExternalName line: $out"
grep -q "valid: 1 services, .*; 3 objects skipped$" <<<"$out" &&
	pass "the summary counts what was skipped" || fail "summary: $(tail -1 <<<"$out")"
grep -q "^warning: .*shop/web" "$TMP/err" && pass "a Service defined twice is a warning" ||
	fail "no warning: $(cat "$TMP/err")"

echo "  endpoints: [{address: 10.1.0.1, port: 70000}]" >> "$TMP/v/b.yaml"
"$BIN" validate "$TMP/v" >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "exit status with an error" 1 "$rc"
grep -q "b.yaml:7:.*70000" "$TMP/err" && pass "the error names file, line and value" ||
	fail "error: $(cat "$TMP/err")"
finish
