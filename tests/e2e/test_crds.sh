#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test_crds: the CRDs in deploy/crds agree with the config parser.
#
# - every CRD is a well-formed apiextensions.k8s.io/v1 CRD with a structural
#   schema (every node typed, nothing Kubernetes forbids);
# - every document of deploy/examples and of deploy/kubernetes' ConfigMap passes
#   its kind's schema;
# - the parser's field names (agent/config_*.c) are exactly the schemas' field
#   names, and tests/e2e/crds/kitchen-sink.yaml, which sets every field, has
#   exactly the schemas' field paths and passes both `bpfmesh validate` and
#   the schemas;
# - mutations of the kitchen sink (wrong enum, negative or out-of-range number,
#   missing required field, bad duration, unknown field, ...) are rejected by
#   both, each at the expected field, and a few unusual but valid spellings are
#   accepted by both.
#
# The schemas are checked with jsonschema the way the API server would apply
# them: nulls pruned, defaults filled in, unknown fields refused (kubectl's
# --validate=strict), x-kubernetes-list-type set/map uniqueness, and every
# x-kubernetes-validations (CEL) rule through a Python twin listed below; a
# rule without a twin fails the test.
#
# Needs no root and creates nothing but a temporary directory, so it does not
# use lib.sh (whose trap detaches BPF and removes cgroups).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/${BUILD:-build}/bpfmesh
TEST_NAME=test_crds
if [ ! -x "$BIN" ]; then
	echo "[$TEST_NAME] FAIL: $BIN not built"
	echo "[$TEST_NAME] FAILED (1 checks)"
	exit 1
fi
# the python3 on PATH, else Debian's (make deps installs python3-yaml and
# python3-jsonschema for it)
PY=python3
python3 -c 'import yaml, jsonschema' 2>/dev/null || PY=/usr/bin/python3
if ! "$PY" -c 'import yaml, jsonschema' 2>/dev/null; then
	echo "[$TEST_NAME] FAIL: python3 with PyYAML and jsonschema is required"
	echo "[$TEST_NAME] FAILED (1 checks)"
	exit 1
