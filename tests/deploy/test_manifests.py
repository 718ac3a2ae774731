#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# test_manifests: deploy/kubernetes and `bpfmesh manifests`.
#
# - every file parses, every document is a Kubernetes object in the right
#   namespace, and the fields the agent's pod relies on are spelled as the
#   API has them (a schema of the parts of the pod spec the DaemonSet uses:
#   a misspelt key such as mountPropogation would be dropped by the API
#   server without a word);
# - the objects refer to each other correctly: the binding to the role and
#   the ServiceAccount, the DaemonSet to the ServiceAccount and ConfigMap, its
#   selector to its labels, the PodMonitor to the pods and the named port,
#   the probes to --listen, the metrics port to Telemetry.prometheus.listen;
#   NODE_NAME from the downward API; nothing of /boot;
# - the ClusterRole grants get/list/watch only, on exactly the resources the
#   agent lists and watches (its struct kube_resource tables in agent/, both
#   ways) and on exactly the plurals of deploy/crds;
# - `bpfmesh manifests` prints the files byte for byte, and with --image and
#   --namespace replaces them everywhere and changes nothing else; bad
#   values are refused.
# The CRDs' schemas against deploy/examples and the ConfigMap: test_crds.
import glob
import os
import re
import subprocess
import sys

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bpfmesh")
NAME = "test_manifests"
NS = "bpfmesh-system"
failures = 0


def check(cond, what, detail=""):
    global failures
    if cond:
        print(f"[{NAME}] ok: {what}")
    else:
        failures += 1
        print(f"[{NAME}] FAIL: {what}" + (f": {detail}" if detail else ""))


def files():
    return sorted(glob.glob(f"{ROOT}/deploy/crds/*.yaml")) + sorted(glob.glob(f"{ROOT}/deploy/kubernetes/*.yaml"))


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}

# ---- 1. parse; objects; namespaces ----
docs = []
for path in files():
    rel = os.path.relpath(path, ROOT)
    text = open(path, encoding="utf-8").read()
    check(text.startswith("# SPDX-License-Identifier: Apache-2.0\n"), f"{rel}: SPDX line")
    try:
        ds = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        check(False, f"{rel}: parses", str(e))
        continue
    check(ds, f"{rel}: parses, {len(ds)} documents")
    for d in ds:
        what = f"{rel}: {d.get('kind')} {d.get('metadata', {}).get('name')}"
        check(isinstance(d.get("apiVersion"), str) and isinstance(d.get("kind"), str)
              and isinstance(d.get("metadata", {}).get("name"), str), f"{what}: apiVersion, kind, metadata.name")
        if d["kind"] in CLUSTER_SCOPED:
            check("namespace" not in d["metadata"], f"{what}: cluster-scoped, no namespace")
        elif rel.startswith("deploy/kubernetes/"):
            check(d["metadata"].get("namespace") == NS, f"{what}: namespace {NS}", d["metadata"].get("namespace"))
        docs.append((rel, d))


def one(kind):
    found = [d for _, d in docs if d["kind"] == kind]
    check(len(found) == 1, f"exactly one {kind}", f"{len(found)}")
    return found[0] if found else {}


ns_doc, sa, role, binding = one("Namespace"), one("ServiceAccount"), one("ClusterRole"), one("ClusterRoleBinding")
cm, ds, pm = one("ConfigMap"), one("DaemonSet"), one("PodMonitor")
check(ns_doc.get("metadata", {}).get("name") == NS, f"the Namespace is {NS}")
check(pm.get("apiVersion") == "monitoring.coreos.com/v1", "PodMonitor is monitoring.coreos.com/v1")

