#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""traces.py: figures on the spans an otlp_receiver printed (one JSON object
per line), for the tests where bpfmesh's spans meet an OpenTelemetry SDK's.

    traces.py FILE chain A B PREFIX    requests PREFIX* into A, which calls B
    traces.py FILE exports A PATH      A's calls to its collector (PATH)
    traces.py FILE nesting S PREFIX    bpfmesh nesting of S's calls
    traces.py FILE injected C A B PREFIX  C (curl, bpfmesh, injection on)
                                       -> A (SDK) -> B: one trace each
    traces.py FILE callee A B PATH     B's bpfmesh SERVER span of A's call

Each prints "key value" lines for the shell test to assert on. A span is
bpfmesh's when its scope is "bpfmesh", else the SDK's; services are named by
resource service.name. New checks are new functions over load()'s spans and
a line in COMMANDS."""
import collections
import json
import sys
from urllib.parse import urlsplit

SERVER, CLIENT = 2, 3


def load(path):
    spans = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            spans.append(json.loads(line))
    return spans


def bpfmesh(s):
    return s.get("scope", {}).get("name") == "bpfmesh"


def service(s):
    return s.get("resource", {}).get("service.name")


def path(s):
    """url.path, or the path of url.full (an SDK's CLIENT span)."""
    a = s.get("attributes", {})
    if "url.path" in a:
        return a["url.path"]
    if "url.full" in a:
        return urlsplit(a["url.full"]).path
    return a.get("http.target", "").split("?")[0]


def root(s):
    return not s.get("parent_span_id", "").strip("0")


def pick(spans, sdk, svc, kind, prefix):
    """path -> spans of one origin (sdk: the SDK's, else bpfmesh's)."""
    out = collections.defaultdict(list)
    for s in spans:
        if bpfmesh(s) != (not sdk) or service(s) != svc or s["kind"] != kind:
            continue
        if path(s).startswith(prefix):
            out[path(s)].append(s)
    return out


def child_of(c, p):
    return c["trace_id"] == p["trace_id"] and c["parent_span_id"] == p["span_id"]


def chain(spans, a, b, prefix):
    """A (with the SDK) serves PREFIX*, calls B (bpfmesh only) with the same
    path: per request, one SDK SERVER and CLIENT span in A, no bpfmesh
    SERVER or CLIENT span of A's, and B's SERVER span under the SDK's
    CLIENT span."""
    sdk_srv = pick(spans, True, a, SERVER, prefix)
    sdk_cli = pick(spans, True, a, CLIENT, prefix)
    bm_srv_a = pick(spans, False, a, SERVER, prefix)
    bm_cli_a = pick(spans, False, a, CLIENT, prefix)
    bm_srv_b = pick(spans, False, b, SERVER, prefix)
    paths = set(sdk_srv) | set(bm_srv_b)
    joined = nested_sdk = one_server = 0
    for p in paths:
        ss, sc, bs = sdk_srv.get(p, []), sdk_cli.get(p, []), bm_srv_b.get(p, [])
        if len(ss) + len(bm_srv_a.get(p, [])) == 1:
            one_server += 1
        if len(ss) == 1 and len(sc) == 1 and child_of(sc[0], ss[0]):
            nested_sdk += 1
        if len(sc) == 1 and len(bs) == 1 and child_of(bs[0], sc[0]):
            joined += 1
    return {
        "requests": len(paths),
        "sdk_server_spans": sum(map(len, sdk_srv.values())),
        "sdk_client_spans": sum(map(len, sdk_cli.values())),
        "sdk_trees": nested_sdk,
        "a_bpfmesh_server_spans": sum(map(len, bm_srv_a.values())),
        "a_bpfmesh_client_spans": sum(map(len, bm_cli_a.values())),
        "b_server_spans": sum(map(len, bm_srv_b.values())),
        "b_under_sdk_client": joined,
        "one_server_span_for_a": one_server,
    }


def traced(spans, a, b, prefix, trace_id, parent):
    """One request sent into A with traceparent (trace_id, parent)."""
    in_trace = [s for s in spans if s["trace_id"] == trace_id and path(s).startswith(prefix)]
    a_srv = [s for s in in_trace if service(s) == a and s["kind"] == SERVER]
    sdk_cli = [s for s in in_trace if service(s) == a and s["kind"] == CLIENT and not bpfmesh(s)]
    b_srv = [s for s in in_trace if service(s) == b and s["kind"] == SERVER]
    return {
        "a_server_spans": len(a_srv),
        "a_server_is_sdk": int(len(a_srv) == 1 and not bpfmesh(a_srv[0])),
        "a_server_under_caller": int(len(a_srv) == 1 and a_srv[0]["parent_span_id"] == parent),
        "b_under_sdk_client": int(len(sdk_cli) == 1 and len(b_srv) == 1 and child_of(b_srv[0], sdk_cli[0])),
    }


def exports(spans, a, collector_path):
    """bpfmesh's spans of A's calls to its collector: roots, and how many
    were made while A served a request (an SDK SERVER span was open)."""
    calls = [s for s in spans if bpfmesh(s) and service(s) == a and s["kind"] == CLIENT
             and path(s) == collector_path]
    serving = [(s["start_unix_ns"], s["end_unix_ns"]) for s in spans
               if not bpfmesh(s) and service(s) == a and s["kind"] == SERVER]
    during = sum(1 for c in calls if any(b <= c["start_unix_ns"] <= e for b, e in serving))
    return {
        "export_calls": len(calls),
        "export_calls_roots": sum(1 for c in calls if root(c)),
        "export_calls_during_requests": during,
    }


def nesting(spans, svc, prefix):
    """S serves PREFIX/N and calls upstream PREFIX/N for it: a CLIENT span
    of S is right when its parent is S's SERVER span of the same path.
    precision: right / with a parent; recall: right / all calls."""
    srv = pick(spans, False, svc, SERVER, prefix)
    cli = pick(spans, False, svc, CLIENT, prefix)
    # a request the server never answered (a client that sent it on a
    # keep-alive connection the server was closing, then again on a new
    # one) made no call: the answered one is the only possible parent
    for p, ss in srv.items():
        answered = [s for s in ss if "http.response.status_code" in s.get("attributes", {})]
        if answered:
            srv[p] = answered
    calls = right = parented = 0
    for p, cs in cli.items():
        for c in cs:
            calls += 1
            if root(c):
                continue
            parented += 1
            ss = srv.get(p, [])
            if len(ss) == 1 and child_of(c, ss[0]):
                right += 1
    return {
        "calls": calls,
        "with_parent": parented,
        "right_parent": right,
        "wrong_parent": parented - right,
        "precision_pct": round(100.0 * right / parented, 2) if parented else 100.0,
        "recall_pct": round(100.0 * right / calls, 2) if calls else 0.0,
    }


def injected(spans, c, a, b, prefix):
    """Injection on: C (no SDK) calls A (with the SDK) for PREFIX*, A calls
    B with the same path. Per request one trace: C's bpfmesh CLIENT span
    (a root, its ids the injected header's) -> A's SDK SERVER span -> A's
    SDK CLIENT span -> B's bpfmesh SERVER span, and nothing else of it."""
    c_cli = pick(spans, False, c, CLIENT, prefix)
    sdk_srv = pick(spans, True, a, SERVER, prefix)
    sdk_cli = pick(spans, True, a, CLIENT, prefix)
    bm_a = [s for s in spans if bpfmesh(s) and service(s) == a and path(s).startswith(prefix)]
    bm_srv_b = pick(spans, False, b, SERVER, prefix)
    paths = set(c_cli) | set(sdk_srv) | set(bm_srv_b)
    one_trace = roots = a_under_c = sdk_tree = b_under = full = 0
    for p in paths:
        cc, ss, sc, bs = c_cli.get(p, []), sdk_srv.get(p, []), sdk_cli.get(p, []), bm_srv_b.get(p, [])
        if len({s["trace_id"] for s in spans if path(s) == p}) == 1:
            one_trace += 1
        ok = [len(cc) == 1 and root(cc[0]),
              len(cc) == 1 and len(ss) == 1 and child_of(ss[0], cc[0]),
              len(ss) == 1 and len(sc) == 1 and child_of(sc[0], ss[0]),
              len(sc) == 1 and len(bs) == 1 and child_of(bs[0], sc[0])]
        roots += ok[0]
        a_under_c += ok[1]
        sdk_tree += ok[2]
        b_under += ok[3]
        full += all(ok)
    return {
        "requests": len(paths),
        "one_trace": one_trace,
        "client_spans_roots": roots,
        "a_sdk_server_under_client": a_under_c,
        "a_sdk_client_under_server": sdk_tree,
        "b_under_sdk_client": b_under,
        "full_chains": full,
        "a_bpfmesh_spans": len(bm_a),
    }


def callee(spans, a, b, p):
    """B's bpfmesh SERVER span(s) of path P, A's SDK CLIENT span of it, and
    what B's span says."""
    bs = [s for s in spans if bpfmesh(s) and service(s) == b and s["kind"] == SERVER and path(s) == p]
    sc = [s for s in spans if not bpfmesh(s) and service(s) == a and s["kind"] == CLIENT and path(s) == p]
    x = bs[0] if len(bs) == 1 else {"attributes": {}}
    at = x["attributes"]
    return {
        "b_spans": len(bs),
        "sdk_client_spans": len(sc),
        "b_under_sdk_client": int(len(bs) == 1 and len(sc) == 1 and child_of(bs[0], sc[0])),
        "trace_id": x.get("trace_id", "-"),
        "status_code": x.get("status_code", "-"),
        "error_type": at.get("error.type", "-"),
        "method": at.get("http.request.method", "-"),
        "method_original": at.get("http.request.method_original", "-"),
        "trace_state": x.get("trace_state") or "-",
    }


COMMANDS = {
    "chain": lambda sp, a: chain(sp, a[0], a[1], a[2]),
    "traced": lambda sp, a: traced(sp, a[0], a[1], a[2], a[3], a[4]),
    "exports": lambda sp, a: exports(sp, a[0], a[1]),
    "nesting": lambda sp, a: nesting(sp, a[0], a[1]),
    "injected": lambda sp, a: injected(sp, a[0], a[1], a[2], a[3]),
    "callee": lambda sp, a: callee(sp, a[0], a[1], a[2]),
}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] not in COMMANDS:
        sys.exit(__doc__)
    for k, v in COMMANDS[sys.argv[2]](load(sys.argv[1]), sys.argv[3:]).items():
        print(k, v)