fi
TMP=$(mktemp -d /tmp/bpfmesh-crds.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$PY" - "$ROOT" "$BIN" "$TMP" "$TEST_NAME" <<'EOF'
import copy, glob, json, os, re, subprocess, sys
import yaml, jsonschema

ROOT, BIN, TMP, NAME = sys.argv[1:5]
FAILS = 0


def ok(msg):
    print(f"[{NAME}] ok: {msg}")


def fail(msg):
    global FAILS
    FAILS += 1
    print(f"[{NAME}] FAIL: {msg}")


def check(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        fail(msg + (f": {why}" if why else ""))
    return cond


KINDS = {  # kind -> (plural, parser source)
    "Service": ("services", "agent/config/config_service.c"),
    "TrafficPolicy": ("trafficpolicies", "agent/config/config_traffic.c"),
    "Workload": ("workloads", "agent/config/config_workload.c"),
    "AccessPolicy": ("accesspolicies", "agent/config/config_access.c"),
    "Telemetry": ("telemetries", "agent/config/config_telemetry.c"),
}

# ---- Go durations, as agent/config/duration.c reads them (for the CEL twins) ----
UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
         "m": 60 * 10**9, "h": 3600 * 10**9}


def dur_ns(s):
    if s.startswith("+"):
        s = s[1:]
    if s == "0":
        return 0
    terms = re.findall(r"([0-9]*\.?[0-9]*)([^0-9.]+)", s)
    if not s or "".join(a + b for a, b in terms) != s:
        raise ValueError(s)
    total = 0
    for num, unit in terms:
        if num in ("", ".") or unit not in UNITS:
            raise ValueError(s)
        total += float(num) * UNITS[unit]
    return total


def port_names_unique(s):
    names = [p.get("name") for p in s["ports"] if p.get("name")]
    return len(names) == len(set(names))


# Every CEL rule of the CRDs and its Python twin (the API server runs the rule).
CEL = {
    "self.ports.all(p, !has(p.name) || p.name == '' || self.ports.filter(q, has(q.name) && q.name == p.name).size() == 1)":
        port_names_unique,
    "!has(self.endpoints) || size(self.ports) == 1 || self.endpoints.all(e, !has(e.port))":
        lambda s: "endpoints" not in s or len(s["ports"]) == 1 or all("port" not in e for e in s["endpoints"]),
    "!has(self.endpoints) || [false, true].all(v6, self.endpoints.filter(e, e.address.contains(':') == v6).size() <= 4096)":
        lambda s: "endpoints" not in s or all(
            sum(1 for e in s["endpoints"] if (":" in e["address"]) == v6) <= 4096 for v6 in (False, True)),
    "!has(self.maxEjectionTime) || duration(self.maxEjectionTime) >= duration(has(self.baseEjectionTime) ? self.baseEjectionTime : '30s')":
        lambda s: "maxEjectionTime" not in s or dur_ns(s["maxEjectionTime"]) >= dur_ns(s.get("baseEjectionTime", "30s")),
    "has(self.http) != has(self.tcp)":
        lambda s: ("http" in s) != ("tcp" in s),
    "duration(self) >= duration('1s')":
        lambda s: dur_ns(s) >= 10**9,
    "(has(self.certFile) && self.certFile != '') == (has(self.keyFile) && self.keyFile != '')":
        lambda s: bool(s.get("certFile")) == bool(s.get("keyFile")),
}

# ---- 1. well-formed, structural v1 CRDs ----
ALLOWED = {"type", "format", "title", "description", "default", "maximum", "exclusiveMaximum",
           "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
           "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties",
           "required", "items", "allOf", "oneOf", "anyOf", "not", "properties",
           "additionalProperties", "nullable", "example", "externalDocs"}
JUNCTOR_FORBIDDEN = {"type", "description", "default", "additionalProperties", "nullable"}


def structural(node, path, errs, in_junctor=False):
    if not isinstance(node, dict):
        errs.append(f"{path}: not a mapping")
        return
    for k in node:
        if k not in ALLOWED and not k.startswith("x-kubernetes-"):
            errs.append(f"{path}: keyword {k} is not allowed")
    if in_junctor:
        for k in JUNCTOR_FORBIDDEN & set(node):
            errs.append(f"{path}: {k} inside allOf/anyOf/oneOf/not")
    elif "type" not in node:
        errs.append(f"{path}: no type")
    if node.get("uniqueItems") is True:
        errs.append(f"{path}: uniqueItems: true is forbidden (use x-kubernetes-list-type)")
    t = node.get("type")
    if t == "array" and not in_junctor and "items" not in node:
        errs.append(f"{path}: array without items")
    if "properties" in node and "additionalProperties" in node:
        errs.append(f"{path}: properties and additionalProperties together")
    for k, v in node.get("properties", {}).items():
        structural(v, f"{path}.{k}", errs, in_junctor)
    if isinstance(node.get("items"), dict):
        structural(node["items"], f"{path}[]", errs, in_junctor)
    if isinstance(node.get("additionalProperties"), dict):
        structural(node["additionalProperties"], f"{path}.*", errs, in_junctor)
    for j in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(node.get(j, [])):
            structural(sub, f"{path}.{j}[{i}]", errs, True)
    if "not" in node:
        structural(node["not"], f"{path}.not", errs, True)
    if node.get("x-kubernetes-list-type") == "map":
        item = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []):
            sub = item.get("properties", {}).get(key)
            if sub is None or (key not in item.get("required", []) and "default" not in sub):
                errs.append(f"{path}: list-map key {key} is neither required nor defaulted")
    for r in node.get("x-kubernetes-validations", []):
        if r.get("rule") not in CEL:
            errs.append(f"{path}: CEL rule without a Python twin in test_crds.sh: {r.get('rule')}")
        if not r.get("message"):
            errs.append(f"{path}: CEL rule without a message")


def schema_at(schema, dotted):
    """The schema node of a printer column's jsonPath (.spec.ports[*].port)."""
    node = schema
    for part in dotted.strip(".").split("."):
        arr = part.endswith("[*]")
        node = node.get("properties", {}).get(part[:-3] if arr else part)
        if node is None:
            return None
        if arr:
            node = node.get("items")
    return node