# ---- 2. the parts of the pod spec used, as the API spells them ----
def obj(props, required=()):
    return {"type": "object", "properties": props, "additionalProperties": False, "required": list(required)}


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
STRS = {"type": "array", "items": STR}
LABELS = {"type": "object", "additionalProperties": STR}
PROBE = obj({"httpGet": obj({"host": STR, "path": STR, "port": {"type": ["integer", "string"]},
                             "scheme": {"enum": ["HTTP", "HTTPS"]}}, ["port"]),
             "initialDelaySeconds": INT, "periodSeconds": INT, "timeoutSeconds": INT,
             "failureThreshold": INT, "successThreshold": INT}, ["httpGet"])
CONTAINER = obj({
    "name": STR, "image": STR, "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "command": STRS, "args": STRS,
    "env": {"type": "array", "items": obj({"name": STR, "value": STR, "valueFrom": obj({
        "fieldRef": obj({"fieldPath": STR, "apiVersion": STR}, ["fieldPath"])})}, ["name"])},
    "securityContext": obj({"privileged": BOOL, "capabilities": obj({"add": STRS, "drop": STRS})}),
    "ports": {"type": "array", "items": obj({"name": {"type": "string", "maxLength": 15}, "containerPort": INT,
                                             "hostPort": INT, "protocol": {"enum": ["TCP", "UDP", "SCTP"]}},
                                            ["containerPort"])},
    "readinessProbe": PROBE, "livenessProbe": PROBE,
    "resources": obj({"requests": LABELS, "limits": LABELS}),
    "volumeMounts": {"type": "array", "items": obj({
        "name": STR, "mountPath": STR, "readOnly": BOOL,
        "mountPropagation": {"enum": ["None", "HostToContainer", "Bidirectional"]}}, ["name", "mountPath"])},
}, ["name", "image"])
VOLUME = obj({"name": STR, "configMap": obj({"name": STR}, ["name"]),
              "hostPath": obj({"path": STR, "type": {"enum": ["", "DirectoryOrCreate", "Directory", "FileOrCreate",
                                                              "File", "Socket", "CharDevice", "BlockDevice"]}},
                              ["path"])}, ["name"])
POD_SPEC = obj({"serviceAccountName": STR, "hostNetwork": BOOL, "hostPID": BOOL,
                "dnsPolicy": {"enum": ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]},
                "priorityClassName": STR, "terminationGracePeriodSeconds": INT,
                "tolerations": {"type": "array", "items": obj({"operator": {"enum": ["Exists", "Equal"]}, "key": STR,
                                                               "effect": STR, "value": STR})},
                "containers": {"type": "array", "minItems": 1, "items": CONTAINER},
                "volumes": {"type": "array", "items": VOLUME}}, ["containers"])
META = obj({"name": STR, "namespace": STR, "labels": LABELS, "annotations": LABELS})
DS_SCHEMA = obj({"apiVersion": {"const": "apps/v1"}, "kind": {"const": "DaemonSet"}, "metadata": META,
                 "spec": obj({"selector": obj({"matchLabels": LABELS}, ["matchLabels"]),
                              "updateStrategy": obj({"type": {"enum": ["RollingUpdate", "OnDelete"]},
                                                     "rollingUpdate": obj({"maxUnavailable": {"type": ["integer", "string"]}})}),
                              "template": obj({"metadata": META, "spec": POD_SPEC}, ["metadata", "spec"])},
                             ["selector", "template"])}, ["apiVersion", "kind", "metadata", "spec"])
errs = sorted(jsonschema.Draft7Validator(DS_SCHEMA).iter_errors(ds), key=str)
check(not errs, "DaemonSet: every field spelled as the API has it", "; ".join(
    f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errs[:5]))

