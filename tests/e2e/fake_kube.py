#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""fake_kube.py: a Kubernetes API server for the tests, standard library only.

It speaks LIST and WATCH as kube-apiserver does (api-concepts, "Efficient
detection of changes", "Retrieving large results sets in chunks", "Resource
versions"):
  - an MVCC store: every change takes the next resourceVersion (one counter
    for all kinds, as etcd's revision); history older than the compaction
    point is gone (--history events are kept, or POST /compact);
  - LIST: {"kind": "<Kind>List", "apiVersion", "metadata": {"resourceVersion",
    "continue", "remainingItemCount"}, "items"}; built-in kinds' items come
    without kind/apiVersion, custom resources' with them; limit/continue
    paging at one consistent version (the token carries it); resourceVersion
    unset = most recent, "0" = any (served "from the cache": limit ignored,
    unless --rv0-paginates), N = not older than (Exact with a limit or with
    resourceVersionMatch=Exact, 410 Expired once compacted); 504 "Too large
    resource version"; 400 for the combinations the real server refuses;
  - WATCH (watch=true): chunked JSON lines {"type", "object"}; from
    resourceVersion N the events after N, from unset/"0" synthetic ADDED
    events first; too old a version: HTTP 200 and one ERROR event with a
    410 Expired Status (as the watch cache answers), then the end;
    allowWatchBookmarks: BOOKMARK events every --bookmark-interval seconds;
    timeoutSeconds ends the stream cleanly; an object that leaves a
    selector's set arrives as DELETED, one that enters it as ADDED;
  - fieldSelector (metadata.name, metadata.namespace; for pods also
    spec.nodeName, status.phase, ...: others are 400) and labelSelector
    (=, ==, !=, in, notin, exists, !exists);
  - 404 NotFound Status for a resource it does not serve (the bpfmesh.io
    CRDs unless --crds or POST /crds); bearer tokens (--token-file, read at
    every request, or POST /tokens) and TLS with client certificates.

Control interface (JSON over HTTP on --control-port, for the tests):
  POST /apply    an object, or a List of them: create or update (a
                 metadata.uid given at creation is kept)
  POST /delete   {"apiVersion", "kind", "namespace", "name"}
  POST /compact  forget all history: every older resourceVersion is 410
  POST /gone     {"count": N, "mode": "event"|"http"|"continue"}: the next N
                 watches from a resourceVersion get 410 (an ERROR event, or
                 HTTP 410), or the next N list continuations (token expired)
  POST /drop     cut every open watch without ending its stream
  POST /fail     {"code": 500, "seconds": S} or {"code": 500, "count": N}
  POST /stop     stop serving (close the port and every connection)
  POST /start    serve again, same port, same objects
  POST /crds     {"installed": true|false}: the bpfmesh.io kinds
  POST /tokens   {"tokens": ["..."]} accepted bearer tokens; null: no auth
  POST /bookmark a BOOKMARK on every watch that asked for them, now
  GET  /state    resourceVersion, compaction point, open watches (a count,
                 and their resources in "watching"), requests
Start: fake_kube.py --port 0 --control-port 0 --ready-file F; F then holds
"API_PORT CONTROL_PORT".
"""

import argparse
import base64
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# group, version, plural -> kind, namespaced
BUILTIN = {
    ("", "v1", "services"): ("Service", True),
    ("", "v1", "pods"): ("Pod", True),
    ("", "v1", "namespaces"): ("Namespace", False),
    ("", "v1", "nodes"): ("Node", False),
    ("discovery.k8s.io", "v1", "endpointslices"): ("EndpointSlice", True),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True),
}
CRDS = {
    ("bpfmesh.io", "v1alpha1", "services"): ("Service", True),
    ("bpfmesh.io", "v1alpha1", "trafficpolicies"): ("TrafficPolicy", True),
    ("bpfmesh.io", "v1alpha1", "accesspolicies"): ("AccessPolicy", True),
    ("bpfmesh.io", "v1alpha1", "telemetries"): ("Telemetry", True),
    ("bpfmesh.io", "v1alpha1", "workloads"): ("Workload", True),
}
POD_FIELDS = {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
              "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
              "status.podIP", "status.nominatedNodeName"}


def gv_string(group, version):
    return f"{group}/{version}" if group else version


def status(code, reason, message, details=None, metadata=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {},
         "status": "Failure", "message": message, "reason": reason, "code": code}
    if details is not None:
        s["details"] = details
    return s


class ApiError(Exception):
    def __init__(self, code, reason, message, **kw):
        super().__init__(message)
        self.body = status(code, reason, message, **kw)
        self.code = code


# ---- selectors ---------------------------------------------------------------

def field_value(obj, path):
    v = obj
    for part in path.split("."):
        if not isinstance(v, dict):
            return ""
        v = v.get(part)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_field_selector(sel, kind):
    terms = []
    for term in filter(None, (t.strip() for t in sel.split(","))):
        for op in ("!=", "==", "="):
            if op in term:
                k, v = term.split(op, 1)
                break
        else:
            raise ApiError(400, "BadRequest", f'invalid selector: "{sel}"; can\'t understand "{term}"')
        k = k.strip()
        allowed = {"metadata.name", "metadata.namespace"} | (POD_FIELDS if kind == "Pod" else set())
        if k not in allowed:
            raise ApiError(400, "BadRequest", f'field label not supported: {k}')
        terms.append((k, op != "!=", v.strip()))
    return terms


def split_outside_parens(s):
    parts, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(sel):
    reqs = []
    for term in split_outside_parens(sel):
        words = term.split(None, 1)
        if len(words) == 2 and words[1].split(None, 1)[0] in ("in", "notin"):
            key = words[0]
            op, rest = words[1].split(None, 1) if " " in words[1] else (words[1], "")
            rest = rest.strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {term}")
            vals = {v.strip() for v in rest[1:-1].split(",") if v.strip()}
            reqs.append((op, key, vals))
        elif "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append(("notin", k.strip(), {v.strip()}))
        elif "==" in term or "=" in term:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            reqs.append(("in", k.strip(), {v.strip()}))
        elif term.startswith("!"):
            reqs.append(("!exists", term[1:].strip(), None))
        else:
            reqs.append(("exists", term, None))
        if not reqs[-1][1] or any(c in reqs[-1][1] for c in " ()=!"):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term}")
    return reqs


class Selector:
    def __init__(self, ns, fields, labels):
        self.ns, self.fields, self.labels = ns, fields, labels

    def matches(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata", {})
        if self.ns and md.get("namespace") != self.ns:
            return False
        for k, eq, v in self.fields:
            if (field_value(obj, k) == v) != eq:
                return False
        labels = md.get("labels") or {}
        for op, k, vals in self.labels:
            has = k in labels
            if op == "exists" and not has:
                return False
            if op == "!exists" and has:
                return False
            if op == "in" and (not has or labels[k] not in vals):
                return False
            if op == "notin" and has and labels[k] in vals:
                return False
        return True


# ---- the cluster -------------------------------------------------------------

class Watcher:
    def __init__(self, gvr, sel, bookmarks):
        self.gvr, self.sel, self.bookmarks = gvr, sel, bookmarks
        self.queue = []
        self.dropped = False
        self.bookmark_now = False

    def convert(self, etype, obj, prev, rv):
        """the event this watcher sees, as the API server's cacher filters"""
        new_in = self.sel.matches(obj)
        old_in = self.sel.matches(prev)
        if etype == "ADDED":
            return ("ADDED", obj) if new_in else None
        if etype == "DELETED":
            return ("DELETED", obj) if old_in else None
        if new_in and old_in:
            return ("MODIFIED", obj)
        if new_in:
            return ("ADDED", obj)
        if old_in:
            gone = json.loads(json.dumps(prev))
            gone["metadata"]["resourceVersion"] = str(rv)
            return ("DELETED", gone)
        return None


class Cluster:
    def __init__(self, args):
        self.cond = threading.Condition()
        self.rv = 1000
        self.compacted = self.rv
        self.history = args.history
        self.versions = {}  # (gvr, ns, name) -> [(rv, obj or None)]
        self.events = []    # (rv, gvr, type, obj, prev)
        self.watchers = set()
        self.crds = args.crds
        self.tokens = None
        self.token_file = args.token_file
        self.fail_code = 0
        self.fail_until = 0.0
        self.fail_count = 0
        self.gone = {"event": 0, "http": 0, "continue": 0}  # forced 410s to come
        self.rv0_paginates = args.rv0_paginates
        self.requests = []
        self.counts = {}

    def served(self):
        return {**BUILTIN, **(CRDS if self.crds else {})}

    def gvr_of(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for gvr, (k, _) in self.served().items():
            if gvr[0] == group and gvr[1] == version and k == kind:
                return gvr
        raise ApiError(404, "NotFound", f"no kind {kind} in {api_version}")

    def state(self, gvr, at):
        out = []
        for (g, ns, name), vers in self.versions.items():
            if g != gvr:
                continue
            cur = None
            for rv, obj in vers:
                if rv <= at:
                    cur = obj
            if cur is not None:
                out.append(((ns, name), cur))
        out.sort(key=lambda e: e[0])
        return out

    def record(self, etype, gvr, key, stored, obj, prev):
        """one change at self.rv: stored is the new version (None: deleted),
        obj what the event carries"""
        self.versions.setdefault(key, []).append((self.rv, stored))
        self.events.append((self.rv, gvr, etype, obj, prev))
        for w in self.watchers:
            if w.gvr == gvr:
                ev = w.convert(etype, obj, prev, self.rv)
                if ev:
                    w.queue.append(ev)
        # the watch cache holds a bounded window of events
        while len(self.events) > self.history:
            self.compacted = self.events.pop(0)[0]
        self.cond.notify_all()

    def current(self, key):
        vers = self.versions.get(key)
        return vers[-1][1] if vers else None

    def apply(self, obj):
        with self.cond:
            gvr = self.gvr_of(obj.get("apiVersion", ""), obj.get("kind", ""))
            namespaced = self.served()[gvr][1]
            md = obj.setdefault("metadata", {})
            if not md.get("name"):
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            if namespaced:
                md.setdefault("namespace", "default")
            else:
                md.pop("namespace", None)
            key = (gvr, md.get("namespace", ""), md["name"])
            prev = self.current(key)
            self.rv += 1
            md["resourceVersion"] = str(self.rv)
            if prev is None:
                # the real server always picks the UID; a test that names a
                # pod's cgroup after it gives one
                md["uid"] = md.get("uid") or str(uuid.uuid4())
                md["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                md["generation"] = 1
            else:
                pm = prev["metadata"]
                md["uid"] = pm["uid"]
                md["creationTimestamp"] = pm["creationTimestamp"]
                md["generation"] = pm.get("generation", 1) + 1
            # server-side bookkeeping the client is meant to drop
            md["managedFields"] = [{"manager": "fake_kube", "operation": "Apply",
                                    "apiVersion": obj["apiVersion"],
                                    "time": md["creationTimestamp"],
                                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            self.record("MODIFIED" if prev else "ADDED", gvr, key, obj, obj, prev)
            return self.rv

    def delete(self, ref):
        with self.cond:
            gvr = self.gvr_of(ref.get("apiVersion", ""), ref.get("kind", ""))
            ns = ref.get("namespace", "default") if self.served()[gvr][1] else ""
            key = (gvr, ns, ref["name"])
            prev = self.current(key)
            if prev is None:
                raise ApiError(404, "NotFound", f'{ref["kind"]} "{ref["name"]}" not found')
            self.rv += 1
            final = json.loads(json.dumps(prev))
            final["metadata"]["resourceVersion"] = str(self.rv)
            self.record("DELETED", gvr, key, None, final, prev)
            return self.rv

    def compact(self):
        with self.cond:
            self.events.clear()
            self.compacted = self.rv
            for key, vers in self.versions.items():
                self.versions[key] = vers[-1:]

    def drop_watches(self, gvrs=None):
        with self.cond:
            for w in self.watchers:
                if gvrs is None or w.gvr in gvrs:
                    w.dropped = True
            self.cond.notify_all()

    def set_crds(self, installed):
        with self.cond:
            self.crds = installed
            if not installed:
                for key in [k for k in self.versions if k[0] in CRDS]:
                    del self.versions[key]
        if not installed:
            self.drop_watches(set(CRDS))

    def check_token(self, header):
        tokens = self.tokens
        if self.token_file:
            try:
                with open(self.token_file) as f:
                    tokens = {f.read().strip()}
            except OSError:
                tokens = set()
        if tokens is None:
            return True
        return header.startswith("Bearer ") and header[7:].strip() in tokens

    def failing(self):
        with self.cond:
            if self.fail_count > 0:
                self.fail_count -= 1
                return self.fail_code
            if time.monotonic() < self.fail_until:
                return self.fail_code
            return 0

    def log(self, verb, resource, target, code):
        with self.cond:
            self.requests.append({"verb": verb, "resource": resource, "url": target, "code": code})
            del self.requests[:-500]
            k = f"{verb} {resource} {code}"
            self.counts[k] = self.counts.get(k, 0) + 1


# ---- continue tokens (base64 JSON, as the real server's) ----------------------

def encode_continue(rv, key):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": "/".join(key) + "\u0000"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(tok):
    try:
        raw = json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError
        ns, _, name = raw["start"].rstrip("\u0000").partition("/")
        return int(raw["rv"]), (ns, name)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise ApiError(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")


# ---- the API handler ----------------------------------------------------------

def parse_path(path):
    """-> (gvr, namespace or None, name or None), or None when not an API path"""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if len(rest) == 1:
        return (group, version, rest[0]), ns, None
    if len(rest) == 2:
        return (group, version, rest[0]), ns, rest[1]
    return None


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_kube: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        with self.server.conns_lock:
            self.server.conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.conns_lock:
                self.server.conns.discard(self.connection)

    def send_json(self, code, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authenticated(self):
        C = self.server.cluster
        if getattr(self.connection, "getpeercert", None):
            try:
                if self.connection.getpeercert():
                    return True  # a client certificate the CA vouches for
            except (ValueError, ssl.SSLError):
                pass
        return C.check_token(self.headers.get("Authorization", ""))

    def do_GET(self):
        C = self.server.cluster
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.resource = url.path
        self.verb = "WATCH" if q.get("watch") in ("true", "1") else "LIST"
        try:
            if not self.authenticated():
                raise ApiError(401, "Unauthorized", "Unauthorized")
            code = C.failing()
            if code:
                raise ApiError(code, "InternalError" if code == 500 else "ServiceUnavailable",
                               "Internal error occurred: fake_kube fails on purpose")
            if url.path == "/version":
                self.verb = "GET"
                self.send_json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake"})
                C.log(self.verb, self.resource, self.path, 200)
                return
            parsed = parse_path(url.path)
            served = C.served()
            if not parsed or parsed[0] not in served:
                raise ApiError(404, "NotFound", "the server could not find the requested resource",
                               details={})
            gvr, ns, name = parsed
            kind, namespaced = served[gvr]
            self.resource = "/".join(filter(None, gvr))
            if ns is not None and not namespaced:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if name:
                self.verb = "GET"
                self.get_one(gvr, kind, ns, name)
            elif self.verb == "WATCH":
                self.watch(gvr, kind, ns, q)
            else:
                self.list(gvr, kind, ns, q)
        except ApiError as e:
            C.log(self.verb, self.resource, self.path, e.code)
            try:
                self.send_json(e.code, e.body)
            except OSError:
                pass
        except OSError:
            self.close_connection = True

    def selector(self, kind, ns, q):
        fields = parse_field_selector(q.get("fieldSelector", ""), kind)
        labels = parse_label_selector(q.get("labelSelector", ""))
        return Selector(ns, fields, labels)

    def wire(self, gvr, kind, obj, in_list):
        """an object as the server writes it: typed lists drop kind/apiVersion"""
        o = json.loads(json.dumps(obj))
        if in_list and gvr in BUILTIN:
            o.pop("kind", None)
            o.pop("apiVersion", None)
        else:
            o["kind"], o["apiVersion"] = kind, gv_string(gvr[0], gvr[1])
        return o

    def get_one(self, gvr, kind, ns, name):
        C = self.server.cluster
        with C.cond:
            obj = C.current((gvr, ns or "", name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{gvr[2]} "{name}" not found')
        self.send_json(200, self.wire(gvr, kind, obj, False))
        C.log("GET", self.resource, self.path, 200)

    def list(self, gvr, kind, ns, q):
        C = self.server.cluster
        sel = self.selector(kind, ns, q)
        rv_param = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        cont = q.get("continue", "")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "BadRequest", "limit: Invalid value")
        if match and match not in ("Exact", "NotOlderThan"):
            raise ApiError(400, "BadRequest", f'resourceVersionMatch: Unsupported value: "{match}"')
        if match and not rv_param:
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        if match and cont:
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided")
        if match == "Exact" and rv_param == "0":
            raise ApiError(422, "Invalid", 'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        if cont and rv_param not in ("", "0"):
            raise ApiError(400, "BadRequest", "specifying resource version is not allowed when using continue")
        with C.cond:
            start = None
            if cont:
                at, start = decode_continue(cont)
                if C.gone["continue"] > 0:
                    C.gone["continue"] -= 1
                    at = -1  # as if compacted since the first page
                if at < C.compacted:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                                   metadata={"continue": encode_continue(C.rv, start)})
            elif rv_param == "":
                at = C.rv
            elif rv_param == "0":
                at = C.rv
                if not C.rv0_paginates:
                    limit = 0  # the watch cache ignores limit
            else:
                try:
                    n = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resource version: {rv_param}")
                if n > C.rv:
                    raise ApiError(504, "Timeout", f"Too large resource version: {n}, current: {C.rv}",
                                   details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                        "message": "Too large resource version"}],
                                            "retryAfterSeconds": 1})
                if match == "Exact" or (not match and limit):
                    if n < C.compacted:
                        raise ApiError(410, "Expired", "The resourceVersion for the provided list is too old.")
                    at = n
                else:
                    at = C.rv
            items = [(k, o) for k, o in C.state(gvr, at) if sel.matches(o)]
        if start is not None:
            items = [(k, o) for k, o in items if k > start]
        meta = {"resourceVersion": str(at)}
        if limit and len(items) > limit:
            meta["continue"] = encode_continue(at, items[limit - 1][0])
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        C.log("LIST", self.resource, self.path, 200)
        self.send_json(200, {"kind": kind + "List", "apiVersion": gv_string(gvr[0], gvr[1]),
                             "metadata": meta,
                             "items": [self.wire(gvr, kind, o, True) for _, o in items]})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, etype, obj):
        self.chunk(json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n")

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def watch(self, gvr, kind, ns, q):
        C = self.server.cluster
        sel = self.selector(kind, ns, q)
        rv_param = q.get("resourceVersion", "")
        try:
            timeout = int(q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise ApiError(400, "BadRequest", "timeoutSeconds: Invalid value")
        w = Watcher(gvr, sel, q.get("allowWatchBookmarks") in ("true", "1"))
        expired = None
        with C.cond:
            if rv_param in ("", "0"):
                # state first, as synthetic ADDED events
                w.queue = [("ADDED", o) for _, o in C.state(gvr, C.rv) if sel.matches(o)]
            else:
                try:
                    n = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resource version: {rv_param}")
                forced = next((m for m in ("event", "http") if C.gone[m] > 0), None)
                if forced:
                    C.gone[forced] -= 1
                    expired = (forced, f"too old resource version: {n} ({C.compacted + 1})")
                elif n < C.compacted:
                    expired = ("event", f"too old resource version: {n} ({C.compacted + 1})")
                elif n > C.rv:
                    raise ApiError(504, "Timeout", f"Too large resource version: {n}, current: {C.rv}",
                                   details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                        "message": "Too large resource version"}],
                                            "retryAfterSeconds": 1})
                else:
                    for rv, g, etype, obj, prev in C.events:
                        if g == gvr and rv > n:
                            ev = w.convert(etype, obj, prev, rv)
                            if ev:
                                w.queue.append(ev)
            if not expired:
                C.watchers.add(w)
        if expired:
            mode, msg = expired
            if mode == "http":
                raise ApiError(410, "Expired", msg)
            C.log("WATCH", self.resource, self.path, 410)
            self.start_stream()
            self.event("ERROR", status(410, "Expired", msg))
            self.chunk(b"")
            self.close_connection = True
            return
        C.log("WATCH", self.resource, self.path, 200)
        try:
            self.stream(w, gvr, kind, timeout)
        finally:
            with C.cond:
                C.watchers.discard(w)

    def stream(self, w, gvr, kind, timeout):
        C = self.server.cluster
        self.start_stream()
        self.close_connection = True
        end = time.monotonic() + timeout
        next_bookmark = time.monotonic() + C.bookmark_interval
        while True:
            with C.cond:
                while (not w.queue and not w.dropped and not w.bookmark_now
                       and time.monotonic() < min(end, next_bookmark)):
                    C.cond.wait(timeout=max(0.01, min(end, next_bookmark) - time.monotonic()))
                events, w.queue = w.queue, []
                seen, dropped = C.rv, w.dropped
                bookmark_now, w.bookmark_now = w.bookmark_now, False
            if dropped:
                # cut: no terminating chunk, the client sees a broken stream
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            for etype, obj in events:
                self.event(etype, self.wire(gvr, kind, obj, False))
            now = time.monotonic()
            if w.bookmarks and (bookmark_now or (not events and now >= next_bookmark)):
                bm = {"kind": kind, "apiVersion": gv_string(gvr[0], gvr[1]),
                      "metadata": {"resourceVersion": str(seen)}}
                if gvr in BUILTIN:
                    bm["metadata"]["creationTimestamp"] = None
                self.event("BOOKMARK", bm)
            if now >= next_bookmark:
                next_bookmark = now + C.bookmark_interval
            if now >= end:
                self.chunk(b"")  # timeoutSeconds: a clean end
                return


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: an agent opens a list and a watch
    # per resource at once, and a SYN beyond the backlog waits a 1 s
    # retransmission (a real API server listens with the kernel's maximum)
    request_queue_size = 128

    def __init__(self, addr, cluster, tls, verbose):
        self.cluster, self.tls, self.verbose = cluster, tls, verbose
        self.conns, self.conns_lock = set(), threading.Lock()
        super().__init__(addr, ApiHandler)

    def finish_request(self, request, client_address):
        if self.tls:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                if self.verbose:
                    sys.stderr.write(f"fake_kube: TLS handshake: {e}\n")
                return
        try:
            super().finish_request(request, client_address)
        finally:
            if self.tls:
                request.close()

    def cut_all(self):
        with self.conns_lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# ---- the control interface ----------------------------------------------------

class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        C = self.server.main.cluster
        if self.path.startswith("/state"):
            with C.cond:
                self.reply(200, {"resourceVersion": C.rv, "compacted": C.compacted,
                                 "watches": len(C.watchers),
                                 "watching": sorted(w.gvr[2] for w in C.watchers),
                                 "serving": self.server.main.api is not None,
                                 "counts": C.counts, "requests": C.requests})
            return
        self.reply(404, {"error": "unknown"})

    def do_POST(self):
        main = self.server.main
        C = main.cluster
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except json.JSONDecodeError as e:
            self.reply(400, {"error": str(e)})
            return
        path = self.path.split("?")[0]
        try:
            if path == "/apply":
                items = body.get("items") if body.get("kind") == "List" else [body]
                rv = 0
                for o in items:
                    rv = C.apply(o)
                self.reply(200, {"resourceVersion": rv})
            elif path == "/delete":
                self.reply(200, {"resourceVersion": C.delete(body)})
            elif path == "/compact":
                C.compact()
                self.reply(200, {"compacted": C.compacted})
            elif path == "/gone":
                mode = body.get("mode", "event")
                if mode not in C.gone:
                    self.reply(400, {"error": "mode: event, http or continue"})
                    return
                with C.cond:
                    C.gone[mode] = int(body.get("count", 1))
                self.reply(200, {})
            elif path == "/drop":
                C.drop_watches()
                self.reply(200, {})
            elif path == "/fail":
                with C.cond:
                    C.fail_code = int(body.get("code", 500))
                    C.fail_count = int(body.get("count", 0))
                    C.fail_until = time.monotonic() + float(body.get("seconds", 0))
                self.reply(200, {})
            elif path == "/stop":
                main.stop_api()
                self.reply(200, {})
            elif path == "/start":
                main.start_api()
                self.reply(200, {})
            elif path == "/crds":
                C.set_crds(bool(body.get("installed", True)))
                self.reply(200, {})
            elif path == "/tokens":
                with C.cond:
                    t = body.get("tokens")
                    C.tokens = None if t is None else set(t)
                self.reply(200, {})
            elif path == "/bookmark":
                with C.cond:
                    for w in C.watchers:
                        w.bookmark_now = True
                    C.cond.notify_all()
                self.reply(200, {})
            else:
                self.reply(404, {"error": "unknown"})
        except ApiError as e:
            self.reply(e.code, e.body)


class Main:
    def __init__(self, args):
        self.args = args
        self.cluster = Cluster(args)
        self.cluster.bookmark_interval = args.bookmark_interval
        self.tls = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            if args.client_ca:
                ctx.verify_mode = ssl.CERT_OPTIONAL
                ctx.load_verify_locations(args.client_ca)
            self.tls = ctx
        self.port = args.port
        self.api = None
        self.lock = threading.Lock()

    def start_api(self):
        with self.lock:
            if self.api:
                return
            self.api = ApiServer((self.args.address, self.port), self.cluster, self.tls,
                                 self.args.verbose)
            self.port = self.api.server_address[1]
            threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def stop_api(self):
        with self.lock:
            api, self.api = self.api, None
        if not api:
            return
        api.shutdown()
        api.server_close()
        self.cluster.drop_watches()
        api.cut_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--ready-file")
    ap.add_argument("--history", type=int, default=1000, help="events kept for watches")
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--crds", action="store_true", help="serve the bpfmesh.io kinds")
    ap.add_argument("--rv0-paginates", action="store_true",
                    help="honour limit for resourceVersion=0 (a server without watch cache)")
    ap.add_argument("--token-file", help="the accepted bearer token, read at every request")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca", help="accept client certificates signed by this CA")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    m = Main(args)
    m.start_api()
    ctl = ThreadingHTTPServer((args.address, args.control_port), ControlHandler)
    ctl.daemon_threads = True
    ctl.main = m
    line = f"{m.port} {ctl.server_address[1]}"
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.rename(tmp, args.ready_file)
    print(f"fake_kube: api={m.port} control={ctl.server_address[1]}", flush=True)
    try:
        ctl.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