crds = {}
for path in sorted(glob.glob(f"{ROOT}/deploy/crds/*.yaml")):
    rel = os.path.relpath(path, ROOT)
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        if doc is None:
            continue
        errs = []
        spec = doc.get("spec", {})
        names = spec.get("names", {})
        kind = names.get("kind")
        if doc.get("apiVersion") != "apiextensions.k8s.io/v1" or doc.get("kind") != "CustomResourceDefinition":
            errs.append("not an apiextensions.k8s.io/v1 CustomResourceDefinition")
        if kind not in KINDS:
            errs.append(f"kind {kind!r} is not a config kind")
        elif names.get("plural") != KINDS[kind][0]:
            errs.append(f"plural {names.get('plural')!r}, expected {KINDS[kind][0]}")
        if spec.get("group") != "bpfmesh.io":
            errs.append(f"group {spec.get('group')!r}")
        if doc.get("metadata", {}).get("name") != f"{names.get('plural')}.{spec.get('group')}":
            errs.append("metadata.name is not <plural>.<group>")
        if spec.get("scope") != "Namespaced":
            errs.append("not namespaced")
        for n in ("plural", "singular"):
            if not re.fullmatch(r"[a-z][a-z0-9]*", names.get(n, "")):
                errs.append(f"names.{n} is not a lowercase name")
        if names.get("listKind") != f"{kind}List":
            errs.append("listKind is not <kind>List")
        vers = spec.get("versions", [])
        if [v.get("name") for v in vers] != ["v1alpha1"]:
            errs.append("versions are not exactly [v1alpha1]")
        schema = None
        for v in vers:
            if not (v.get("served") is True and v.get("storage") is True):
                errs.append("v1alpha1 is not served and storage")
            schema = v.get("schema", {}).get("openAPIV3Schema")
            if not schema:
                errs.append("no openAPIV3Schema")
                continue
            structural(schema, "openAPIV3Schema", errs)
            props = schema.get("properties", {})
            if props.get("metadata") != {"type": "object"}:
                errs.append("metadata schema must be just {type: object}")
            if props.get("spec", {}).get("type") != "object" or "spec" not in schema.get("required", []):
                errs.append("spec is not a required object")
            for col in v.get("additionalPrinterColumns", []):
                if col.get("type") not in ("integer", "number", "string", "boolean", "date"):
                    errs.append(f"printer column {col.get('name')}: bad type")
                jp = col.get("jsonPath", "")
                if not jp.startswith(".metadata.") and schema_at(schema, jp) is None:
                    errs.append(f"printer column {col.get('name')}: {jp} is not in the schema")
        if kind in crds:
            errs.append(f"second CRD for {kind}")
        if check(not errs, f"{rel}: {kind} is a structural v1 CRD ({doc.get('metadata', {}).get('name')})",
                 "; ".join(errs)):
            crds[kind] = schema
short = [s for p in glob.glob(f"{ROOT}/deploy/crds/*.yaml") for d in yaml.safe_load_all(open(p, encoding="utf-8"))
         if d for s in d["spec"]["names"].get("shortNames", [])]
check(len(short) == len(set(short)) and not set(short) & {"svc", "po", "ns", "ep", "wl"},
      f"short names unique and not core ones ({', '.join(short)})")
check(set(crds) == set(KINDS), "one CRD per kind", f"have {sorted(crds)}")
if FAILS:
    sys.exit(1)

# ---- the API server's view: prune nulls, default, validate, uniqueness, CEL ----
NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def to_jsonschema(node):
    """Kubernetes schema -> JSON Schema: strict objects, list-type set -> uniqueItems."""
    out = {}
    for k, v in node.items():
        if k in ("properties",):
            out[k] = {p: to_jsonschema(s) for p, s in v.items()}
        elif k in ("items", "not") or (k == "additionalProperties" and isinstance(v, dict)):
            out[k] = to_jsonschema(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [to_jsonschema(s) for s in v]
        elif not k.startswith("x-kubernetes-"):
            out[k] = v
    if node.get("type") == "object" and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    return out


def document_schema(kind, schema):
    s = to_jsonschema(schema)
    s["required"] = ["apiVersion", "kind", "metadata", "spec"]
    s["properties"]["apiVersion"] = {"const": "bpfmesh.io/v1alpha1"}
    s["properties"]["kind"] = {"const": kind}
    # What the API server checks of metadata itself (the CRD may not).
    strmap = {"type": "object", "additionalProperties": {"type": "string"}}
    s["properties"]["metadata"] = {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "maxLength": 253, "pattern": NAME_RE},
                       "namespace": {"type": "string", "maxLength": 63, "pattern": LABEL_RE},
                       "labels": strmap, "annotations": strmap}}
    return s