# ---- 3. the objects agree with each other ----
tmpl = ds.get("spec", {}).get("template", {})
pod = tmpl.get("spec", {})
labels = tmpl.get("metadata", {}).get("labels", {})
sel = ds.get("spec", {}).get("selector", {}).get("matchLabels", {})
check(sel and all(labels.get(k) == v for k, v in sel.items()), "DaemonSet selector matches its pod labels")
check(pod.get("serviceAccountName") == sa.get("metadata", {}).get("name"), "DaemonSet runs as the ServiceAccount")
check(binding.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": role.get("metadata", {}).get("name")}, "binding names the ClusterRole")
check(binding.get("subjects") == [{"kind": "ServiceAccount", "name": sa.get("metadata", {}).get("name"),
                                   "namespace": NS}], "binding's one subject is the ServiceAccount")
pm_sel = pm.get("spec", {}).get("selector", {}).get("matchLabels", {})
check(pm_sel and all(labels.get(k) == v for k, v in pm_sel.items()), "PodMonitor selects the agent's pods")
src = open(f"{ROOT}/agent/cli/cli_cluster_discover.c", encoding="utf-8").read()
m = re.search(r'#define AGENT_SELECTOR "([^"]*)"', src)
want = dict(kv.split("=", 1) for kv in m.group(1).split(",")) if m else {}
check(want and all(labels.get(k) == v for k, v in want.items()) and all(sel.get(k) == v for k, v in want.items()),
      "`services --cluster` selects the DaemonSet's pods by their labels", f"{want} vs {labels}")
c = (pod.get("containers") or [{}])[0]
ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
check([e.get("port") for e in pm.get("spec", {}).get("podMetricsEndpoints", [])] == ["metrics"]
      and "metrics" in ports, "PodMonitor scrapes the container's named port metrics")
tel = [d for t in cm.get("data", {}).values() for d in yaml.safe_load_all(t) if d and d.get("kind") == "Telemetry"]
listen = tel[0].get("spec", {}).get("prometheus", {}).get("listen", "") if tel else ""
check(listen.rsplit(":", 1)[-1] == str(ports.get("metrics")),
      "metrics port is Telemetry.prometheus.listen's", f"{listen} vs {ports.get('metrics')}")
env = {e["name"]: e for e in c.get("env", [])}
check(env.get("NODE_NAME", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "spec.nodeName"}},
      "NODE_NAME comes from the downward API spec.nodeName")
args = c.get("args", [])


def arg(flag):
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


check(c.get("command") == ["/usr/local/bin/bpfmesh"] and args[:1] == ["agent"],
      "container runs /usr/local/bin/bpfmesh agent", f"{c.get('command')} {args[:1]}")
lport = (arg("--listen") or "").rsplit(":", 1)[-1]
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    hg = c.get(probe, {}).get("httpGet", {})
    check(hg.get("path") == path and str(hg.get("port")) == lport and hg.get("host") == "127.0.0.1",
          f"{probe} is GET {path} on --listen", f"{hg} vs {arg('--listen')}")
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
cfg = mounts.get(arg("--config") or "", {})
check(vols.get(cfg.get("name"), {}).get("configMap", {}).get("name") == cm.get("metadata", {}).get("name"),
      "--config is the ConfigMap's mount")
bpf = mounts.get("/sys/fs/bpf", {})
check(vols.get(bpf.get("name"), {}).get("hostPath", {}).get("path") == "/sys/fs/bpf"
      and bpf.get("mountPropagation") == "Bidirectional" and (arg("--bpffs") or "").startswith("/sys/fs/bpf/"),
      "pins under the host's /sys/fs/bpf, propagated back to the host")
cg = mounts.get("/sys/fs/cgroup", {})
check(vols.get(cg.get("name"), {}).get("hostPath", {}).get("path") == "/sys/fs/cgroup"
      and arg("--cgroup") == "/sys/fs/cgroup", "the host's cgroup v2 at --cgroup")
host_paths = [v["hostPath"]["path"] for v in vols.values() if "hostPath" in v]
check(not [p for p in host_paths if p == "/boot" or p.startswith("/boot/")], "no host path of /boot", host_paths)
check(set(host_paths) == {"/sys/fs/bpf", "/sys/fs/cgroup"}, "host paths: /sys/fs/bpf and /sys/fs/cgroup only",
      host_paths)