VALIDATORS = {k: jsonschema.Draft7Validator(document_schema(k, s),
                                            format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
              for k, s in crds.items()}


def prune_nulls(v):
    if isinstance(v, dict):
        return {k: prune_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [prune_nulls(x) for x in v]
    return v


def apply_defaults(v, node):
    if isinstance(v, dict):
        for k, sub in node.get("properties", {}).items():
            if k not in v and "default" in sub:
                v[k] = copy.deepcopy(sub["default"])
            if k in v:
                apply_defaults(v[k], sub)
    elif isinstance(v, list) and isinstance(node.get("items"), dict):
        for x in v:
            apply_defaults(x, node["items"])


def k8s_checks(v, node, path, errs):
    """What jsonschema does not do: list-map key uniqueness and CEL rules."""
    for r in node.get("x-kubernetes-validations", []):
        try:
            good = CEL[r["rule"]](v)
        except Exception:  # a CEL runtime error rejects the object too
            good = False
        if not good:
            errs.append(f"{path}: {r['message']}")
    if isinstance(v, dict):
        for k, sub in node.get("properties", {}).items():
            if k in v:
                k8s_checks(v[k], sub, f"{path}.{k}", errs)
    elif isinstance(v, list) and isinstance(node.get("items"), dict):
        if node.get("x-kubernetes-list-type") == "map":
            keys = [tuple(json.dumps(x.get(k)) for k in node["x-kubernetes-list-map-keys"])
                    for x in v if isinstance(x, dict)]
            if len(keys) != len(set(keys)):
                errs.append(f"{path}: duplicate list-map key")
        for i, x in enumerate(v):
            k8s_checks(x, node["items"], f"{path}[{i}]", errs)


def error_path(e):
    """A jsonschema error's field in bpfmesh's spelling: spec.ports[0].port."""
    path = ""
    for p in e.absolute_path:
        path += f"[{p}]" if isinstance(p, int) else (f".{p}" if path else p)
    m = re.match(r"'([^']+)' is a required property", e.message) if e.validator == "required" else \
        re.search(r"\('([^']+)' was unexpected\)", e.message) if e.validator == "additionalProperties" else None
    if m:
        path += f".{m.group(1)}" if path else m.group(1)
    return path


def related(a, b):
    """One field path is the other or contains it."""
    return any(x == y or x.startswith(y + ".") or x.startswith(y + "[") for x, y in ((a, b), (b, a)))


def schema_errors(doc):
    """[] when the API server would accept doc (a parsed YAML document)."""
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in crds:
        return [f"no CRD for kind {kind!r}"]
    obj = prune_nulls(doc)
    apply_defaults(obj, crds[kind])
    errs = [f"{error_path(e)}: {e.message}" for e in VALIDATORS[kind].iter_errors(obj)]
    if not errs:
        k8s_checks(obj["spec"], crds[kind]["properties"]["spec"], "spec", errs)
    return errs


def bpfmesh_validate(path):
    p = subprocess.run([BIN, "validate", path], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def short(errs):
    return "; ".join(errs)[:300]


# ---- 2. examples and the DaemonSet's ConfigMap pass the schemas ----
for path in sorted(glob.glob(f"{ROOT}/deploy/examples/*.yaml")):
    rel = os.path.relpath(path, ROOT)
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        if doc is not None:
            errs = schema_errors(doc)
            check(not errs, f"{rel}: {doc.get('kind')} {doc['metadata']['name']} passes its CRD schema", short(errs))

cm_docs = []
for doc in (d for p in sorted(glob.glob(f"{ROOT}/deploy/kubernetes/*.yaml"))
            for d in yaml.safe_load_all(open(p, encoding="utf-8"))):
    if doc and doc.get("kind") == "ConfigMap":
        for fname, text in sorted(doc.get("data", {}).items()):
            with open(f"{TMP}/{fname}", "w", encoding="utf-8") as f:
                f.write(text)
            rc, out = bpfmesh_validate(f"{TMP}/{fname}")
            check(rc == 0, f"deploy/kubernetes ConfigMap {fname}: bpfmesh validate accepts it", out.strip())
            for d in yaml.safe_load_all(text):
                if d is not None:
                    cm_docs.append(d)
                    errs = schema_errors(d)
                    check(not errs, f"deploy/kubernetes ConfigMap {fname}: {d.get('kind')} {d['metadata']['name']} "
                          "passes its CRD schema", short(errs))
check(cm_docs, "deploy/kubernetes has a ConfigMap with config documents")

# What `kubectl get -o yaml` writes is read as it is (agent/config/config_k8s_*.c).
for path in sorted(glob.glob(f"{ROOT}/tests/unit/data/kubectl-*.yaml")):
    rc, out = bpfmesh_validate(path)
    check(rc == 0, f"{os.path.relpath(path, ROOT)}: bpfmesh validate accepts kubectl's output", out.strip())

# ---- 3. every field the parser knows is in the schema, and no other ----
def schema_names(node, out):
    for k, sub in node.get("properties", {}).items():
        out.add(k)
        schema_names(sub, out)
    if isinstance(node.get("items"), dict):
        schema_names(node["items"], out)
    return out


def schema_paths(node, path, out):
    for k, sub in node.get("properties", {}).items():
        out.add(f"{path}.{k}")
        schema_paths(sub, f"{path}.{k}", out)
    if isinstance(node.get("items"), dict):
        out.add(f"{path}[]")
        schema_paths(node["items"], f"{path}[]", out)
    if isinstance(node.get("additionalProperties"), dict):
        out.add(f"{path}.*")
    return out


def doc_paths(v, node, path, out):
    """The document's field paths, spelled like schema_paths (map keys as *)."""
    if isinstance(v, dict):
        free = isinstance(node.get("additionalProperties"), dict)
        for k, x in v.items():
            p = f"{path}.*" if free else f"{path}.{k}"
            out.add(p)
            doc_paths(x, node.get("properties", {}).get(k, {}), p, out)
    elif isinstance(v, list):
        for x in v:
            out.add(f"{path}[]")
            doc_paths(x, node.get("items", {}), f"{path}[]", out)
    return out


KEY_RE = re.compile(r'(?:F_[A-Z]+\(\s*|\.key\s*=\s*)"([A-Za-z0-9]+)"')
for kind, (_, src) in KINDS.items():
    parser = set(KEY_RE.findall(open(f"{ROOT}/{src}", encoding="utf-8").read()))
    schema = schema_names(crds[kind]["properties"]["spec"], set())
    check(parser == schema, f"{kind}: the schema's field names are the parser's ({src}, {len(parser)} names)",
          f"parser only: {sorted(parser - schema)}, schema only: {sorted(schema - parser)}")

KS = f"{ROOT}/tests/e2e/crds/kitchen-sink.yaml"
rc, out = bpfmesh_validate(KS)
check(rc == 0, "kitchen-sink.yaml: bpfmesh validate accepts it", out.strip())
ks_docs = [d for d in yaml.safe_load_all(open(KS, encoding="utf-8")) if d is not None]
covered = {k: set() for k in KINDS}
for d in ks_docs:
    errs = schema_errors(d)
    check(not errs, f"kitchen-sink.yaml: {d['kind']} {d['metadata']['name']} passes its CRD schema", short(errs))
    if d["kind"] in crds:
        doc_paths(d["spec"], crds[d["kind"]]["properties"]["spec"], "spec", covered[d["kind"]])
for kind in KINDS:
    want = schema_paths(crds[kind]["properties"]["spec"], "spec", set())
    check(covered[kind] == want, f"kitchen-sink.yaml sets every {kind} field path of the schema ({len(want)})",
          f"not set: {sorted(want - covered[kind])}, not in schema: {sorted(covered[kind] - want)}")

# ---- 4. mutations: rejected (or accepted) by both, at the expected field ----
def put(path, value):
    def f(spec):
        *parents, last = path.split(".")
        node = spec
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return f


def drop(path):
    def f(spec):
        *parents, last = path.split(".")
        node = spec
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        del node[int(last) if isinstance(node, list) else last]
    return f


def both(*fs):
    def f(spec):
        for g in fs:
            g(spec)
    return f


def doc_level(fn):
    fn.whole_doc = True
    return fn


S1, S2, TP1, TP2, WL, AP, TEL = ("Service/ks-one", "Service/ks-two", "TrafficPolicy/ks-one", "TrafficPolicy/ks-two",
                                 "Workload/ks-one", "AccessPolicy/ks-one", "Telemetry/default")
TWO_PORTS = [{"name": "a", "port": 80}, {"name": "b", "port": 81}]
# (target, what, change of spec (or of the whole document), field bpfmesh names, or None: valid)
BAD = [
    (S1, "wrong loadBalancer.policy enum", put("loadBalancer.policy", "leastConn"), "spec.loadBalancer.policy"),
    (S1, "protocol SCTP", put("ports.0.protocol", "SCTP"), "spec.ports[0].protocol"),
    (S1, "negative port", put("ports.0.port", -1), "spec.ports[0].port"),
    (S1, "port 0", put("ports.0.port", 0), "spec.ports[0].port"),
    (S1, "port 65536", put("ports.0.port", 65536), "spec.ports[0].port"),
    (S1, "port as a quoted string", put("ports.0.port", "80"), "spec.ports[0].port"),
    (S1, "targetPort 70000", put("ports.0.targetPort", 70000), "spec.ports[0].targetPort"),
    (S1, "ports missing", drop("ports"), "spec.ports"),
    (S1, "addresses missing", drop("addresses"), "spec.addresses"),
    (S1, "empty addresses", put("addresses", []), "spec.addresses"),
    (S1, "17 addresses", put("addresses", [f"127.100.51.{i}" for i in range(17)]), "spec.addresses"),
    (S1, "address 10.0.0.300", put("addresses", ["10.0.0.300"]), "spec.addresses[0]"),
    (S1, "duplicate address", put("addresses", ["127.100.50.1", "127.100.50.1"]), "spec.addresses[1]"),
    (S1, "endpoint address a host name", put("endpoints.0.address", "localhost"), "spec.endpoints[0].address"),
    (S1, "endpoint without address", drop("endpoints.0.address"), "spec.endpoints[0].address"),
    (S1, "endpoint weight 0", put("endpoints.0.weight", 0), "spec.endpoints[0].weight"),
    (S1, "endpoint weight 65536", put("endpoints.0.weight", 65536), "spec.endpoints[0].weight"),
    (S2, "4097 IPv6 endpoints with leastConnections", put("endpoints", [{"address": "::1"}] * 4097), "spec.endpoints"),
    (S1, "4097 IPv4 endpoints", put("endpoints", [{"address": "127.0.0.1"}] * 4097), "spec.endpoints"),
    (S1, "unknown field", put("loadbalancer", {"policy": "random"}), "spec.loadbalancer"),
    (S1, "unknown field in a port", put("ports.0.nodePort", 30080), "spec.ports[0].nodePort"),
    (S1, "duplicate port name", both(drop("endpoints.0.port"), put("ports", [{"name": "a", "port": 80}, {"name": "a", "port": 81}])),
     "spec.ports[1].name"),
    (S1, "duplicate port and protocol", both(drop("endpoints.0.port"), put("ports", [{"port": 80}, {"port": 80, "protocol": "TCP"}])),
     "spec.ports[1]"),
    (S1, "endpoint port with two service ports", put("ports", TWO_PORTS), "spec.endpoints[0].port"),
    (TP1, "service missing", drop("service"), "spec.service"),
    (TP1, "negative maxConnections", put("connectionPool.tcp.maxConnections", -1), "spec.connectionPool.tcp.maxConnections"),
    (TP1, "maxConnections 2^32", put("connectionPool.tcp.maxConnections", 2**32), "spec.connectionPool.tcp.maxConnections"),
    (TP1, "connectTimeout without unit", put("connectionPool.tcp.connectTimeout", "10"), "spec.connectionPool.tcp.connectTimeout"),
    (TP1, "connectTimeout with a space", put("connectionPool.tcp.connectTimeout", "5 s"), "spec.connectionPool.tcp.connectTimeout"),
    (TP1, "connectTimeout in days", put("connectionPool.tcp.connectTimeout", "1d"), "spec.connectionPool.tcp.connectTimeout"),
    (TP1, "negative duration", put("outlierDetection.baseEjectionTime", "-5s"), "spec.outlierDetection.baseEjectionTime"),
    (TP1, "outlier interval 0s", put("outlierDetection.interval", "0s"), "spec.outlierDetection.interval"),
    (TP1, "negative consecutive5xxErrors", put("outlierDetection.consecutive5xxErrors", -1), "spec.outlierDetection.consecutive5xxErrors"),
    (TP1, "maxEjectionPercent 101", put("outlierDetection.maxEjectionPercent", 101), "spec.outlierDetection.maxEjectionPercent"),
    (TP1, "maxEjectionTime shorter than baseEjectionTime", put("outlierDetection.maxEjectionTime", "10s"),
     "spec.outlierDetection.maxEjectionTime"),
    (TP1, "maxEjectionTime shorter than the default base", both(drop("outlierDetection.baseEjectionTime"),
     put("outlierDetection.maxEjectionTime", "20s")), "spec.outlierDetection.maxEjectionTime"),
    (TP1, "terminateConnections as a string", put("outlierDetection.terminateConnections", "yes"),
     "spec.outlierDetection.terminateConnections"),
    (TP1, "failureRateThreshold 0", put("circuitBreaker.failureRateThreshold", 0), "spec.circuitBreaker.failureRateThreshold"),
    (TP1, "failureRateThreshold 100.5", put("circuitBreaker.failureRateThreshold", 100.5), "spec.circuitBreaker.failureRateThreshold"),
    (TP1, "slidingWindowSize 1025", put("circuitBreaker.slidingWindowSize", 1025), "spec.circuitBreaker.slidingWindowSize"),
    (TP1, "minimumNumberOfCalls 0", put("circuitBreaker.minimumNumberOfCalls", 0), "spec.circuitBreaker.minimumNumberOfCalls"),
    (TP1, "waitDurationInOpenState 0", put("circuitBreaker.waitDurationInOpenState", "0"), "spec.circuitBreaker.waitDurationInOpenState"),
    (TP1, "health http path without /", put("healthCheck.http.path", "healthz"), "spec.healthCheck.http.path"),
    (TP1, "health http without path", put("healthCheck.http", {}), "spec.healthCheck.http.path"),
    (TP1, "health http and tcp", put("healthCheck.tcp", {}), "spec.healthCheck"),
    (TP1, "health neither http nor tcp", drop("healthCheck.http"), "spec.healthCheck"),
    (TP1, "health timeout 0ms", put("healthCheck.timeout", "0ms"), "spec.healthCheck.timeout"),
    (TP1, "unhealthyThreshold 0", put("healthCheck.unhealthyThreshold", 0), "spec.healthCheck.unhealthyThreshold"),
    (TP2, "a field in tcp", put("healthCheck.tcp", {"port": 80}), "spec.healthCheck.tcp.port"),
    (TP1, "rateLimit without connectionsPerSecond", drop("rateLimit.connectionsPerSecond"), "spec.rateLimit.connectionsPerSecond"),
    (TP1, "burst 0", put("rateLimit.burst", 0), "spec.rateLimit.burst"),
    (WL, "cgroup missing", drop("cgroup"), "spec.cgroup"),
    (WL, "service missing", drop("service"), "spec.service"),
    (WL, "port 0", put("ports", [0]), "spec.ports[0]"),
    (WL, "ports not a list", put("ports", 18080), "spec.ports"),
    (WL, "interface with a /", put("interfaces", ["eth/0"]), "spec.interfaces[0]"),
    (WL, "interface ..", put("interfaces", [".."]), "spec.interfaces[0]"),
    (WL, "interface name of 16 characters", put("interfaces", ["a" * 16]), "spec.interfaces[0]"),
    (WL, "tracing.instrumented yes", put("tracing.instrumented", "yes"), "spec.tracing.instrumented"),
    (WL, "unknown field in tracing", put("tracing.sampled", "true"), "spec.tracing.sampled"),
    (AP, "action in lowercase", put("action", "allow"), "spec.action"),
    (AP, "action missing", drop("action"), "spec.action"),
    (AP, "from not a list", put("from", "ks-one"), "spec.from"),
    (AP, "from entry naming a workload and a service", put("from", [{"workload": "ks-one", "service": "ks-one"}]),
     "spec.from[0]"),
    (AP, "empty from entry", put("from", [{}]), "spec.from[0]"),
    (AP, "from entry with a bad namespace", put("from", [{"namespace": "K_S"}]), "spec.from[0].namespace"),
    (AP, "from entry with a service in a bad namespace", put("from", [{"service": "a.b/web"}]), "spec.from[0].service"),
    (TEL, "compression zstd", put("otlp.compression", "zstd"), "spec.otlp.compression"),
    (TEL, "endpoint not http(s)", put("otlp.endpoint", "grpc://collector:4317"), "spec.otlp.endpoint"),
    (TEL, "otlp without endpoint", drop("otlp.endpoint"), "spec.otlp.endpoint"),
    (TEL, "header value not a string", put("otlp.headers", {"x-a": {"b": "c"}}), "spec.otlp.headers.x-a"),
    (TEL, "otlp timeout 0", put("otlp.timeout", "0"), "spec.otlp.timeout"),
    (TEL, "metricsInterval below 1s", put("otlp.metricsInterval", "500ms"), "spec.otlp.metricsInterval"),
    (TEL, "certFile without keyFile", drop("otlp.tls.keyFile"), "spec.otlp.tls.keyFile"),
    (TEL, "insecureSkipVerify as a string", put("otlp.tls.insecureSkipVerify", "false"), "spec.otlp.tls.insecureSkipVerify"),
    (TEL, "sampling ratio 1.5", put("sampling.ratio", 1.5), "spec.sampling.ratio"),
    (TEL, "negative sampling ratio", put("sampling.ratio", -0.1), "spec.sampling.ratio"),
    (TEL, "latencyThreshold without unit", put("sampling.latencyThreshold", "250"), "spec.sampling.latencyThreshold"),
    (TEL, "route without /", put("routes", ["api/v1/users/{id}"]), "spec.routes[0]"),
    (TEL, "prometheus listen without host", put("prometheus.listen", "9464"), "spec.prometheus.listen"),
    (TEL, "prometheus listen port 70000", put("prometheus.listen", "0.0.0.0:70000"), "spec.prometheus.listen"),
    (TEL, "prometheus listen port 0", put("prometheus.listen", "0.0.0.0:0"), "spec.prometheus.listen"),
    (S1, "wrong apiVersion", doc_level(lambda d: d.update(apiVersion="bpfmesh.io/v1")), "apiVersion"),
    (S1, "name with capitals", doc_level(lambda d: d["metadata"].update(name="Ks_One")), "metadata.name"),
    (S1, "namespace with a dot", doc_level(lambda d: d["metadata"].update(namespace="k.s")), "metadata.namespace"),
    (S1, "spec missing", doc_level(lambda d: d.pop("spec")), "spec"),
    (S1, "unknown top-level field", doc_level(lambda d: d.update(specs={})), "specs"),
]
GOOD = [
    (WL, "tracing.instrumented auto", put("tracing.instrumented", "auto"), None),
    (S1, "IPv6-only addresses", put("addresses", ["fd00:bf::10", "fd00:bf::11"]), None),
    # ks-one is dual-stack: each family of its addresses needs an endpoint
    (S1, "257 endpoints with maglev",
     put("endpoints", [{"address": "127.0.0.1"}] * 256 + [{"address": "::1"}]), None),
    (S2, "4096 IPv4 and 4096 IPv6 endpoints with leastConnections",
     put("endpoints", [{"address": "127.0.0.2"}] * 4096 + [{"address": "::1"}] * 4096), None),
    (S1, "same port for TCP and UDP", both(drop("endpoints.0.port"), put("ports", [{"port": 53}, {"port": 53, "protocol": "UDP"}])), None),
    (S1, "null loadBalancer (default policy)", put("loadBalancer", None), None),
    (TP1, "durations 1h2m3.5s, +5s, .5s, 1us", both(put("connectionPool.tcp.connectTimeout", "1h2m3.5s"),
     put("outlierDetection.interval", "+5s"), put("healthCheck.timeout", ".5s"), put("healthCheck.interval", "1us")), None),
    (TP1, "connectTimeout \"0\" and baseEjectionTime 0s", both(put("connectionPool.tcp.connectTimeout", "0"),
     put("outlierDetection.baseEjectionTime", "0s")), None),
    (TP1, "maxEjectionTime equal to baseEjectionTime", put("outlierDetection.maxEjectionTime", "30s"), None),
    (TP1, "failureRateThreshold 1.5", put("circuitBreaker.failureRateThreshold", 1.5), None),
    (TP1, "failureRateThreshold 100", put("circuitBreaker.failureRateThreshold", 100), None),
    (TEL, "metricsInterval 1s, latencyThreshold \"0\"", both(put("otlp.metricsInterval", "1s"),
     put("sampling.latencyThreshold", "0")), None),
    (TEL, "prometheus listen [::1]:9464 and :9464", put("prometheus.listen", "[::1]:9464"), None),
    (TEL, "prometheus listen :09464", put("prometheus.listen", ":09464"), None),
    (TEL, "empty tls", put("otlp.tls", {}), None),
]

for i, (target, what, change, field) in enumerate(BAD + GOOD):
    docs = copy.deepcopy(ks_docs)
    doc = next(d for d in docs if f"{d['kind']}/{d['metadata']['name']}" == target)
    if getattr(change, "whole_doc", False):
        change(doc)
    else:
        change(doc["spec"])
    fname = f"{TMP}/mutation-{i}.yaml"
    with open(fname, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(docs, f, allow_unicode=True, sort_keys=False)
    rc, out = bpfmesh_validate(fname)
    errs = schema_errors(doc)
    label = f"{target} {what}"
    if field is None:
        check(rc == 0 and not errs, f"{label}: accepted by bpfmesh and the schema",
              f"bpfmesh rc {rc}: {out.strip()[:200]}; schema: {short(errs)}")
    else:
        named = re.search(r":\d+:\d+: " + re.escape(field) + r"(:| )", out) is not None
        at = [e for e in errs if related(e.split(": ", 1)[0], field)]
        check(rc != 0 and named and at, f"{label}: rejected by bpfmesh and the schema at {field}",
              f"bpfmesh rc {rc}{'' if named else ' without naming ' + field}: {out.strip()[:200]}; "
              f"schema: {short(errs) if errs else 'accepted it'}")

print(f"[{NAME}] PASS" if not FAILS else f"[{NAME}] FAILED ({FAILS} checks)")
sys.exit(1 if FAILS else 0)
EOF