sc = c.get("securityContext", {})
caps = set(sc.get("capabilities", {}).get("add", []))
check(sc.get("privileged") is True or {"BPF", "NET_ADMIN", "SYS_ADMIN", "PERFMON", "SYS_RESOURCE"} <= caps,
      "privileged, or the capabilities BPF, NET_ADMIN, SYS_ADMIN, PERFMON, SYS_RESOURCE")
check(pod.get("hostNetwork") is True and pod.get("hostPID") is True, "host network and PID")

# ---- 4. RBAC: exactly what the agent asks for ----
granted = set()
for r in role.get("rules", []):
    check(sorted(r.get("verbs", [])) == ["get", "list", "watch"], f"rule {r.get('apiGroups')}: verbs get/list/watch only",
          r.get("verbs"))
    check(not r.get("resourceNames") and not r.get("nonResourceURLs"), f"rule {r.get('apiGroups')}: no names or URLs")
    for g in r.get("apiGroups", []):
        for res in r.get("resources", []):
            check("*" not in (g, res) and "/" not in res, f"rule {g}/{res}: no wildcard, no subresource")
            granted.add((g, res))

crd_plurals = {(d["spec"]["group"], d["spec"]["names"]["plural"]) for _, d in docs
               if d["kind"] == "CustomResourceDefinition"}
check({x for x in granted if x[0] == "bpfmesh.io"} == crd_plurals,
      "the bpfmesh.io rule names exactly the plurals of deploy/crds",
      f"granted {sorted(x for x in granted if x[0] == 'bpfmesh.io')}, CRDs {sorted(crd_plurals)}")
issue = {("", "services"), ("", "pods"), ("", "namespaces"), ("discovery.k8s.io", "endpointslices"),
         ("apps", "replicasets")} | crd_plurals
check(granted == issue, "the ClusterRole is services, endpointslices, pods, namespaces, replicasets and the CRDs",
      f"extra {sorted(granted - issue)}, missing {sorted(issue - granted)}")


def agent_requests():
    """(group, resource) of every struct kube_resource initializer in agent/
    outside agent/kube (which only carries out what it is given). Entries are
    brace groups whose first two strings are the group/version and the
    resource, positional or designated (.group_version, .resource)."""
    found, where = set(), []
    for path in glob.glob(f"{ROOT}/agent/**/*.c", recursive=True):
        if "/agent/kube/" in path:
            continue
        src = re.sub(r"/\*.*?\*/", "", open(path, encoding="utf-8").read(), flags=re.S)
        for m in re.finditer(r"struct\s+kube_resource\s+\w+\s*\[[^\]]*\]\s*=\s*\{", src):
            depth, i, body_start = 1, m.end(), m.end()
            while depth and i < len(src):
                depth += {"{": 1, "}": -1}.get(src[i], 0)
                i += 1
            body = src[body_start:i - 1]
            for entry in re.findall(r"\{([^{}]*)\}", body):
                gv = re.search(r"\.group_version\s*=\s*\"([^\"]*)\"", entry)
                rs = re.search(r"\.resource\s*=\s*\"([^\"]*)\"", entry)
                strs = re.findall(r"\"([^\"]*)\"", entry)
                gv = gv.group(1) if gv else (strs[0] if strs else None)
                rs = rs.group(1) if rs else (strs[1] if len(strs) > 1 else None)
                if gv is not None and rs:
                    found.add((gv.rsplit("/", 1)[0] if "/" in gv else "", rs))
            where.append(os.path.relpath(path, ROOT))
    return found, where


asked, where = agent_requests()
callers = sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/agent/**/*.c", recursive=True)
                 if "/agent/kube/" not in p and "/agent/cli/" not in p
                 and re.search(r"\bkube_start\s*\(", open(p, encoding="utf-8").read()))
if callers and not where:
    check(False, "the agent's resource table can be read", f"{', '.join(callers)} call kube_start, but no "
          "struct kube_resource NAME[] = {...} table was found: teach agent_requests() its form")
elif not where:
    print(f"[{NAME}] SKIP: the agent lists no Kubernetes resources in this tree (no struct kube_resource "
          "table in agent/ outside agent/kube): the ClusterRole is checked against the issue's list only")
else:
    check(asked, f"the agent's resource tables ({', '.join(where)}) name resources")
    check(asked <= granted, "every resource the agent lists and watches is granted",
          f"not granted: {sorted(asked - granted)}")
    check(granted <= asked, "every resource granted is one the agent lists and watches",
          f"granted but never asked: {sorted(granted - asked)}")

# ---- 5. bpfmesh manifests ----
def run(*args):
    p = subprocess.run([BIN, "manifests", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run()
expect = "".join(f"---\n# Source: {os.path.relpath(p, ROOT)}\n" + open(p, encoding="utf-8").read() for p in files())
check(rc == 0 and out == expect, "bpfmesh manifests prints the files, byte for byte, CRDs first",
      f"rc {rc} {err.strip()}; {len(out)} vs {len(expect)} bytes")
plain = [d for d in yaml.safe_load_all(out) if d is not None]
check([d["kind"] for d in plain] == [d["kind"] for _, d in docs], "its documents are the files' documents in order")
kinds = [d["kind"] for d in plain]
check(kinds.index("Namespace") > max(i for i, k in enumerate(kinds) if k == "CustomResourceDefinition")
      and kinds.index("DaemonSet") > kinds.index("ClusterRoleBinding") > kinds.index("ServiceAccount")
      and kinds.index("DaemonSet") > kinds.index("ConfigMap"), "apply order: CRDs, namespace, RBAC, ConfigMap, DaemonSet")

img, ns2 = "registry.example:5000/mesh/bpfmesh:9.9.9@sha256:0123abcd", "mesh-9"
rc, out, err = run("--image", img, "--namespace", ns2)
check(rc == 0, "manifests --image --namespace", err.strip())
check(NS not in out and "bpfmesh:latest" not in out, f"no {NS} and no bpfmesh:latest left anywhere")
subst = [d for d in yaml.safe_load_all(out) if d is not None]
images = [ct["image"] for d in subst if d["kind"] == "DaemonSet" for ct in d["spec"]["template"]["spec"]["containers"]]
check(images == [img], "every container image is --image", images)
for d in subst:
    if d["kind"] not in CLUSTER_SCOPED:
        check(d["metadata"].get("namespace") == ns2, f"{d['kind']} {d['metadata']['name']}: in --namespace")
check([d["metadata"]["name"] for d in subst if d["kind"] == "Namespace"] == [ns2], "the Namespace is --namespace")
check([s.get("namespace") for d in subst if d["kind"] == "ClusterRoleBinding" for s in d["subjects"]] == [ns2],
      "the binding's ServiceAccount is in --namespace")
back = yaml.safe_load_all(out.replace(ns2, NS).replace(img, "bpfmesh:latest"))
check([d for d in back if d is not None] == plain, "nothing else changed")

for bad in (["--namespace", "Mesh"], ["--namespace", "-x"], ["--namespace", "a" * 64], ["--namespace", ""],
            ["--image", "a b"], ["--image", "x\nkind: Secret"], ["--image", "-x"], ["extra"], ["--nope"]):
    rc, out, err = run(*bad)
    check(rc == 2 and out == "" and err, f"manifests {bad!r}: refused with status 2, nothing printed", f"rc {rc}")
rc, out, _ = run("--help")
check(rc == 0 and "--image IMG" in out and "--namespace NS" in out, "manifests --help")

print(f"[{NAME}] {'FAILED (%d checks)' % failures if failures else 'passed'}")
sys.exit(1 if failures else 0)
